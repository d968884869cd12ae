-- OpenID Connect signing keys and clients (issue 7).

-- ID token signing keys. The private key is PKCS#8 DER sealed with the master key (bound to
-- the kid); a retired key's private half is wiped at rotation, its public JWK stays published
-- until `publish_until`. `active_alg` is the algorithm while the key is active and NULL once
-- retired: its UNIQUE constraint allows one active key per algorithm, so two nodes starting
-- at once cannot both create one.
CREATE TABLE oidc_signing_keys (
    kid           TEXT PRIMARY KEY,
    alg           TEXT NOT NULL,
    public_jwk    TEXT NOT NULL,
    private_key   BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    retired_at    INTEGER,
    publish_until INTEGER,
    active_alg    TEXT UNIQUE
);

-- Relying parties. Secrets are stored only as a keyed hash; URI lists are JSON arrays of the
-- exact registered strings.
CREATE TABLE oidc_clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    kind                      TEXT NOT NULL,
    auth_method               TEXT NOT NULL,
    secret_hash               TEXT,
    first_party               INTEGER NOT NULL DEFAULT 0,
    jwks                      TEXT,
    id_token_alg              TEXT NOT NULL,
    created_at                INTEGER NOT NULL,
    disabled                  INTEGER NOT NULL DEFAULT 0
);

-- private_key_jwt assertions already used (RFC 7523 §3 jti), kept until they expire.
CREATE TABLE oidc_client_assertions (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX oidc_client_assertions_expiry ON oidc_client_assertions(expires_at);
