-- Refused administrator actions beyond the hourly number audited one by one (issue 18): never
-- dropped, they are counted here, with their targets, in the transaction that refuses them,
-- and written to the audit trail as one event when their hour ends (a background job on every
-- node claims each row by deleting it, in the transaction that writes the event).
CREATE TABLE audit_rollups (
    event        TEXT NOT NULL,
    actor_id     TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    window_end   INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    first_at     INTEGER NOT NULL,
    last_at      INTEGER NOT NULL,
    ip           TEXT,
    user_agent   TEXT,
    PRIMARY KEY (event, actor_id, window_start)
);
CREATE INDEX audit_rollups_window_end ON audit_rollups(window_end);
CREATE TABLE audit_rollup_targets (
    event        TEXT NOT NULL,
    actor_id     TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    target       TEXT NOT NULL,
    PRIMARY KEY (event, actor_id, window_start, target)
);
