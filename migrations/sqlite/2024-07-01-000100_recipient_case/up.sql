-- Emails are capped per address whatever its case: counting them reads this index.
DROP INDEX outgoing_emails_recipient;
CREATE INDEX outgoing_emails_recipient_lower ON outgoing_emails (lower(recipient), queued_at);
