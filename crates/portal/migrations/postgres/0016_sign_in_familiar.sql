-- What each account has finished sign-ins from (issue 6, BENCHMARKS.md "Sign-in risk"): the
-- risk rules read these few rows instead of up to 500 rows of the sign-in log. Kept up to
-- date in the transaction that records each `success` row; rows last used before the
-- look-back are ignored and pruned. No foreign key, as for the log: a sign-in never fails on
-- the summary, and its rows go with the look-back.
--   kind: device (keyed hash, as in the log), network, country, hour (0-23 UTC),
--         day (days since 1970; sign_ins counts that day's finished sign-ins),
--         place (value ''; the last finished sign-in with a place, latitude and longitude).
CREATE TABLE sign_in_familiar (
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    sign_ins BIGINT NOT NULL,
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    PRIMARY KEY (account_id, kind, value)
);
-- The read: an account's rows, most recently used first.
CREATE INDEX sign_in_familiar_recent ON sign_in_familiar(account_id, last_at);
-- The pruner.
CREATE INDEX sign_in_familiar_last_at ON sign_in_familiar(last_at);
