-- Enrolment reporting at NHSmal's size (1.5 million accounts). Joining every account to its
-- methods takes several seconds on each store, so each account carries a summary of its current
-- methods, kept by the database itself: whatever code path adds or removes a method (enrolment,
-- an admin reset, a cascade), the summary follows. The report then reads one covering index.
--   mfa_first_method_at  created_at of the account's earliest current method; NULL without one
--   mfa_method_kinds     the kinds it has, as bits: totp 1, sms 2, voice 4, fido2 8
ALTER TABLE accounts ADD COLUMN mfa_first_method_at INTEGER;
ALTER TABLE accounts ADD COLUMN mfa_method_kinds INTEGER NOT NULL DEFAULT 0;

UPDATE accounts SET
    mfa_first_method_at = (SELECT MIN(m.created_at) FROM mfa_methods m WHERE m.account_id = accounts.id),
    mfa_method_kinds = (SELECT COALESCE(SUM(DISTINCT CASE m.kind WHEN 'totp' THEN 1 WHEN 'sms' THEN 2
        WHEN 'voice' THEN 4 WHEN 'fido2' THEN 8 ELSE 0 END), 0)
        FROM mfa_methods m WHERE m.account_id = accounts.id);

CREATE TRIGGER mfa_methods_summary_insert AFTER INSERT ON mfa_methods
BEGIN
    UPDATE accounts SET
        mfa_first_method_at = (SELECT MIN(m.created_at) FROM mfa_methods m WHERE m.account_id = accounts.id),
        mfa_method_kinds = (SELECT COALESCE(SUM(DISTINCT CASE m.kind WHEN 'totp' THEN 1 WHEN 'sms' THEN 2
            WHEN 'voice' THEN 4 WHEN 'fido2' THEN 8 ELSE 0 END), 0)
            FROM mfa_methods m WHERE m.account_id = accounts.id)
    WHERE id = NEW.account_id;
END;

CREATE TRIGGER mfa_methods_summary_delete AFTER DELETE ON mfa_methods
BEGIN
    UPDATE accounts SET
        mfa_first_method_at = (SELECT MIN(m.created_at) FROM mfa_methods m WHERE m.account_id = accounts.id),
        mfa_method_kinds = (SELECT COALESCE(SUM(DISTINCT CASE m.kind WHEN 'totp' THEN 1 WHEN 'sms' THEN 2
            WHEN 'voice' THEN 4 WHEN 'fido2' THEN 8 ELSE 0 END), 0)
            FROM mfa_methods m WHERE m.account_id = accounts.id)
    WHERE id = OLD.account_id;
END;

CREATE TRIGGER mfa_methods_summary_update AFTER UPDATE OF account_id, kind, created_at ON mfa_methods
BEGIN
    UPDATE accounts SET
        mfa_first_method_at = (SELECT MIN(m.created_at) FROM mfa_methods m WHERE m.account_id = accounts.id),
        mfa_method_kinds = (SELECT COALESCE(SUM(DISTINCT CASE m.kind WHEN 'totp' THEN 1 WHEN 'sms' THEN 2
            WHEN 'voice' THEN 4 WHEN 'fido2' THEN 8 ELSE 0 END), 0)
            FROM mfa_methods m WHERE m.account_id = accounts.id)
    WHERE id IN (OLD.account_id, NEW.account_id);
END;

-- Covers the report's queries (active accounts per organisation with their kinds; active
-- accounts by the week of their first method; disabled ones per organisation) without reading
-- the table. State comes first so that the report reads only the active range.
CREATE INDEX accounts_enrolment ON accounts(state, org_code, mfa_first_method_at, mfa_method_kinds);
