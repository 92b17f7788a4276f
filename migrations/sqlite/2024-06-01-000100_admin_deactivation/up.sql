-- An account an admin deactivated: no activation link makes it active again
-- (only an admin does). Accounts waiting for their first activation keep false.
ALTER TABLE users ADD COLUMN deactivated_by_admin BOOLEAN NOT NULL DEFAULT FALSE;
