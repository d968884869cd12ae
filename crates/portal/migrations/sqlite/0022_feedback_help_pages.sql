-- "Was this helpful?" on the help pages is feedback with the topic 'help-pages'. SQLite cannot
-- change a CHECK constraint in place, so the table is rebuilt with its rows and indexes.
CREATE TABLE feedback_new (
    id            TEXT PRIMARY KEY,
    submitted_at  INTEGER NOT NULL,
    topic         TEXT NOT NULL
                  CHECK (topic IN ('setting-up-mfa', 'signing-in', 'password-reset', 'other',
                                   'help-pages')),
    rating        INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comments      TEXT,
    org_code      TEXT
);
INSERT INTO feedback_new (id, submitted_at, topic, rating, comments, org_code)
    SELECT id, submitted_at, topic, rating, comments, org_code FROM feedback;
DROP TABLE feedback;
ALTER TABLE feedback_new RENAME TO feedback;
CREATE INDEX feedback_submitted ON feedback(submitted_at);
CREATE INDEX feedback_org ON feedback(org_code, submitted_at);
