-- Push approval from the NHSmal Authenticator (issue 21): a method kind 'push', pairings of
-- new devices, and the push fields of an approval. SQLite cannot change a CHECK constraint in
-- place, so mfa_methods is rebuilt with its rows, index and summary triggers (push is bit 16
-- of accounts.mfa_method_kinds).
CREATE TABLE mfa_methods_new (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('totp', 'sms', 'voice', 'fido2', 'push')),
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
INSERT INTO mfa_methods_new (id, account_id, kind, name, phone, secret, credential,
        credential_id, last_totp_step, is_default, created_at, last_used_at)
    SELECT id, account_id, kind, name, phone, secret, credential, credential_id,
        last_totp_step, is_default, created_at, last_used_at FROM mfa_methods;
DROP TABLE mfa_methods;
ALTER TABLE mfa_methods_new RENAME TO mfa_methods;
CREATE INDEX mfa_methods_account ON mfa_methods(account_id);

CREATE TRIGGER mfa_methods_summary_insert AFTER INSERT ON mfa_methods
BEGIN
    UPDATE accounts SET
        mfa_first_method_at = (SELECT MIN(m.created_at) FROM mfa_methods m WHERE m.account_id = accounts.id),
        mfa_method_kinds = (SELECT COALESCE(SUM(DISTINCT CASE m.kind WHEN 'totp' THEN 1 WHEN 'sms' THEN 2
            WHEN 'voice' THEN 4 WHEN 'fido2' THEN 8 WHEN 'push' THEN 16 ELSE 0 END), 0)
            FROM mfa_methods m WHERE m.account_id = accounts.id)
    WHERE id = NEW.account_id;
END;

CREATE TRIGGER mfa_methods_summary_delete AFTER DELETE ON mfa_methods
BEGIN
    UPDATE accounts SET
        mfa_first_method_at = (SELECT MIN(m.created_at) FROM mfa_methods m WHERE m.account_id = accounts.id),
        mfa_method_kinds = (SELECT COALESCE(SUM(DISTINCT CASE m.kind WHEN 'totp' THEN 1 WHEN 'sms' THEN 2
            WHEN 'voice' THEN 4 WHEN 'fido2' THEN 8 WHEN 'push' THEN 16 ELSE 0 END), 0)
            FROM mfa_methods m WHERE m.account_id = accounts.id)
    WHERE id = OLD.account_id;
END;

CREATE TRIGGER mfa_methods_summary_update AFTER UPDATE OF account_id, kind, created_at ON mfa_methods
BEGIN
    UPDATE accounts SET
        mfa_first_method_at = (SELECT MIN(m.created_at) FROM mfa_methods m WHERE m.account_id = accounts.id),
        mfa_method_kinds = (SELECT COALESCE(SUM(DISTINCT CASE m.kind WHEN 'totp' THEN 1 WHEN 'sms' THEN 2
            WHEN 'voice' THEN 4 WHEN 'fido2' THEN 8 WHEN 'push' THEN 16 ELSE 0 END), 0)
            FROM mfa_methods m WHERE m.account_id = accounts.id)
    WHERE id IN (OLD.account_id, NEW.account_id);
END;

ALTER TABLE approvals ADD COLUMN device_id TEXT;
ALTER TABLE approvals ADD COLUMN number TEXT;
ALTER TABLE approvals ADD COLUMN nonce TEXT;
ALTER TABLE approvals ADD COLUMN context TEXT;
ALTER TABLE approvals ADD COLUMN silent INTEGER NOT NULL DEFAULT 0;
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
    secret       BLOB,
    approval_id  TEXT,
    method_id    TEXT,
    expires_at   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX push_pairings_session ON push_pairings(session_hash);
