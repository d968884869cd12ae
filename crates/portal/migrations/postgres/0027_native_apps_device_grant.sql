-- Mail apps (issue 22): native clients (RFC 8252) and their back-channel logout address, and
-- the device authorization grant (RFC 8628). Codes are stored only as SHA-256.
ALTER TABLE oidc_clients ADD COLUMN native BIGINT NOT NULL DEFAULT 0;
ALTER TABLE oidc_clients ADD COLUMN backchannel_logout_uri TEXT;

CREATE TABLE device_authorizations (
    device_code_hash TEXT PRIMARY KEY,
    user_code_hash   TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL,
    scope            TEXT NOT NULL,
    requested_from   TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    poll_interval    BIGINT NOT NULL,
    last_polled_at   BIGINT,
    status           TEXT NOT NULL,
    grant_id         TEXT REFERENCES oidc_grants(id) ON DELETE CASCADE
);
CREATE INDEX device_authorizations_expires ON device_authorizations(expires_at);
