-- Rollout exceptions (issue 24): a person signs in with the password alone, where the MFA
-- rollout would require a method, until ends_at (or until ended_at, when one is ended early
-- or replaced by a renewal). Kept after they end: the national administrator sees who has
-- been renewed more than twice.
CREATE TABLE mfa_exceptions (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    reason     TEXT NOT NULL,
    note       TEXT NOT NULL,
    granted_by TEXT,
    starts_at  BIGINT NOT NULL,
    ends_at    BIGINT NOT NULL,
    ended_at   BIGINT
);
CREATE INDEX mfa_exceptions_account ON mfa_exceptions(account_id, starts_at);
CREATE INDEX mfa_exceptions_live ON mfa_exceptions(ends_at) WHERE ended_at IS NULL;
-- Trusted networks (issue 24), per scope like the rest of the policy: NULL follows the
-- national policy (off by default). CIDR lists are comma-separated; an empty string is none.
ALTER TABLE mfa_policies ADD COLUMN trusted_networks TEXT;
ALTER TABLE mfa_policies ADD COLUMN trusted_network_mode TEXT;
