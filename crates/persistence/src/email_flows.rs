//! One-time tokens and the outgoing email queue: every token is written in
//! the same transaction as the email that carries it (and, at registration,
//! as the account itself).

use diesel::prelude::*;
use sesame_kernel::{StorageError, Timestamp, UserId};
use sesame_users::{
    identity_key, still_as_read, AccountToken, AccountTokenStore, MailCap, MailQueue, NewEmail,
    NewUser, OutgoingEmail, QueuedEmail, TokenEffect, TokenGrant, TokenPurpose, User, UsersError,
};

use crate::error::unique_violation;
use crate::schema::{account_tokens, outgoing_emails, passkeys, sessions, users};
use crate::time::{from_db, to_db};
use crate::users::NewUserRow;
use crate::{Database, PersistenceError};

/// The longest failure reason kept with an email.
const MAX_ERROR_CHARS: usize = 500;

fn storage(error: PersistenceError) -> UsersError {
    UsersError::Storage(StorageError::from(error))
}

/// A failed write: a unique index tells which account field is taken.
fn write_error(error: PersistenceError) -> UsersError {
    match unique_violation(&error) {
        Some(index) if index.contains("email_key") => UsersError::EmailTaken,
        Some(index) if index.contains("username_key") => UsersError::UsernameTaken,
        _ => storage(error),
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = account_tokens)]
struct TokenRow {
    token_hash: String,
    user_id: i64,
    purpose: String,
    created_at: chrono::NaiveDateTime,
    expires_at: chrono::NaiveDateTime,
    used_at: Option<chrono::NaiveDateTime>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = outgoing_emails)]
struct EmailRow {
    id: i64,
    message_key: String,
    recipient: String,
    subject: String,
    body: String,
    attempts: i32,
    next_attempt_at: chrono::NaiveDateTime,
}

impl From<EmailRow> for QueuedEmail {
    fn from(row: EmailRow) -> Self {
        QueuedEmail {
            id: row.id,
            key: row.message_key,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
            email: OutgoingEmail {
                to: row.recipient,
                subject: row.subject,
                text: row.body,
            },
        }
    }
}

/// Inserts the token of `$grant` for account `$user_id` (an `i64`), after
/// deleting the account's expired tokens.
macro_rules! insert_token {
    ($conn:ident, $user_id:expr, $grant:expr) => {{
        let grant: &TokenGrant = $grant;
        let user_id: i64 = $user_id;
        diesel::delete(
            account_tokens::table
                .filter(account_tokens::user_id.eq(user_id))
                .filter(account_tokens::expires_at.le(to_db(grant.created_at))),
        )
        .execute($conn)?;
        diesel::insert_into(account_tokens::table)
            .values((
                account_tokens::token_hash.eq(&grant.token_hash),
                account_tokens::user_id.eq(user_id),
                account_tokens::purpose.eq(grant.purpose.as_str()),
                account_tokens::created_at.eq(to_db(grant.created_at)),
                account_tokens::expires_at.eq(to_db(grant.expires_at)),
            ))
            .execute($conn)
    }};
}

/// Locks held until the transaction ends, so that racing transactions take
/// turns. An immediate SQLite transaction already holds the database's
/// write lock, so there they only read.
pub(crate) trait TakeTurns {
    /// Holds an account's row; `false` if there is no such account. A
    /// session being opened for it meanwhile (its insert checks the row)
    /// is waited for, so that ending the account's sessions ends it too.
    fn lock_account(&mut self, id: i64) -> QueryResult<bool>;
    /// Holds an address, by its identity key (many accounts may mail one).
    fn lock_recipient(&mut self, recipient_key: &str) -> QueryResult<()>;
    /// Holds the signing key set: which key is active is one fact.
    fn lock_signing_keys(&mut self) -> QueryResult<()>;
}

impl TakeTurns for PgConnection {
    fn lock_account(&mut self, id: i64) -> QueryResult<bool> {
        let row = users::table.find(id).select(users::id).for_update();
        Ok(row.first::<i64>(self).optional()?.is_some())
    }

    fn lock_recipient(&mut self, recipient_key: &str) -> QueryResult<()> {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind::<diesel::sql_types::Text, _>(recipient_key)
            .execute(self)
            .map(drop)
    }

    fn lock_signing_keys(&mut self) -> QueryResult<()> {
        diesel::sql_query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
            .execute(self)
            .map(drop)
    }
}

