-- An account made by this Sesame (a sign-up, `sesame user create`), not by
-- an import: an import refuses to treat it as its own record "already
-- there". Accounts older than this column cannot be told apart, and keep
-- false (an import skips them as before).
ALTER TABLE users ADD COLUMN made_here BOOLEAN NOT NULL DEFAULT FALSE;
