-- Deployments and their check-ins. `deployments` keeps one summary row per deployment,
-- updated by each check-in, so listing deployments never scans the check-in history;
-- `checkins` is the history, read a page at a time per deployment.

CREATE TABLE deployments (
    id              TEXT PRIMARY KEY,
    first_seen_at   BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    product_version TEXT NOT NULL,
    active_users    BIGINT NOT NULL,
    license_ids     TEXT NOT NULL,
    user_limit      BIGINT,
    over_seat_limit BOOLEAN NOT NULL,
    trial           BOOLEAN NOT NULL,
    account_id      TEXT,
    checkins        BIGINT NOT NULL
);
CREATE INDEX deployments_last_seen ON deployments (last_seen_at DESC, id DESC);
CREATE INDEX deployments_account ON deployments (account_id, last_seen_at DESC);

CREATE TABLE checkins (
    id              BIGSERIAL PRIMARY KEY,
    deployment_id   TEXT NOT NULL CONSTRAINT checkins_deployment_fkey REFERENCES deployments (id),
    at              BIGINT NOT NULL,
    active_users    BIGINT NOT NULL,
    product_version TEXT NOT NULL,
    license_ids     TEXT NOT NULL,
    client_address  TEXT
);
CREATE INDEX checkins_deployment ON checkins (deployment_id, id DESC);

-- Which deployments each license was reported from: the overuse flag counts them.
CREATE TABLE license_deployments (
    license_id    TEXT NOT NULL CONSTRAINT license_deployments_license_fkey REFERENCES licenses (id),
    deployment_id TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    PRIMARY KEY (license_id, deployment_id)
);
