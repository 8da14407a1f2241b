-- The web console (issue 14): people with passwords and roles, their sessions, and a role
-- for every admin API token (existing tokens keep full rights: admin).
ALTER TABLE admin_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'
    CONSTRAINT admin_tokens_role_check CHECK (role IN ('viewer', 'desk', 'admin'));

CREATE TABLE console_users (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL CONSTRAINT console_users_name_key UNIQUE,
    role          TEXT NOT NULL CONSTRAINT console_users_role_check CHECK (role IN ('viewer', 'desk', 'admin')),
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);

-- tower-sessions records, one row a session; user_name lets an admin end a person's sessions.
CREATE TABLE console_sessions (
    id         TEXT PRIMARY KEY,
    user_name  TEXT,
    data       TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_user_idx ON console_sessions (user_name);
CREATE INDEX console_sessions_expiry_idx ON console_sessions (expires_at);
