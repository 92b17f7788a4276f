-- Wrong passwords of an account since its last good login, however slowly
-- they came: past a few, the owner is told.
ALTER TABLE account_locks ADD COLUMN wrong_passwords INTEGER NOT NULL DEFAULT 0;
ALTER TABLE account_locks ADD COLUMN last_wrong_password TIMESTAMP;
