-- Whether administrators must use the NHSmal Authenticator (push) as their default method
-- (issue 21): NULL follows the national policy (or the default, no).
ALTER TABLE mfa_policies ADD COLUMN admin_push_default BIGINT;
