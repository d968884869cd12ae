-- Push approval from the NHSmal Authenticator (issue 21): a method kind 'push' (bit 16 of
-- accounts.mfa_method_kinds), pairings of new devices, and the push fields of an approval.
ALTER TABLE mfa_methods DROP CONSTRAINT mfa_methods_kind_check;
ALTER TABLE mfa_methods ADD CONSTRAINT mfa_methods_kind_check
    CHECK (kind IN ('totp', 'sms', 'voice', 'fido2', 'push'));

CREATE OR REPLACE FUNCTION accounts_refresh_mfa_summary(account TEXT) RETURNS void AS $$
BEGIN
    -- Lock the account first: the UPDATE below then takes its snapshot after any other
    -- transaction changing this account's methods has committed (READ COMMITTED), so two
    -- methods added at once cannot leave a summary that misses one.
    PERFORM 1 FROM accounts WHERE id = account FOR UPDATE;
    UPDATE accounts SET
        mfa_first_method_at = (SELECT MIN(m.created_at) FROM mfa_methods m WHERE m.account_id = account),
        mfa_method_kinds = (SELECT COALESCE(SUM(DISTINCT CASE m.kind WHEN 'totp' THEN 1 WHEN 'sms' THEN 2
            WHEN 'voice' THEN 4 WHEN 'fido2' THEN 8 WHEN 'push' THEN 16 ELSE 0 END), 0)
            FROM mfa_methods m WHERE m.account_id = account)
    WHERE id = account;
END;
$$ LANGUAGE plpgsql;

ALTER TABLE approvals ADD COLUMN device_id TEXT;
ALTER TABLE approvals ADD COLUMN number TEXT;
ALTER TABLE approvals ADD COLUMN nonce TEXT;
ALTER TABLE approvals ADD COLUMN context TEXT;
ALTER TABLE approvals ADD COLUMN silent BIGINT NOT NULL DEFAULT 0;
CREATE INDEX approvals_device ON approvals(device_id, status);
CREATE INDEX approvals_account ON approvals(account_id, created_at);

-- A device being paired: the activation code's keyed hash (single use: the claim is one
-- conditional update), then the device's key and the first test request.
CREATE TABLE push_pairings (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    session_hash TEXT NOT NULL,
    code_hash    TEXT NOT NULL UNIQUE,
    status       TEXT NOT NULL CHECK (status IN ('waiting', 'claimed', 'done')),
    device_id    TEXT UNIQUE,
    device_name  TEXT,
    credential   TEXT,
    secret       BYTEA,
    approval_id  TEXT,
    method_id    TEXT,
    expires_at   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX push_pairings_session ON push_pairings(session_hash);
