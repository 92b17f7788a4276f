DROP INDEX outgoing_emails_recipient_key;
CREATE INDEX outgoing_emails_recipient_lower ON outgoing_emails (lower(recipient), queued_at);
ALTER TABLE outgoing_emails DROP COLUMN recipient_key;
