ALTER TABLE users DROP COLUMN made_here;
