-- One-time tokens of email flows: only the SHA-256 of a token is kept.
CREATE TABLE account_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose);

-- Emails waiting for delivery (and a record of the delivered ones, without
-- their body): written in the same transaction as what causes them.
CREATE TABLE outgoing_emails (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    message_key TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    queued_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    failed_at TIMESTAMP,
    last_error TEXT
);
CREATE UNIQUE INDEX outgoing_emails_message_key ON outgoing_emails (message_key);
CREATE INDEX outgoing_emails_due ON outgoing_emails (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
