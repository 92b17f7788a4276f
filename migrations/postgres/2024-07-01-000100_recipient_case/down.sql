DROP INDEX outgoing_emails_recipient_lower;
CREATE INDEX outgoing_emails_recipient ON outgoing_emails (recipient, queued_at);
