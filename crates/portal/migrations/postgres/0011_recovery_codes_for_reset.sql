-- Whether a recovery code counts as one of the methods a password reset needs
-- (1 yes, 0 no, NULL follows the national policy; the default is no).
ALTER TABLE mfa_policies ADD COLUMN recovery_codes_for_reset BIGINT;
