-- The summary is read by its primary key, the account's rows side by side (issue 6,
-- BENCHMARKS.md "Sign-in risk"): through this index each row was one more lookup in the table,
-- which made a busy account's read the slow tail of the risk assessment. Writes also drop one
-- index to keep up to date.
DROP INDEX IF EXISTS sign_in_familiar_recent;
