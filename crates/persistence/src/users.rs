use diesel::prelude::*;
use sesame_kernel::{Page, StorageError, Timestamp, UserId};
use sesame_users::{
    identity_key, NewUser, ProfileChanges, ProfileUpdated, User, UserRepository, Username,
    UsersError,
};

use crate::database::Returned;
use crate::email_flows::TakeTurns;
use crate::error::unique_violation;
use crate::schema::{account_tokens, audit_events, deleted_user_ids, sessions, users};
use crate::time::{from_db, to_db};
use crate::{Database, PersistenceError};

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
pub(crate) struct UserRow {
    id: i64,
    username: String,
    email: Option<String>,
    first_name: String,
    last_name: String,
    avatar: Option<String>,
    is_active: bool,
    is_staff: bool,
    date_joined: chrono::NaiveDateTime,
    last_login: Option<chrono::NaiveDateTime>,
    password_hash: String,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: UserId(row.id),
            username: row.username,
            email: row.email,
            first_name: row.first_name,
            last_name: row.last_name,
            avatar: row.avatar,
            is_active: row.is_active,
            is_staff: row.is_staff,
            date_joined: from_db(row.date_joined),
            last_login: row.last_login.map(from_db),
            password_hash: row.password_hash,
        }
    }
}

/// A row of an account made here (a sign-up, `sesame user create`).
#[derive(Insertable)]
#[diesel(table_name = users)]
pub(crate) struct NewUserRow<'a> {
    username: &'a str,
    username_key: String,
    email: Option<&'a str>,
    email_key: Option<String>,
    first_name: &'a str,
    last_name: &'a str,
    is_active: bool,
    is_staff: bool,
    date_joined: chrono::NaiveDateTime,
    password_hash: &'a str,
    made_here: bool,
}

impl<'a> From<&'a NewUser> for NewUserRow<'a> {
    fn from(user: &'a NewUser) -> Self {
        NewUserRow {
            username: user.username.as_str(),
            username_key: user.username.key(),
            email: user.email.as_ref().map(|e| e.as_str()),
            email_key: user.email.as_ref().map(|e| e.key()),
            first_name: &user.first_name,
            last_name: &user.last_name,
            is_active: user.is_active,
            is_staff: user.is_staff,
            date_joined: to_db(user.date_joined),
            password_hash: &user.password_hash,
            made_here: true,
        }
    }
}

#[derive(AsChangeset, Clone, Default)]
#[diesel(table_name = users)]
struct ProfileChangeset<'a> {
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    email: Option<Option<&'a str>>,
    email_key: Option<Option<String>>,
    avatar: Option<Option<&'a str>>,
}

/// Maps a failed write: a unique index tells which field is taken.
fn write_error(error: PersistenceError) -> UsersError {
    match unique_violation(&error) {
        Some(index) if index.contains("email") => UsersError::EmailTaken,
        Some(index) if index.contains("username") => UsersError::UsernameTaken,
        _ => UsersError::Storage(error.into()),
    }
}

fn read_error(error: PersistenceError) -> UsersError {
    UsersError::Storage(StorageError::from(error))
}

fn found(rows_changed: usize) -> Result<(), UsersError> {
    if rows_changed == 0 {
        Err(UsersError::NotFound)
    } else {
        Ok(())
    }
}

impl UserRepository for Database {
    fn insert(&self, user: &NewUser) -> Result<User, UsersError> {
        let row = NewUserRow::from(user);
        with_connection!(self, |conn| diesel::insert_into(users::table)
            .values(&row)
            .returning(UserRow::as_returning())
            .get_returned(conn))
        .map(User::from)
        .map_err(write_error)
    }

    fn find_by_id(&self, id: UserId) -> Result<Option<User>, UsersError> {
        with_connection!(self, |conn| users::table
            .find(id.0)
            .select(UserRow::as_select())
            .get_result(conn)
            .optional())
        .map(|row| row.map(User::from))
        .map_err(read_error)
    }

    fn find_by_username(&self, username: &str) -> Result<Option<User>, UsersError> {
        let key = identity_key(username);
        with_connection!(self, |conn| users::table
            .filter(users::username_key.eq(&key))
            .select(UserRow::as_select())
            .get_result(conn)
            .optional())
        .map(|row| row.map(User::from))
        .map_err(read_error)
    }

    fn find_by_email(&self, email: &str) -> Result<Option<User>, UsersError> {
        let key = identity_key(email);
        with_connection!(self, |conn| users::table
            .filter(users::email_key.eq(&key))
            .select(UserRow::as_select())
            .get_result(conn)
            .optional())
        .map(|row| row.map(User::from))
        .map_err(read_error)
    }

