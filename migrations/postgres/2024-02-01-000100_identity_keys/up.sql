-- Which version of a key rule the stored keys were last computed with
-- (`users`: username_key and email_key). Sesame computes the keys again at
-- start when its rule is newer than the version recorded here.
CREATE TABLE key_rules (
    name TEXT PRIMARY KEY NOT NULL,
    version INTEGER NOT NULL
);
