-- Multi-factor authentication: methods, one-time codes, pending approvals, send limits, and
-- the second-factor stage of a session.
CREATE TABLE mfa_methods (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('totp', 'sms', 'voice', 'fido2')),
    name           TEXT NOT NULL,
    phone          TEXT,
    secret         BLOB,
    credential     TEXT,
    credential_id  TEXT UNIQUE,
    last_totp_step INTEGER,
    is_default     INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER
);
CREATE INDEX mfa_methods_account ON mfa_methods(account_id);

CREATE TABLE verification_codes (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    session_hash TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    phone        TEXT NOT NULL,
    code_hash    TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX verification_codes_session ON verification_codes(session_hash);

CREATE TABLE approvals (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    session_hash  TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    channel       TEXT NOT NULL,
    phone         TEXT,
    keypad_hash   TEXT NOT NULL UNIQUE,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
    expires_at    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    decided_at    INTEGER
);
CREATE INDEX approvals_session ON approvals(session_hash);

CREATE TABLE message_sends (
    send_key TEXT NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX message_sends_key ON message_sends(send_key, at);

ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'signed_in';
ALTER TABLE sessions ADD COLUMN flow TEXT;
ALTER TABLE sessions ADD COLUMN second_factor_at INTEGER;
