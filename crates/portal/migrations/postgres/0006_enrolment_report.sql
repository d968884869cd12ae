-- Enrolment reporting at NHSmal's size (1.5 million accounts). Joining every account to its
-- methods takes several seconds on each store, so each account carries a summary of its current
-- methods, kept by the database itself: whatever code path adds or removes a method (enrolment,
-- an admin reset, a cascade), the summary follows. The report then reads one covering index.
--   mfa_first_method_at  created_at of the account's earliest current method; NULL without one
--   mfa_method_kinds     the kinds it has, as bits: totp 1, sms 2, voice 4, fido2 8
ALTER TABLE accounts ADD COLUMN mfa_first_method_at BIGINT;
ALTER TABLE accounts ADD COLUMN mfa_method_kinds BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION accounts_refresh_mfa_summary(account TEXT) RETURNS void AS $$
BEGIN
    -- Lock the account first: the UPDATE below then takes its snapshot after any other
    -- transaction changing this account's methods has committed (READ COMMITTED), so two
    -- methods added at once cannot leave a summary that misses one.
    PERFORM 1 FROM accounts WHERE id = account FOR UPDATE;
    UPDATE accounts SET
        mfa_first_method_at = (SELECT MIN(m.created_at) FROM mfa_methods m WHERE m.account_id = account),
        mfa_method_kinds = (SELECT COALESCE(SUM(DISTINCT CASE m.kind WHEN 'totp' THEN 1 WHEN 'sms' THEN 2
            WHEN 'voice' THEN 4 WHEN 'fido2' THEN 8 ELSE 0 END), 0)
            FROM mfa_methods m WHERE m.account_id = account)
    WHERE id = account;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION mfa_methods_summary() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM accounts_refresh_mfa_summary(NEW.account_id);
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.account_id <> NEW.account_id) THEN
        PERFORM accounts_refresh_mfa_summary(OLD.account_id);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

UPDATE accounts SET mfa_first_method_at = s.first_at, mfa_method_kinds = s.kinds
FROM (SELECT account_id, MIN(created_at) AS first_at,
        SUM(DISTINCT CASE kind WHEN 'totp' THEN 1 WHEN 'sms' THEN 2 WHEN 'voice' THEN 4
            WHEN 'fido2' THEN 8 ELSE 0 END) AS kinds
      FROM mfa_methods GROUP BY account_id) s
WHERE s.account_id = accounts.id;

CREATE TRIGGER mfa_methods_summary AFTER INSERT OR DELETE OR UPDATE OF account_id, kind, created_at
ON mfa_methods FOR EACH ROW EXECUTE FUNCTION mfa_methods_summary();

-- Covers the report's queries (active accounts per organisation with their kinds; active
-- accounts by the week of their first method; disabled ones per organisation) without reading
-- the table. State comes first so that the report reads only the active range.
CREATE INDEX accounts_enrolment ON accounts(state, org_code, mfa_first_method_at, mfa_method_kinds);
