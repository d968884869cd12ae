-- After an administrator resets someone's MFA, a new method can be set up only through a
-- temporary access pass: the password alone (perhaps phished) must not be enough.
ALTER TABLE accounts ADD COLUMN enrolment_needs_pass BIGINT NOT NULL DEFAULT 0;
