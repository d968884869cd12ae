-- Pending requests are what every node polls for twice a second (push approval, issue 21).
CREATE INDEX approvals_pending ON approvals(status, expires_at);