    fn list(&self, page: Page) -> Result<Vec<User>, UsersError> {
        with_connection!(self, |conn| users::table
            .order(users::id.asc())
            .offset(page.skip)
            .limit(page.limit)
            .select(UserRow::as_select())
            .load(conn))
        .map(|rows| rows.into_iter().map(User::from).collect())
        .map_err(read_error)
    }

    fn update_profile(
        &self,
        id: UserId,
        changes: &ProfileChanges,
    ) -> Result<ProfileUpdated, UsersError> {
        let changeset = ProfileChangeset {
            first_name: changes.first_name.as_deref(),
            last_name: changes.last_name.as_deref(),
            email: changes
                .email
                .as_ref()
                .map(|email| email.as_ref().map(|e| e.as_str())),
            email_key: changes
                .email
                .as_ref()
                .map(|email| email.as_ref().map(|e| e.key())),
            avatar: changes.avatar.as_ref().map(|avatar| avatar.as_deref()),
        };
        let nothing_to_change = changeset.first_name.is_none()
            && changeset.last_name.is_none()
            && changeset.email.is_none()
            && changeset.avatar.is_none();
        if nothing_to_change {
            let user = self.find_by_id(id)?.ok_or(UsersError::NotFound)?;
            return Ok(ProfileUpdated {
                user,
                replaced_avatar: None,
            });
        }
        let new_key = changeset.email_key.clone();
        let new_avatar = changeset.avatar.is_some();
        let updated = in_transaction!(self, |conn| {
            let mut changeset = changeset.clone();
            let replaced_avatar = if new_avatar {
                // Taking the row's lock first (SQLite's transaction already
                // holds the database's): an upload at the same time waits,
                // then reads the avatar this one stores.
                diesel::update(users::table.find(id.0))
                    .set(users::avatar.eq(users::avatar))
                    .execute(conn)?;
                users::table
                    .find(id.0)
                    .select(users::avatar)
                    .first::<Option<String>>(conn)
                    .optional()?
                    .flatten()
            } else {
                None
            };
            let stored: Option<(Option<String>, Option<String>)> = match new_key {
                Some(_) => {
                    // Held from here: a flow's token written meanwhile would
                    // outlive the deletion below (`AccountTokenStore::issue_token_capped`).
                    conn.lock_account(id.0)?;
                    users::table
                        .find(id.0)
                        .select((users::email, users::email_key))
                        .first(conn)
                        .optional()?
                }
                None => None,
            };
            if let (Some(new_key), Some((old_email, old_key))) = (&new_key, &stored) {
                if changes.email_respelled && old_key != new_key {
                    // The address changed since the caller saw it: a new
                    // spelling of the old one is no change of the new one.
                    changeset.email = Some(old_email.as_deref());
                    changeset.email_key = Some(old_key.clone());
                } else if old_key != new_key {
                    // A new address ends every email flow started for the old one.
                    diesel::delete(account_tokens::table.filter(account_tokens::user_id.eq(id.0)))
                        .execute(conn)?;
                }
            }
            let row = diesel::update(users::table.find(id.0))
                .set(&changeset)
                .returning(UserRow::as_returning())
                .get_result(conn)
                .optional()?;
            Ok::<_, diesel::result::Error>(row.map(|row| (row, replaced_avatar)))
        });
        self.user_changed(id);
        let (row, replaced_avatar) = updated.map_err(write_error)?.ok_or(UsersError::NotFound)?;
        Ok(ProfileUpdated {
            user: User::from(row),
            replaced_avatar,
        })
    }

    fn set_username(&self, id: UserId, username: &Username) -> Result<(), UsersError> {
        let renamed = with_connection!(self, |conn| diesel::update(users::table.find(id.0))
            .set((
                users::username.eq(username.as_str()),
                users::username_key.eq(username.key()),
            ))
            .execute(conn));
        self.user_changed(id);
        renamed.map_err(write_error).and_then(found)
    }

