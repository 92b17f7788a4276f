ALTER TABLE users DROP COLUMN deactivated_by_admin;
