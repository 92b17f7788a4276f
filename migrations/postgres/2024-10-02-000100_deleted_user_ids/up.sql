-- The id of every account deleted: `sesame import --keep-ids` gives none of
-- them to someone else (other services may still hold data under it).
CREATE TABLE deleted_user_ids (id BIGINT PRIMARY KEY NOT NULL);
-- The deletions made before: those the audit log files under the account
-- deleted, and an admin's, whose detail names the account by id.
INSERT INTO deleted_user_ids (id)
SELECT user_id FROM audit_events
WHERE user_id IS NOT NULL AND user_id NOT IN (SELECT id FROM users)
UNION
SELECT substring(detail FROM '^user ([0-9]{1,18})$')::BIGINT FROM audit_events
WHERE kind = 'admin_deleted_user' AND detail ~ '^user [0-9]{1,18}$'
ON CONFLICT DO NOTHING;