    fn change_password(
        &self,
        id: UserId,
        replaced_hash: &str,
        password_hash: &str,
        keep_session: Option<&str>,
        now: Timestamp,
    ) -> Result<(), UsersError> {
        let keep = keep_session.unwrap_or_default();
        let changed = in_transaction!(self, |conn| {
            conn.lock_account(id.0)?;
            let still_confirmed = users::table
                .find(id.0)
                .filter(users::password_hash.eq(replaced_hash));
            let changed = diesel::update(still_confirmed)
                .set(users::password_hash.eq(password_hash))
                .execute(conn)?;
            if changed == 0 {
                let exists = users::table.find(id.0).count().get_result::<i64>(conn)? > 0;
                return Ok(Err(if exists {
                    UsersError::WrongCurrentPassword
                } else {
                    UsersError::NotFound
                }));
            }
            diesel::update(
                sessions::table
                    .filter(sessions::user_id.eq(id.0))
                    .filter(sessions::revoked_at.is_null())
                    .filter(sessions::id.ne(keep)),
            )
            .set(sessions::revoked_at.eq(Some(to_db(now))))
            .execute(conn)?;
            // Reset and activation links die with the old password.
            diesel::delete(account_tokens::table.filter(account_tokens::user_id.eq(id.0)))
                .execute(conn)?;
            Ok::<_, diesel::result::Error>(Ok(()))
        });
        self.user_changed(id);
        changed.map_err(read_error)?
    }

    fn set_flags(
        &self,
        id: UserId,
        is_active: Option<bool>,
        is_staff: Option<bool>,
    ) -> Result<(), UsersError> {
        #[derive(AsChangeset)]
        #[diesel(table_name = users)]
        struct Flags {
            is_active: Option<bool>,
            is_staff: Option<bool>,
            deactivated_by_admin: Option<bool>,
        }
        if is_active.is_none() && is_staff.is_none() {
            return self.find_by_id(id)?.map(|_| ()).ok_or(UsersError::NotFound);
        }
        let flags = Flags {
            is_active,
            is_staff,
            deactivated_by_admin: is_active.map(|active| !active),
        };
        let changed = in_transaction!(self, |conn| {
            // Deactivation ends every session of the account, and every
            // link mailed to it.
            if is_active == Some(false) {
                conn.lock_account(id.0)?;
                diesel::update(
                    sessions::table
                        .filter(sessions::user_id.eq(id.0))
                        .filter(sessions::revoked_at.is_null()),
                )
                .set(sessions::revoked_at.eq(Some(to_db(chrono::Utc::now()))))
                .execute(conn)?;
                diesel::delete(account_tokens::table.filter(account_tokens::user_id.eq(id.0)))
                    .execute(conn)?;
            }
            diesel::update(users::table.find(id.0))
                .set(&flags)
                .execute(conn)
        });
        self.user_changed(id);
        changed.map_err(read_error).and_then(found)
    }

    fn record_login(&self, id: UserId, at: Timestamp) -> Result<(), UsersError> {
        let recorded = with_connection!(self, |conn| diesel::update(users::table.find(id.0))
            .set(users::last_login.eq(Some(to_db(at))))
            .execute(conn));
        self.user_touched(id);
        recorded.map(|_| ()).map_err(read_error)
    }

    fn record_login_rehashed(
        &self,
        id: UserId,
        at: Timestamp,
        checked_hash: &str,
        password_hash: &str,
        old_format: &str,
    ) -> Result<bool, UsersError> {
        let detail = format!("from {old_format}");
        let recorded = in_transaction!(self, |conn| {
            let still_checked = users::table
                .find(id.0)
                .filter(users::password_hash.eq(checked_hash));
            let replaced = diesel::update(still_checked)
                .set((
                    users::last_login.eq(Some(to_db(at))),
                    users::password_hash.eq(password_hash),
                ))
                .execute(conn)?;
            if replaced == 0 {
                return Ok::<_, diesel::result::Error>(false);
            }
            diesel::insert_into(audit_events::table)
                .values((
                    audit_events::kind.eq("password_rehashed"),
                    audit_events::user_id.eq(Some(id.0)),
                    audit_events::at.eq(to_db(at)),
                    audit_events::detail.eq(Some(detail.as_str())),
                ))
                .execute(conn)?;
            Ok(true)
        });
        // The hash changed: other processes' caches must drop the old one.
        match recorded {
            Ok(true) => self.user_changed(id),
            _ => self.user_touched(id),
        }
        recorded.map_err(read_error)
    }

    fn delete(&self, id: UserId) -> Result<(), UsersError> {
        let deleted = in_transaction!(self, |conn| {
            // The account before its rows, as every change that ends its
            // sessions takes them: two such changes cannot wait on each other.
            conn.lock_account(id.0)?;
            diesel::delete(sessions::table.filter(sessions::user_id.eq(id.0))).execute(conn)?;
            let deleted = diesel::delete(users::table.find(id.0)).execute(conn)?;
            if deleted > 0 {
                diesel::insert_into(deleted_user_ids::table)
                    .values(deleted_user_ids::id.eq(id.0))
                    .on_conflict_do_nothing()
                    .execute(conn)?;
            }
            Ok::<usize, diesel::result::Error>(deleted)
        });
        self.user_changed(id);
        deleted.map_err(read_error).and_then(found)
    }
}
