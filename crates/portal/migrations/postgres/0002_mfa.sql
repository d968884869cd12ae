-- Multi-factor authentication: methods, one-time codes, pending approvals, send limits, and
-- the second-factor stage of a session.
CREATE TABLE mfa_methods (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('totp', 'sms', 'voice', 'fido2')),
    name           TEXT NOT NULL,
    phone          TEXT,
    secret         BYTEA,
    credential     TEXT,
    credential_id  TEXT UNIQUE,
    last_totp_step BIGINT,
    is_default     BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT
);
CREATE INDEX mfa_methods_account ON mfa_methods(account_id);

CREATE TABLE verification_codes (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    session_hash TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    phone        TEXT NOT NULL,
    code_hash    TEXT NOT NULL,
    attempts     BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT,
    created_at   BIGINT NOT NULL
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
    expires_at    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    decided_at    BIGINT
);
CREATE INDEX approvals_session ON approvals(session_hash);

CREATE TABLE message_sends (
    send_key TEXT NOT NULL,
    at       BIGINT NOT NULL
);
CREATE INDEX message_sends_key ON message_sends(send_key, at);

ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'signed_in';
ALTER TABLE sessions ADD COLUMN flow TEXT;
ALTER TABLE sessions ADD COLUMN second_factor_at BIGINT;
