-- The strength every sign-in to an app must reach (issue 23: nhsmal client add --require-acr).
ALTER TABLE oidc_clients ADD COLUMN require_acr TEXT;
