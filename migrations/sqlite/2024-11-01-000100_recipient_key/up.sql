-- The recipient as the caps on emails to an address compare it: the
-- address's identity key (NFKC, case folded), as accounts' emails are
-- compared, so that no spelling of one address (ASCII or not) gets a cap
-- of its own. Rows queued before get lower(recipient), which equals the key
-- of an ASCII address; the caps look back an hour, so others soon stop
-- counting.
ALTER TABLE outgoing_emails ADD COLUMN recipient_key TEXT NOT NULL DEFAULT '';
UPDATE outgoing_emails SET recipient_key = lower(recipient);
DROP INDEX outgoing_emails_recipient_lower;
CREATE INDEX outgoing_emails_recipient_key ON outgoing_emails (recipient_key, queued_at);
