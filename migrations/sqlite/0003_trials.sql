-- Free trials, the evaluation program that waives trial rules, and the per-domain rows that
-- serialize trial requests of one email domain (the domain limit is counted under that lock).

CREATE TABLE evaluations (
    id            TEXT PRIMARY KEY,
    account_id    TEXT CONSTRAINT evaluations_account_fkey REFERENCES accounts (id),
    email_key     TEXT,
    email_domain  TEXT,
    reason        TEXT NOT NULL,
    approved_by   TEXT NOT NULL,
    starts_at     BIGINT NOT NULL,
    ends_at       BIGINT NOT NULL,
    waives        TEXT NOT NULL,
    max_term_days BIGINT,
    user_limit    BIGINT,
    created_at    BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    ended_at      BIGINT,
    ended_by      TEXT,
    end_reason    TEXT,
    CONSTRAINT evaluations_one_subject_check CHECK (
        (CASE WHEN account_id IS NULL THEN 0 ELSE 1 END)
        + (CASE WHEN email_key IS NULL THEN 0 ELSE 1 END)
        + (CASE WHEN email_domain IS NULL THEN 0 ELSE 1 END) = 1),
    CONSTRAINT evaluations_period_check CHECK (starts_at < ends_at)
);
CREATE INDEX evaluations_account ON evaluations (account_id);
CREATE INDEX evaluations_email ON evaluations (email_key);
CREATE INDEX evaluations_domain ON evaluations (email_domain);
CREATE INDEX evaluations_created ON evaluations (created_at DESC, id DESC);

CREATE TABLE trial_domains (
    domain     TEXT PRIMARY KEY,
    touched_at BIGINT NOT NULL
);

CREATE TABLE trials (
    id               TEXT PRIMARY KEY,
    email            TEXT NOT NULL,
    email_key        TEXT NOT NULL,
    email_domain     TEXT NOT NULL,
    first_name       TEXT NOT NULL,
    last_name        TEXT NOT NULL,
    company          TEXT NOT NULL,
    country          TEXT NOT NULL,
    developers       TEXT NOT NULL,
    deployment_id    TEXT NOT NULL,
    product_version  TEXT NOT NULL,
    client_address   TEXT,
    requested_at     BIGINT NOT NULL,
    outcome          TEXT NOT NULL CONSTRAINT trials_outcome_check CHECK (outcome IN ('granted', 'refused')),
    refusal_code     TEXT,
    refusal_message  TEXT,
    license_id       TEXT CONSTRAINT trials_license_fkey REFERENCES licenses (id),
    account_id       TEXT CONSTRAINT trials_account_fkey REFERENCES accounts (id),
    evaluation_id    TEXT CONSTRAINT trials_evaluation_fkey REFERENCES evaluations (id),
    expires_at       BIGINT,
    -- Set to the deployment id / email key when the once-ever rule applies to a granted trial;
    -- NULL when refused or waived. Unique: the database, not the application, holds the rule.
    deployment_slot  TEXT CONSTRAINT trials_deployment_slot_key UNIQUE,
    email_slot       TEXT CONSTRAINT trials_email_slot_key UNIQUE
);
CREATE INDEX trials_requested ON trials (requested_at DESC, id DESC);
CREATE INDEX trials_domain ON trials (email_domain, outcome, requested_at);
CREATE INDEX trials_email ON trials (email_key);
CREATE INDEX trials_deployment ON trials (deployment_id);
