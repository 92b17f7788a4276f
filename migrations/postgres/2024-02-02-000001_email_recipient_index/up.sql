-- Flow emails are capped per address: counting them reads this index.
CREATE INDEX outgoing_emails_recipient ON outgoing_emails (recipient, queued_at);
