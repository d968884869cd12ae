-- The persistent email queue (issue 5): a security notice is a row before it is sent, so it
-- survives a relay that is down and a restart. Every node's worker takes due rows by moving
-- next_attempt_at past a lease in one conditional UPDATE. last_error holds the provider's
-- answer, never a secret; notices hold no codes.
CREATE TABLE email_queue (
    id               TEXT PRIMARY KEY,
    recipient        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    text_body        TEXT NOT NULL,
    html_body        TEXT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    sent_at          BIGINT,
    failed_at        BIGINT
);
-- What the workers look for: messages neither sent nor given up, by when they are due.
CREATE INDEX email_queue_due ON email_queue(next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX email_queue_created ON email_queue(created_at);
