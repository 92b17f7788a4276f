use diesel::prelude::*;
use sesame_kernel::{StorageError, Timestamp, UserId};
use sesame_tokens::{
    ClientInfo, Listing, Revival, Session, SessionKind, SessionRepository, TokensError,
};

use crate::schema::sessions;
use crate::time::{from_db, to_db};
use crate::{Database, PersistenceError};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
struct SessionRow {
    id: String,
    user_id: i64,
    kind: String,
    created_at: chrono::NaiveDateTime,
    last_used_at: chrono::NaiveDateTime,
    expires_at: chrono::NaiveDateTime,
    revoked_at: Option<chrono::NaiveDateTime>,
    refresh_jti: Option<String>,
    token_hash: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    revivable: bool,
}

impl SessionRow {
    fn from_session(session: &Session) -> Self {
        SessionRow {
            id: session.id.clone(),
            user_id: session.user_id.0,
            kind: session.kind.as_str().to_owned(),
            created_at: to_db(session.created_at),
            last_used_at: to_db(session.last_used_at),
            expires_at: to_db(session.expires_at),
            revoked_at: session.revoked_at.map(to_db),
            refresh_jti: session.refresh_jti.clone(),
            token_hash: session.token_hash.clone(),
            ip: session.client.ip.clone(),
            user_agent: session.client.user_agent.clone(),
            revivable: session.revival == Revival::OnReauthentication,
        }
    }

    fn into_session(self) -> Result<Session, TokensError> {
        let kind = SessionKind::from_name(&self.kind).ok_or_else(|| {
            TokensError::Storage(StorageError(format!(
                "unknown session kind {:?}",
                self.kind
            )))
        })?;
        Ok(Session {
            id: self.id,
            user_id: UserId(self.user_id),
            kind,
            created_at: from_db(self.created_at),
            last_used_at: from_db(self.last_used_at),
            expires_at: from_db(self.expires_at),
            revoked_at: self.revoked_at.map(from_db),
            refresh_jti: self.refresh_jti,
            token_hash: self.token_hash,
            client: ClientInfo {
                ip: self.ip,
                user_agent: self.user_agent,
            },
            revival: if self.revivable {
                Revival::OnReauthentication
            } else {
                Revival::Never
            },
        })
    }
}

fn storage(error: PersistenceError) -> TokensError {
    TokensError::Storage(error.into())
}

impl SessionRepository for Database {
    fn create(&self, session: &Session) -> Result<(), TokensError> {
        let row = SessionRow::from_session(session);
        with_connection!(self, |conn| diesel::insert_into(sessions::table)
            .values(&row)
            .execute(conn))
        .map(|_| ())
        .map_err(storage)
    }

    fn find(&self, id: &str) -> Result<Option<Session>, TokensError> {
        with_connection!(self, |conn| sessions::table
            .find(id)
            .select(SessionRow::as_select())
            .get_result(conn)
            .optional())
        .map_err(storage)?
        .map(SessionRow::into_session)
        .transpose()
    }

    fn find_by_token_hash(&self, token_hash: &str) -> Result<Option<Session>, TokensError> {
        with_connection!(self, |conn| sessions::table
            .filter(sessions::token_hash.eq(token_hash))
            .select(SessionRow::as_select())
            .get_result(conn)
            .optional())
        .map_err(storage)?
        .map(SessionRow::into_session)
        .transpose()
    }

    fn rotate_refresh(
        &self,
        id: &str,
        expected_jti: &str,
        new_jti: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, TokensError> {
        let rotated = with_connection!(self, |conn| diesel::update(
            sessions::table
                .find(id)
                .filter(sessions::refresh_jti.eq(expected_jti))
                .filter(sessions::revoked_at.is_null())
        )
        .set((
            sessions::refresh_jti.eq(new_jti),
            sessions::expires_at.eq(to_db(expires_at)),
            sessions::last_used_at.eq(to_db(now)),
        ))
        .execute(conn));
        self.session_changed(id);
        rotated.map(|changed| changed == 1).map_err(storage)
    }

    fn touch(
        &self,
        id: &str,
        now: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> Result<(), TokensError> {
        let result = match expires_at {
            Some(expires_at) => {
                with_connection!(self, |conn| diesel::update(sessions::table.find(id))
                    .set((
                        sessions::last_used_at.eq(to_db(now)),
                        sessions::expires_at.eq(to_db(expires_at)),
                    ))
                    .execute(conn))
            }
            None => with_connection!(self, |conn| diesel::update(sessions::table.find(id))
                .set(sessions::last_used_at.eq(to_db(now)))
                .execute(conn)),
        };
        self.session_changed(id);
        result.map(|_| ()).map_err(storage)
    }

    fn revoke(&self, id: &str, now: Timestamp) -> Result<bool, TokensError> {
        let revoked = with_connection!(self, |conn| diesel::update(
            sessions::table
                .find(id)
                .filter(sessions::revoked_at.is_null())
        )
        .set(sessions::revoked_at.eq(Some(to_db(now))))
        .execute(conn));
        self.session_revoked(id);
        revoked.map(|changed| changed == 1).map_err(storage)
    }

    fn revoke_all(
        &self,
        user_id: UserId,
        except: Option<&str>,
        now: Timestamp,
    ) -> Result<usize, TokensError> {
        let keep = except.unwrap_or_default();
        let revoked = with_connection!(self, |conn| diesel::update(
            sessions::table
                .filter(sessions::user_id.eq(user_id.0))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::id.ne(keep))
        )
        .set(sessions::revoked_at.eq(Some(to_db(now))))
        .execute(conn));
        self.user_changed(user_id);
        revoked.map_err(storage)
    }

    fn list_for_user(
        &self,
        user_id: UserId,
        which: Listing,
        at: Timestamp,
        limit: usize,
    ) -> Result<Vec<Session>, TokensError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let opaque = SessionKind::Opaque.as_str();
        with_connection!(self, |conn| {
            // `Session::is_revivable`.
            let revivable = sessions::kind.eq(opaque).and(sessions::revivable);
            // Boxed per backend: the connection decides the query's type.
            let query = sessions::table
                .filter(sessions::user_id.eq(user_id.0))
                .filter(sessions::revoked_at.is_null())
                .into_boxed();
            let query = match which {
                // `Session::is_open`: a lapsed revivable session may come back.
                Listing::Open => query.filter(sessions::expires_at.gt(to_db(at)).or(revivable)),
                Listing::Revivable => query.filter(revivable),
            };
            query
                .order(sessions::last_used_at.desc())
                .limit(limit)
                .select(SessionRow::as_select())
                .load(conn)
        })
        .map_err(storage)?
        .into_iter()
        .map(SessionRow::into_session)
        .collect()
    }
}