impl TakeTurns for SqliteConnection {
    fn lock_account(&mut self, id: i64) -> QueryResult<bool> {
        let row = users::table.find(id).select(users::id);
        Ok(row.first::<i64>(self).optional()?.is_some())
    }

    fn lock_recipient(&mut self, _: &str) -> QueryResult<()> {
        Ok(())
    }

    fn lock_signing_keys(&mut self) -> QueryResult<()> {
        Ok(())
    }
}

/// Queues `$email` (a `&NewEmail`), due at once.
macro_rules! queue_email {
    ($conn:ident, $email:expr) => {{
        let email: &NewEmail = $email;
        diesel::insert_into(outgoing_emails::table)
            .values((
                outgoing_emails::message_key.eq(&email.key),
                outgoing_emails::recipient.eq(&email.email.to),
                outgoing_emails::recipient_key.eq(identity_key(&email.email.to)),
                outgoing_emails::subject.eq(&email.email.subject),
                outgoing_emails::body.eq(&email.email.text),
                outgoing_emails::queued_at.eq(to_db(email.queued_at)),
                outgoing_emails::attempts.eq(0),
                outgoing_emails::next_attempt_at.eq(to_db(email.queued_at)),
            ))
            .execute($conn)
    }};
}

impl Database {
    /// Stores `grant` (if any) and queues `emails` for account `user_id`,
    /// unless `cap` is reached or the account's address, active flag or
    /// password is no longer as `read` has it; the account's row is held meanwhile, so
    /// racing calls and changes take turns. `None` for an unknown account.
    fn queue_capped(
        &self,
        user_id: UserId,
        grant: Option<(&TokenGrant, &User)>,
        emails: &[NewEmail],
        cap: &MailCap,
    ) -> Result<bool, UsersError> {
        let queued = in_transaction!(self, |conn| {
            if !conn.lock_account(user_id.0)? {
                return Ok(None);
            }
            if let Some((_, read)) = grant {
                let (email, is_active, password_hash) = users::table
                    .find(user_id.0)
                    .select((users::email, users::is_active, users::password_hash))
                    .first::<(Option<String>, bool, String)>(conn)?;
                if !still_as_read(read, email.as_deref(), is_active, &password_hash) {
                    return Ok(Some(false));
                }
            }
            let recipient_key = identity_key(&cap.recipient);
            conn.lock_recipient(&recipient_key)?;
            let mut counted = outgoing_emails::table
                .filter(outgoing_emails::recipient_key.eq(&recipient_key))
                .filter(outgoing_emails::queued_at.ge(to_db(cap.since)))
                .into_boxed();
            if let Some(subject) = &cap.subject {
                counted = counted.filter(outgoing_emails::subject.eq(subject));
            }
            let sent: i64 = counted.count().get_result(conn)?;
            if u64::try_from(sent).unwrap_or(0) >= cap.max {
                return Ok(Some(false));
            }
            if let Some((grant, _)) = grant {
                insert_token!(conn, user_id.0, grant)?;
            }
            for email in emails {
                queue_email!(conn, email)?;
            }
            Ok::<_, diesel::result::Error>(Some(true))
        })
        .map_err(storage)?;
        queued.ok_or(UsersError::NotFound)
    }
}

impl AccountTokenStore for Database {
    fn insert_with_token(
        &self,
        user: &NewUser,
        grant: &TokenGrant,
        compose: &dyn Fn(&User) -> NewEmail,
    ) -> Result<User, UsersError> {
        let email = user.email.as_ref();
        in_transaction!(self, |conn| {
            let id: i64 = diesel::insert_into(users::table)
                .values(NewUserRow::from(user))
                .returning(users::id)
                .get_result(conn)?;
            let stored = User {
                id: UserId(id),
                username: user.username.as_str().to_owned(),
                email: email.map(|e| e.as_str().to_owned()),
                first_name: user.first_name.clone(),
                last_name: user.last_name.clone(),
                avatar: None,
                is_active: user.is_active,
                is_staff: user.is_staff,
                date_joined: user.date_joined,
                last_login: None,
                password_hash: user.password_hash.clone(),
            };
            insert_token!(conn, id, grant)?;
            queue_email!(conn, &compose(&stored))?;
            Ok::<_, diesel::result::Error>(stored)
        })
        .map_err(write_error)
    }

