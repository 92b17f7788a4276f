-- Every process keeps recently checked sessions and accounts in memory; these
-- notices tell all of them (whoever made the change) to drop their copies.
CREATE FUNCTION sesame_notify_change() RETURNS trigger AS $$
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify('sesame_changes', 'u:' || OLD.id);
    ELSE
        PERFORM pg_notify('sesame_changes', 's:' || OLD.id);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION sesame_notify_change();

-- Only a revocation or a deletion matters to other processes: a copy with an
-- older expiry or last use is re-read from the database when it runs out.
CREATE TRIGGER sessions_revoked AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION sesame_notify_change();

CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION sesame_notify_change();
