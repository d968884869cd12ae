-- The sign-in log: every attempt at every step (password, second factor, reset, single
-- sign-on), with the risk found and the signals behind it. Pruned after the retention period
-- (unlike the audit trail, which is never changed).
CREATE TABLE sign_in_events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             BIGINT NOT NULL,
    account_id     TEXT,
    email          TEXT NOT NULL,
    org_code       TEXT,
    ip             TEXT NOT NULL,
    -- what limits count: the IPv4 address or the IPv6 /64
    source         TEXT NOT NULL,
    -- what "a new network" means: the IPv4 /24 or the IPv6 /48
    network        TEXT NOT NULL,
    user_agent     TEXT NOT NULL,
    -- a keyed hash of the browser's long-lived device cookie
    device         TEXT,
    step           TEXT NOT NULL,
    method         TEXT,
    outcome        TEXT NOT NULL,
    reason         TEXT,
    risk           TEXT NOT NULL,
    signals        TEXT NOT NULL,
    country        TEXT,
    place          TEXT,
    latitude       DOUBLE PRECISION,
    longitude      DOUBLE PRECISION,
    reported_at    BIGINT,
    correlation_id TEXT NOT NULL
);
CREATE INDEX sign_in_events_account ON sign_in_events(account_id, at);
CREATE INDEX sign_in_events_email ON sign_in_events(email, at);
CREATE INDEX sign_in_events_source ON sign_in_events(source, at);
CREATE INDEX sign_in_events_at ON sign_in_events(at);
CREATE INDEX sign_in_events_org ON sign_in_events(org_code, at);

-- Accounts flagged by the monitoring, for administrators to dismiss or confirm.
CREATE TABLE risky_accounts (
    account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    level      TEXT NOT NULL,
    signals    TEXT NOT NULL,
    state      TEXT NOT NULL,
    first_at   BIGINT NOT NULL,
    last_at    BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX risky_accounts_state ON risky_accounts(state, last_at);

-- Evidence of a known password: change it after the next second factor (1), or it no longer
-- works and must be reset (2: "This wasn't me", or an administrator's "confirm compromised").
ALTER TABLE accounts ADD COLUMN password_action BIGINT NOT NULL DEFAULT 0;
