-- Accounts, licenses, revocations, admin tokens, the audit log and idempotency keys.
-- Times are Unix seconds (BIGINT), ids are UUID text: the same SQL then runs on SQLite.

CREATE TABLE accounts (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    email            TEXT NOT NULL,
    account_type     TEXT NOT NULL,
    license_sequence BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL
);
CREATE INDEX accounts_created ON accounts (created_at DESC, id DESC);

CREATE TABLE licenses (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL CONSTRAINT licenses_account_fkey REFERENCES accounts (id),
    email          TEXT NOT NULL,
    email_lower    TEXT NOT NULL,
    token          TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    feature_set    TEXT NOT NULL,
    features       TEXT NOT NULL,
    user_limit     BIGINT,
    deployment_ids TEXT NOT NULL,
    trial          BOOLEAN NOT NULL,
    evaluation     BOOLEAN NOT NULL,
    sequence       BIGINT NOT NULL,
    starts_at      BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    grace_ends_at  BIGINT NOT NULL,
    issued_at      BIGINT NOT NULL,
    issued_by      TEXT NOT NULL,
    status         TEXT NOT NULL CONSTRAINT licenses_status_check CHECK (status IN ('active', 'revoked', 'superseded')),
    revoked_at     BIGINT,
    revoke_reason  TEXT,
    supersedes     TEXT CONSTRAINT licenses_supersedes_fkey REFERENCES licenses (id),
    CONSTRAINT licenses_account_sequence_key UNIQUE (account_id, sequence),
    CONSTRAINT licenses_term_check CHECK (starts_at <= expires_at AND expires_at <= grace_ends_at)
);
CREATE INDEX licenses_issued ON licenses (issued_at DESC, id DESC);
CREATE INDEX licenses_account ON licenses (account_id, issued_at DESC);
CREATE INDEX licenses_email ON licenses (email_lower);

CREATE TABLE revocations (
    sequence   INTEGER PRIMARY KEY AUTOINCREMENT,
    license_id TEXT NOT NULL CONSTRAINT revocations_license_key UNIQUE REFERENCES licenses (id),
    revoked_at BIGINT NOT NULL,
    reason     TEXT NOT NULL
);

CREATE TABLE admin_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL CONSTRAINT admin_tokens_name_key UNIQUE,
    token_hash   TEXT NOT NULL CONSTRAINT admin_tokens_hash_key UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    details TEXT NOT NULL
);

CREATE TABLE idempotency_keys (
    actor        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    license_id   TEXT REFERENCES licenses (id),
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (actor, key)
);
