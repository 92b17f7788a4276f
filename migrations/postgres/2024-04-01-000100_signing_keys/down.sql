DROP TABLE signing_keys;
DROP FUNCTION sesame_notify_signing_keys();
