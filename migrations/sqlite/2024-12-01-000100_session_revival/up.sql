-- Whether re-authenticating (seed 002) brings a lapsed opaque session back:
-- only for the tokens seed 002's registration hands out, never for a
-- login's (the pages'). Rows from before cannot be told apart and keep
-- what they had; so do the rows an older instance writes during an upgrade.
ALTER TABLE sessions ADD COLUMN revivable BOOLEAN NOT NULL DEFAULT 1;