    fn issue_token(
        &self,
        user_id: UserId,
        grant: &TokenGrant,
        emails: &[NewEmail],
    ) -> Result<(), UsersError> {
        let issued = in_transaction!(self, |conn| {
            let exists = users::table
                .find(user_id.0)
                .select(users::id)
                .first::<i64>(conn)
                .optional()?
                .is_some();
            if !exists {
                return Ok(false);
            }
            insert_token!(conn, user_id.0, grant)?;
            for email in emails {
                queue_email!(conn, email)?;
            }
            Ok::<_, diesel::result::Error>(true)
        })
        .map_err(storage)?;
        if issued {
            Ok(())
        } else {
            Err(UsersError::NotFound)
        }
    }

    fn issue_token_capped(
        &self,
        read: &User,
        grant: &TokenGrant,
        emails: &[NewEmail],
        cap: &MailCap,
    ) -> Result<bool, UsersError> {
        self.queue_capped(read.id, Some((grant, read)), emails, cap)
    }

    fn queue_emails_capped(
        &self,
        user_id: UserId,
        emails: &[NewEmail],
        cap: &MailCap,
    ) -> Result<bool, UsersError> {
        self.queue_capped(user_id, None, emails, cap)
    }

    fn find_token(&self, token_hash: &str) -> Result<Option<AccountToken>, UsersError> {
        let row = with_connection!(self, |conn| account_tokens::table
            .find(token_hash)
            .select(TokenRow::as_select())
            .get_result(conn)
            .optional())
        .map_err(storage)?;
        Ok(row.and_then(|row| {
            Some(AccountToken {
                user_id: UserId(row.user_id),
                purpose: TokenPurpose::from_name(&row.purpose)?,
                token_hash: row.token_hash,
                created_at: from_db(row.created_at),
                expires_at: from_db(row.expires_at),
                used_at: row.used_at.map(from_db),
            })
        }))
    }

    fn use_token(
        &self,
        token: &AccountToken,
        effect: &TokenEffect,
        now: Timestamp,
    ) -> Result<bool, UsersError> {
        let now = to_db(now);
        let id = token.user_id.0;
        let purpose = token.purpose.as_str();
        let used = in_transaction!(self, |conn| {
            // The account before its token, in the order of every change
            // that ends its sessions and tokens.
            conn.lock_account(id)?;
            let taken = diesel::update(
                account_tokens::table
                    .filter(account_tokens::token_hash.eq(&token.token_hash))
                    .filter(account_tokens::user_id.eq(id))
                    .filter(account_tokens::purpose.eq(purpose))
                    .filter(account_tokens::used_at.is_null())
                    .filter(account_tokens::expires_at.gt(now)),
            )
            .set(account_tokens::used_at.eq(Some(now)))
            .execute(conn)?;
            if taken == 0 {
                return Ok(false);
            }
            let user = users::table.find(id);
            let changed = match effect {
                TokenEffect::Activate => {
                    diesel::update(user.filter(users::deactivated_by_admin.eq(false)))
                        .set(users::is_active.eq(true))
                        .execute(conn)?
                }
                TokenEffect::SetPassword { password_hash } => {
                    diesel::update(
                        sessions::table
                            .filter(sessions::user_id.eq(id))
                            .filter(sessions::revoked_at.is_null()),
                    )
                    .set(sessions::revoked_at.eq(Some(now)))
                    .execute(conn)?;
                    diesel::delete(account_tokens::table.filter(account_tokens::user_id.eq(id)))
                        .execute(conn)?;
                    diesel::delete(passkeys::table.filter(passkeys::user_id.eq(id)))
                        .execute(conn)?;
                    diesel::update(user)
                        .set(users::password_hash.eq(password_hash))
                        .execute(conn)?
                }
                TokenEffect::SetUsername(name) => diesel::update(user)
                    .set((
                        users::username.eq(name.as_str()),
                        users::username_key.eq(name.key()),
                    ))
                    .execute(conn)?,
                TokenEffect::SetEmail(email) => diesel::update(user)
                    .set((
                        users::email.eq(Some(email.as_str())),
                        users::email_key.eq(Some(email.key())),
                    ))
                    .execute(conn)?,
            };
            if changed == 0 {
                return Err(diesel::result::Error::RollbackTransaction);
            }
            // The account's other tokens for the same purpose die with this
            // one; a new email address ends every flow of the old one.
            let others = account_tokens::table
                .filter(account_tokens::user_id.eq(id))
                .filter(account_tokens::used_at.is_null())
                .into_boxed();
            let others = match effect {
                TokenEffect::SetEmail(_) => others,
                _ => others.filter(account_tokens::purpose.eq(purpose)),
            };
            diesel::update(account_tokens::table)
                .filter(
                    account_tokens::token_hash.eq_any(others.select(account_tokens::token_hash)),
                )
                .set(account_tokens::used_at.eq(Some(now)))
                .execute(conn)?;
            Ok::<_, diesel::result::Error>(true)
        });
        self.user_changed(token.user_id);
        used.or_else(|e| match e {
            // The account went away between the check and the use, or an
            // admin deactivated it.
            PersistenceError::Query(diesel::result::Error::RollbackTransaction) => Ok(false),
            other => Err(write_error(other)),
        })
    }
}

