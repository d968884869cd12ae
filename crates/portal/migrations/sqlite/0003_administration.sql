-- MFA policy (national, with per-organisation overrides), reminder snoozes, and temporary
-- access passes issued by administrators.
CREATE TABLE mfa_policies (
    -- '*' for the national policy, otherwise an organisation code.
    scope                 TEXT PRIMARY KEY,
    required_from         INTEGER,
    -- Comma-separated method kinds; NULL inherits the national setting.
    user_methods          TEXT,
    admin_methods         TEXT,
    reminder_days         INTEGER,
    max_snoozes           INTEGER,
    snooze_days           INTEGER,
    updated_at            INTEGER NOT NULL,
    updated_by            TEXT
);

ALTER TABLE accounts ADD COLUMN mfa_snoozes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN mfa_snoozed_until INTEGER;
CREATE INDEX accounts_display_name ON accounts(display_name);

CREATE TABLE temporary_access_passes (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    issued_by   TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX temporary_access_passes_account ON temporary_access_passes(account_id);

CREATE INDEX audit_events_at ON audit_events(at);
CREATE INDEX audit_events_actor ON audit_events(actor_id, at);

-- The audit trail is append-only: the database itself refuses changes and deletions.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
