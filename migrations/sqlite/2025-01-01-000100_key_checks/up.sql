-- A digest of each key every instance must share but keeps outside the
-- database (the MFA key): an instance started with another key refuses to.
CREATE TABLE key_checks (
    name TEXT PRIMARY KEY NOT NULL,
    digest TEXT NOT NULL
);