impl MailQueue for Database {
    fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<QueuedEmail>, UsersError> {
        let now = to_db(now);
        let lease_until = to_db(lease_until);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Each claim is a compare-and-swap on the due time, so two senders
        // (two instances on one PostgreSQL) never both take an email.
        with_connection!(self, |conn| (|| {
            let due: Vec<EmailRow> = outgoing_emails::table
                .filter(outgoing_emails::sent_at.is_null())
                .filter(outgoing_emails::failed_at.is_null())
                .filter(outgoing_emails::next_attempt_at.le(now))
                .order((
                    outgoing_emails::next_attempt_at.asc(),
                    outgoing_emails::id.asc(),
                ))
                .limit(limit)
                .select(EmailRow::as_select())
                .load(conn)?;
            let mut claimed = Vec::with_capacity(due.len());
            for row in due {
                let won = diesel::update(
                    outgoing_emails::table
                        .find(row.id)
                        .filter(outgoing_emails::next_attempt_at.eq(row.next_attempt_at))
                        .filter(outgoing_emails::sent_at.is_null())
                        .filter(outgoing_emails::failed_at.is_null()),
                )
                .set(outgoing_emails::next_attempt_at.eq(lease_until))
                .execute(conn)?;
                if won == 1 {
                    claimed.push(QueuedEmail::from(row));
                }
            }
            Ok::<_, diesel::result::Error>(claimed)
        })())
        .map_err(storage)
    }

    fn mark_sent(&self, id: i64, at: Timestamp) -> Result<(), UsersError> {
        with_connection!(self, |conn| diesel::update(outgoing_emails::table.find(id))
            .set((
                outgoing_emails::sent_at.eq(Some(to_db(at))),
                outgoing_emails::body.eq(""),
                outgoing_emails::last_error.eq(None::<String>),
            ))
            .execute(conn))
        .map(|_| ())
        .map_err(storage)
    }

    fn retry_later(
        &self,
        id: i64,
        attempts: u32,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<(), UsersError> {
        let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
        let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
        with_connection!(self, |conn| diesel::update(outgoing_emails::table.find(id))
            .set((
                outgoing_emails::attempts.eq(attempts),
                outgoing_emails::next_attempt_at.eq(to_db(next_attempt_at)),
                outgoing_emails::last_error.eq(Some(&error)),
            ))
            .execute(conn))
        .map(|_| ())
        .map_err(storage)
    }

    fn give_up(
        &self,
        id: i64,
        attempts: u32,
        at: Timestamp,
        error: &str,
    ) -> Result<(), UsersError> {
        let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
        let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
        with_connection!(self, |conn| diesel::update(outgoing_emails::table.find(id))
            .set((
                outgoing_emails::attempts.eq(attempts),
                outgoing_emails::failed_at.eq(Some(to_db(at))),
                outgoing_emails::body.eq(""),
                outgoing_emails::last_error.eq(Some(&error)),
            ))
            .execute(conn))
        .map(|_| ())
        .map_err(storage)
    }

    fn next_due(&self) -> Result<Option<Timestamp>, UsersError> {
        with_connection!(self, |conn| outgoing_emails::table
            .filter(outgoing_emails::sent_at.is_null())
            .filter(outgoing_emails::failed_at.is_null())
            .order(outgoing_emails::next_attempt_at.asc())
            .select(outgoing_emails::next_attempt_at)
            .first::<chrono::NaiveDateTime>(conn)
            .optional())
        .map(|due| due.map(from_db))
        .map_err(storage)
    }
}
