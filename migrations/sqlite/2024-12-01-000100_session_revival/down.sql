ALTER TABLE sessions DROP COLUMN revivable;
