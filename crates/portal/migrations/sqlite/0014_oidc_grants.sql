-- OpenID Connect grants: authorization codes (60 s, single use), the grant a code starts (the
-- chain of tokens from one sign-in at one app), access and refresh tokens (opaque, stored
-- only as SHA-256), and consents to third-party apps.
CREATE TABLE oidc_grants (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    auth_time   INTEGER NOT NULL,
    amr         TEXT NOT NULL,
    acr         TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    -- the refresh chain's absolute end
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX oidc_grants_account ON oidc_grants(account_id);

CREATE TABLE oidc_codes (
    code_hash             TEXT PRIMARY KEY,
    grant_id              TEXT NOT NULL REFERENCES oidc_grants(id) ON DELETE CASCADE,
    client_id             TEXT NOT NULL,
    redirect_uri          TEXT NOT NULL,
    nonce                 TEXT,
    code_challenge        TEXT,
    expires_at            INTEGER NOT NULL,
    used_at               INTEGER
);
CREATE INDEX oidc_codes_expires ON oidc_codes(expires_at);

CREATE TABLE oidc_tokens (
    token_hash  TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    grant_id    TEXT NOT NULL REFERENCES oidc_grants(id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX oidc_tokens_grant ON oidc_tokens(grant_id);
CREATE INDEX oidc_tokens_expires ON oidc_tokens(expires_at);

CREATE TABLE oidc_consents (
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, client_id)
);
