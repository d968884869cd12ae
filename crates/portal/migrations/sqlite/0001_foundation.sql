-- Foundation: organisations, accounts, sessions, sign-in limits, audit trail, server secrets.
-- Times are integer seconds since the Unix epoch (UTC); ids are text.
CREATE TABLE organisations (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE accounts (
    id                  TEXT PRIMARY KEY,
    email               TEXT NOT NULL,
    email_normalized    TEXT NOT NULL UNIQUE,
    display_name        TEXT NOT NULL,
    org_code            TEXT NOT NULL REFERENCES organisations(code),
    role                TEXT NOT NULL CHECK (role IN ('user', 'local-admin', 'national-admin')),
    state               TEXT NOT NULL CHECK (state IN ('active', 'disabled')),
    password_hash       TEXT,
    password_changed_at INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX accounts_org ON accounts(org_code);

CREATE TABLE sessions (
    id_hash       TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    auth_methods  TEXT NOT NULL,
    ip            TEXT NOT NULL,
    user_agent    TEXT NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE sign_in_limits (
    limit_key     TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    window_start  INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL
);

CREATE TABLE audit_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             INTEGER NOT NULL,
    event          TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    account_id     TEXT,
    actor_id       TEXT,
    subject        TEXT,
    ip             TEXT,
    user_agent     TEXT,
    reason         TEXT,
    correlation_id TEXT
);
CREATE INDEX audit_events_account ON audit_events(account_id, at);

CREATE TABLE server_secrets (
    name        TEXT PRIMARY KEY,
    value       BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
