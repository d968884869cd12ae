-- The summary's read takes every column it needs from the primary key (issue 6, BENCHMARKS.md
-- "Sign-in risk"): an index-only scan reads an account's rows side by side in the key's leaf
-- pages. Read through the table, a busy account's hundred rows lay on a dozen heap pages, and
-- those page reads were the tail of the risk assessment. The included columns were already
-- kept in indexes (last_at for the pruner), so updates were not HOT before either.
-- SQLite's table is WITHOUT ROWID: its rows already live in the key's b-tree.
ALTER TABLE sign_in_familiar
    DROP CONSTRAINT sign_in_familiar_pkey,
    ADD CONSTRAINT sign_in_familiar_pkey PRIMARY KEY (account_id, kind, value)
        INCLUDE (last_at, sign_ins, latitude, longitude);
