-- Failed logins and locks of accounts, shared by every instance on the database.
CREATE TABLE account_locks (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    failures_until TIMESTAMP,
    locked_until TIMESTAMP,
    streak INTEGER NOT NULL DEFAULT 0,
    wrong_codes INTEGER NOT NULL DEFAULT 0,
    last_wrong_code TIMESTAMP
);
