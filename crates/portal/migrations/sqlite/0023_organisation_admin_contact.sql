-- How an organisation's staff reach their local administrators, shown where pages say
-- "contact your local administrator" (issue 20). Set with `nhsmal org set-contact`.
ALTER TABLE organisations ADD COLUMN admin_contact TEXT;
