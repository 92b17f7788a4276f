-- The keys every instance signs and verifies JWTs with (issue 20). One key
-- is `active` (it signs); `verifying` keys still verify the tokens they
-- signed; `retired` ones verify nothing. The private half (DER, or the
-- HS256 secret) is sealed with a key derived from the JWT secret.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    algorithm TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    sealed_private TEXT NOT NULL,
    public_jwk TEXT
);

-- Every instance reloads the set at once (migration `change_notices`).
CREATE FUNCTION sesame_notify_signing_keys() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('sesame_changes', 'k:');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER signing_keys_changed AFTER INSERT OR UPDATE OR DELETE ON signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION sesame_notify_signing_keys();
