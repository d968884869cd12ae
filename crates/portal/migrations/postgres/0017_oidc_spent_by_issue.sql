-- A code or refresh token is spent by the tokens issued from it (issue 7, BENCHMARKS.md "OpenID
-- Connect token endpoint"): each token row names the code or refresh token it was issued for,
-- and the unique index lets only one exchange of a code, or one refresh of a token, insert its
-- tokens. The INSERT of the new tokens is the exchange's only write, where an UPDATE of the
-- code (or of the old refresh token) came before it; on SQLite, whose one writer every sign-in
-- and exchange queue for, that halves the writer's work. Rows spent before this migration keep
-- their used_at; it is no longer written.
ALTER TABLE oidc_tokens ADD COLUMN issued_from TEXT;
CREATE UNIQUE INDEX oidc_tokens_issued_from ON oidc_tokens(issued_from, kind);
