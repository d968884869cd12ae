-- Passkeys and authentication strength (issue 23). A passkey is a FIDO2 method registered as
-- a discoverable credential with user verification; the authenticator's model (AAGUID) is kept
-- for the allow and deny lists and the Self-Service list.
ALTER TABLE mfa_methods ADD COLUMN passkey BIGINT NOT NULL DEFAULT 0;
ALTER TABLE mfa_methods ADD COLUMN aaguid TEXT;
-- The strength rules, per scope like the rest of the policy: NULL follows the national policy
-- (or the default). AAGUID lists are comma-separated; an empty string is an empty list.
ALTER TABLE mfa_policies ADD COLUMN passkey_sign_in BIGINT;
ALTER TABLE mfa_policies ADD COLUMN synced_passkeys BIGINT;
ALTER TABLE mfa_policies ADD COLUMN admin_device_bound BIGINT;
ALTER TABLE mfa_policies ADD COLUMN aaguid_allow TEXT;
ALTER TABLE mfa_policies ADD COLUMN aaguid_deny TEXT;
ALTER TABLE mfa_policies ADD COLUMN system_preferred BIGINT;
