-- Passkeys (issue 21): one row per registered WebAuthn credential. The
-- credential (public key, algorithm, flags) is webauthn-rs's JSON; the
-- counter is the last signature counter seen, kept apart so that a login
-- can move it with a compare-and-swap.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL,
    user_handle TEXT NOT NULL,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    counter BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE UNIQUE INDEX passkeys_credential_id ON passkeys (credential_id);
CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- Ceremonies between their begin and their finish, keyed by the SHA-256 of
-- the challenge: in the database, so that any instance finishes what
-- another began. Each is taken (deleted) once; lapsed ones are swept.
CREATE TABLE passkey_challenges (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX passkey_challenges_expires_at ON passkey_challenges (expires_at);
