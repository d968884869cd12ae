-- Indexes for the queries every sign-in runs against the sign-in log (BENCHMARKS.md, "Sign-in
-- risk"), which now read only a small index of wrong passwords:
-- the password-spray count reads the wrong passwords from a source, not every row from it (a
-- spraying source refused for every account still writes a row a request);
DROP INDEX sign_in_events_source;
CREATE INDEX sign_in_events_source_failures ON sign_in_events(source, at, email)
    WHERE step = 'password' AND outcome = 'failure';
-- the brute-force count reads the wrong passwords for an address. sign_in_events_email stays
-- for the admin log's filter.
CREATE INDEX sign_in_events_email_failures ON sign_in_events(email, at)
    WHERE step = 'password' AND outcome = 'failure';
