-- "Was this helpful?" on the help pages is feedback with the topic 'help-pages'.
ALTER TABLE feedback DROP CONSTRAINT feedback_topic_check;
ALTER TABLE feedback ADD CONSTRAINT feedback_topic_check
    CHECK (topic IN ('setting-up-mfa', 'signing-in', 'password-reset', 'other', 'help-pages'));
