DROP INDEX outgoing_emails_recipient;
