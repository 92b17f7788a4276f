-- An account an admin deactivated: no activation link makes it active again
-- (only an admin does). Accounts waiting for their first activation keep false.
ALTER TABLE users ADD COLUMN deactivated_by_admin BOOLEAN NOT NULL DEFAULT FALSE;
-- An inactive account that has logged in was active once: only an admin
-- made it inactive. (One that never logged in cannot be told apart from an
-- account awaiting activation, and keeps false.)
UPDATE users SET deactivated_by_admin = TRUE WHERE is_active = FALSE AND last_login IS NOT NULL;
