DROP TABLE outgoing_emails;
DROP TABLE account_tokens;
