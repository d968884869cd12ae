-- Feedback from the form every page links to. No account: only the organisation (NULL when
-- the person was signed out) and the time.
CREATE TABLE feedback (
    id            TEXT PRIMARY KEY,
    submitted_at  INTEGER NOT NULL,
    topic         TEXT NOT NULL
                  CHECK (topic IN ('setting-up-mfa', 'signing-in', 'password-reset', 'other')),
    rating        INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comments      TEXT,
    org_code      TEXT
);
CREATE INDEX feedback_submitted ON feedback(submitted_at);
CREATE INDEX feedback_org ON feedback(org_code, submitted_at);
