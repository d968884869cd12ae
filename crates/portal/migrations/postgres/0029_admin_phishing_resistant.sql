-- Whether the admin area needs a phishing-resistant sign-in, a security key (issue 23): NULL
-- follows the national policy (or the default, no).
ALTER TABLE mfa_policies ADD COLUMN admin_phishing_resistant BIGINT;
