-- Lifecycle notifications (issue #15): reminders scheduled per license and stage, the event
-- log, webhook endpoints and their deliveries. Times are Unix seconds, ids UUID text.

-- One row per license and stage, written when the license is issued (or, for the check-in
-- series, pushed later by each check-in). The scheduler turns a due row into an outbox
-- message in one transaction: `state` moves from `scheduled` exactly once.
CREATE TABLE notifications (
    id            TEXT PRIMARY KEY,
    license_id    TEXT NOT NULL CONSTRAINT notifications_license_fkey REFERENCES licenses (id),
    series        TEXT NOT NULL CONSTRAINT notifications_series_check CHECK (series IN ('expiry', 'checkin', 'desk')),
    stage         TEXT NOT NULL,
    due_at        BIGINT NOT NULL,
    recipient     TEXT NOT NULL,
    deployment_id TEXT,
    state         TEXT NOT NULL CONSTRAINT notifications_state_check CHECK (state IN ('scheduled', 'queued', 'skipped', 'cancelled')),
    outbox_id     TEXT,
    decided_at    BIGINT,
    CONSTRAINT notifications_license_stage_key UNIQUE (license_id, stage)
);
CREATE INDEX notifications_due ON notifications (state, due_at);

-- Every event, as the JSON body its webhook deliveries carry.
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX events_occurred ON events (occurred_at DESC, id DESC);

CREATE TABLE webhook_endpoints (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,
    description TEXT NOT NULL,
    state       TEXT NOT NULL CONSTRAINT webhook_endpoints_state_check CHECK (state IN ('active', 'dead')),
    dead_since  BIGINT,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);

-- One delivery per event and endpoint, leased to one worker at a time like the mail outbox.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL CONSTRAINT webhook_deliveries_event_fkey REFERENCES events (id),
    endpoint_id     TEXT NOT NULL CONSTRAINT webhook_deliveries_endpoint_fkey REFERENCES webhook_endpoints (id),
    event_type      TEXT NOT NULL,
    state           TEXT NOT NULL CONSTRAINT webhook_deliveries_state_check CHECK (state IN ('pending', 'sending', 'delivered', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT,
    last_status     BIGINT,
    last_latency_ms BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT,
    CONSTRAINT webhook_deliveries_event_endpoint_key UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC);

-- The delivery log: one row per attempt.
CREATE TABLE webhook_attempts (
    id          BIGSERIAL PRIMARY KEY,
    delivery_id TEXT NOT NULL CONSTRAINT webhook_attempts_delivery_fkey REFERENCES webhook_deliveries (id),
    at          BIGINT NOT NULL,
    status      BIGINT,
    latency_ms  BIGINT NOT NULL,
    error       TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id DESC);
