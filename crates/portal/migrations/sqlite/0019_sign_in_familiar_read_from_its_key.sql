-- Nothing to change on SQLite (PostgreSQL's 0019 makes its summary readable from the primary
-- key alone): this table is WITHOUT ROWID, so its rows already live in the key's b-tree.
SELECT 1;
