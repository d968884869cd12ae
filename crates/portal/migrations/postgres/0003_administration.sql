-- MFA policy (national, with per-organisation overrides), reminder snoozes, and temporary
-- access passes issued by administrators.
CREATE TABLE mfa_policies (
    -- '*' for the national policy, otherwise an organisation code.
    scope                 TEXT PRIMARY KEY,
    required_from         BIGINT,
    -- Comma-separated method kinds; NULL inherits the national setting.
    user_methods          TEXT,
    admin_methods         TEXT,
    reminder_days         BIGINT,
    max_snoozes           BIGINT,
    snooze_days           BIGINT,
    updated_at            BIGINT NOT NULL,
    updated_by            TEXT
);

ALTER TABLE accounts ADD COLUMN mfa_snoozes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN mfa_snoozed_until BIGINT;
CREATE INDEX accounts_display_name ON accounts(display_name);

CREATE TABLE temporary_access_passes (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    issued_by   TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX temporary_access_passes_account ON temporary_access_passes(account_id);

CREATE INDEX audit_events_at ON audit_events(at);
CREATE INDEX audit_events_actor ON audit_events(actor_id, at);

-- The audit trail is append-only: the database itself refuses changes and deletions.
CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
