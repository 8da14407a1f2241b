-- The email outbox: messages are written here in the transaction that issues the license,
-- and delivered by workers that lease one row at a time.

CREATE TABLE outbox (
    id                   TEXT PRIMARY KEY,
    kind                 TEXT NOT NULL,
    license_id           TEXT CONSTRAINT outbox_license_fkey REFERENCES licenses (id),
    sender               TEXT NOT NULL,
    recipient            TEXT NOT NULL,
    subject              TEXT NOT NULL,
    message_id           TEXT NOT NULL CONSTRAINT outbox_message_id_key UNIQUE,
    raw                  TEXT NOT NULL,
    state                TEXT NOT NULL CONSTRAINT outbox_state_check CHECK (state IN ('pending', 'sending', 'sent', 'dead')),
    attempts             BIGINT NOT NULL DEFAULT 0,
    next_attempt_at      BIGINT NOT NULL,
    lease_owner          TEXT,
    last_error           TEXT,
    last_error_permanent BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           BIGINT NOT NULL,
    sent_at              BIGINT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_created ON outbox (created_at DESC, id DESC);
CREATE INDEX outbox_license ON outbox (license_id);
