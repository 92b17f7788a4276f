DROP TRIGGER sessions_deleted ON sessions;
DROP TRIGGER sessions_revoked ON sessions;
DROP TRIGGER users_changed ON users;
DROP FUNCTION sesame_notify_change();
