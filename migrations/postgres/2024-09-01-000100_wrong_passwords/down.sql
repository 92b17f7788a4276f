ALTER TABLE account_locks DROP COLUMN last_wrong_password;
ALTER TABLE account_locks DROP COLUMN wrong_passwords;
