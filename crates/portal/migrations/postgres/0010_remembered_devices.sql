-- "Don't ask again on this device": a device token per browser, stored only as a hash, and
-- how long the policy lets it last for users and for administrators (0 = not offered).
CREATE TABLE remembered_devices (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL,
    user_agent   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX remembered_devices_account ON remembered_devices(account_id);

ALTER TABLE mfa_policies ADD COLUMN remember_days_user BIGINT;
ALTER TABLE mfa_policies ADD COLUMN remember_days_admin BIGINT;
