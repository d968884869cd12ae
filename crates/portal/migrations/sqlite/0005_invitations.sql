-- Invitations to set a first password, sent to people added by a bulk import. The link's
-- token is never stored: only its SHA-256 (hex).
CREATE TABLE invitations (
    token_hash  TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    -- The administrator who imported the account; NULL for the command line.
    created_by  TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX invitations_account ON invitations(account_id);
