-- The id of every account deleted: `sesame import --keep-ids` gives none of
-- them to someone else (other services may still hold data under it).
CREATE TABLE deleted_user_ids (id BIGINT PRIMARY KEY NOT NULL);
-- The deletions made before, as far as the audit log tells them: an id it
-- files an entry under that no account has, and an admin's deletion whose
-- detail names the account by id (`user 42`). The opaque surface's admin
-- deletions name a username, and are learnt only from the account's own
-- entries; a username of digits alone reads as an id, and that id is kept
-- from imports too, which errs on the safe side.
INSERT OR IGNORE INTO deleted_user_ids (id)
SELECT user_id FROM audit_events
WHERE user_id IS NOT NULL AND user_id NOT IN (SELECT id FROM users)
UNION
SELECT CAST(substr(detail, 6) AS INTEGER) FROM audit_events
WHERE kind = 'admin_deleted_user' AND detail GLOB 'user [0-9]*'
AND substr(detail, 6) NOT GLOB '*[^0-9]*' AND length(detail) <= 23;
