//! Moving in (issue 19): imported accounts written in batches, each batch in
//! one transaction; and the tables of the systems they come from, read page
//! by page (a Django `auth_user` table, a fastapi-users `user` table, on
//! SQLite or PostgreSQL).

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use sesame_kernel::UserId;
use sesame_users::{ImportedAccount, User};

use crate::schema::{deleted_user_ids, passkeys, user_totp, users};
use crate::time::to_db;
use crate::users::UserRow;
use crate::{Backend, Database, PersistenceError};

/// The highest id an import keeps (`--keep-ids`): 2^31 - 1, the largest
/// id of Django's `auth_user` (a 32-bit integer), and far more accounts than
/// a Sesame holds. A higher one would move the id sequence to near its end
/// (PostgreSQL), or make SQLite's AUTOINCREMENT run out, and every later
/// sign-up would fail; below it, 2^63 - 2^31 fresh ids remain.
const MAX_KEPT_ID: i64 = i32::MAX as i64;

/// How many times a batch is written before a clash with sign-ups made
/// meanwhile stops the import.
const IMPORT_ATTEMPTS: u32 = 3;

/// What became of one imported account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Stored, with this id.
    Imported(UserId),
    /// Already there (the same username), on an account an import made, or
    /// one older than that mark, or a sign-up the record says it is (a
    /// Sesame's export imported again): why.
    Skipped(String),
    /// Not stored: why.
    Refused(String),
}

/// A stored account (or one a batch decided to write) that a record's
/// username may meet.
#[derive(Debug, Clone)]
pub struct Holder {
    /// Its username as spelt.
    pub username: String,
    /// A sign-up made it, not an import ([`ImportedAccount::made_here`]).
    pub made_here: bool,
    /// When it joined, in microseconds since the epoch (as both backends
    /// keep it).
    pub joined_micros: i64,
}

impl Holder {
    /// `account` as a holder of its username.
    pub fn of(account: &ImportedAccount) -> Holder {
        Holder {
            username: account.user.username.as_str().to_owned(),
            made_here: account.made_here,
            joined_micros: account.user.date_joined.timestamp_micros(),
        }
    }
}

impl ImportOutcome {
    /// The outcome of `account`, whose username has the identity key of
    /// `holder`'s: the same account when spelt alike and both come from an
    /// import, or both are one sign-up (joined at the same time: a Sesame's
    /// export imported again); another person's otherwise: `Alice` beside
    /// `alice` in a source that told them apart, or a sign-up meeting another
    /// system's record.
    pub fn username_found(account: &ImportedAccount, holder: &Holder) -> ImportOutcome {
        let (imported, stored) = (account.user.username.as_str(), holder.username.as_str());
        let same_sign_up = holder.made_here
            && account.made_here
            && holder.joined_micros == account.user.date_joined.timestamp_micros();
        if imported != stored {
            ImportOutcome::Refused(format!(
                "username {imported} is another account's, {stored}: they differ only in case or form"
            ))
        } else if holder.made_here && !same_sign_up {
            ImportOutcome::Refused(format!(
                "username {stored} is taken by an account made here, not imported"
            ))
        } else if account.made_here && !same_sign_up {
            ImportOutcome::Refused(format!(
                "username {stored} is taken by an imported account, and this record is a sign-up's"
            ))
        } else {
            ImportOutcome::Skipped(format!("username {imported} is already there"))
        }
    }

    /// The outcome of an account whose email is `holder`'s, another
    /// account's: the old system let two accounts share an address, maybe to
    /// have the second one's resets.
    pub fn email_found(holder: &str) -> ImportOutcome {
        ImportOutcome::Refused(format!("email is another account's, {holder}"))
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct ImportedRow<'a> {
    id: Option<i64>,
    username: &'a str,
    username_key: String,
    email: Option<&'a str>,
    email_key: Option<String>,
    first_name: &'a str,
    last_name: &'a str,
    is_active: bool,
    is_staff: bool,
    date_joined: chrono::NaiveDateTime,
    last_login: Option<chrono::NaiveDateTime>,
    password_hash: &'a str,
    deactivated_by_admin: bool,
    made_here: bool,
}

/// How many keys or ids one lookup binds, and how many rows one insert
/// writes (14 values each): well under SQLite's 32,766 and PostgreSQL's
/// 65,535 bound values, whatever the batch's size.
const CHUNK: usize = 1_000;

/// The names, addresses and ids a batch may clash with: the stored ones
/// found for the batch's keys, and those of the batch's accounts decided
/// so far.
#[derive(Default)]
struct Known {
    /// Username key → its account.
    usernames: HashMap<String, Holder>,
    /// Email key → the username of its account, and whether that account
    /// was made here.
    email_keys: HashMap<String, (String, bool)>,
    ids: HashSet<i64>,
    /// Ids of deleted accounts.
    deleted_ids: HashSet<i64>,
}

impl Known {
    /// What becomes of `account`, whose username and email have the
    /// identity keys `keys`: an outcome, or a row to write (then known to
    /// the accounts after it).
    fn decide<'a>(
        &mut self,
        account: &'a ImportedAccount,
        keys: (String, Option<String>),
        keep_ids: bool,
    ) -> Result<ImportedRow<'a>, ImportOutcome> {
        let user = &account.user;
        let (username_key, email_key) = keys;
        let id = account.id.map(|id| id.0).filter(|_| keep_ids);
        if let Some(holder) = self.usernames.get(&username_key) {
            return Err(ImportOutcome::username_found(account, holder));
        }
        if let Some((holder, made_here)) =
            email_key.as_ref().and_then(|key| self.email_keys.get(key))
        {
            return Err(if *made_here {
                let why = "email is taken by an account made here, not imported";
                ImportOutcome::Refused(why.to_owned())
            } else {
                ImportOutcome::email_found(holder)
            });
        }
        if self.email_keys.contains_key(&username_key) {
            let why = "username is another account's email";
            return Err(ImportOutcome::Refused(why.to_owned()));
        }
        if email_key
            .as_ref()
            .is_some_and(|key| self.usernames.contains_key(key))
        {
            let why = "email is another account's username";
            return Err(ImportOutcome::Refused(why.to_owned()));
        }
        if let Some(id) = id {
            if id > MAX_KEPT_ID {
                let why = format!("id {id} is above {MAX_KEPT_ID}, the highest kept");
                return Err(ImportOutcome::Refused(why));
            }
            if self.ids.contains(&id) {
                return Err(ImportOutcome::Refused(format!("id {id} is taken")));
            }
            if self.deleted_ids.contains(&id) {
                return Err(ImportOutcome::Refused(format!(
                    "id {id} belonged to an account since deleted"
                )));
            }
            self.ids.insert(id);
        }
        let holder = Holder::of(account);
        if let Some(key) = &email_key {
            (self.email_keys).insert(key.clone(), (holder.username.clone(), holder.made_here));
        }
        (self.usernames).insert(username_key.clone(), holder);
        Ok(ImportedRow {
            id,
            username: user.username.as_str(),
            username_key,
            email: user.email.as_ref().map(|e| e.as_str()),
            email_key,
            first_name: &user.first_name,
            last_name: &user.last_name,
            is_active: user.is_active,
            is_staff: user.is_staff,
            date_joined: to_db(user.date_joined),
            last_login: account.last_login.map(to_db),
            password_hash: &user.password_hash,
            deactivated_by_admin: account.deactivated_by_admin,
            made_here: account.made_here,
        })
    }
}

/// Imports a batch on `conn`, inside its transaction: one lookup of what
/// it may clash with, the decisions in memory, in order (an account clashes
/// with one before it in the batch as with a stored one), and the rows
/// written together (in one statement on PostgreSQL).
macro_rules! import_all {
    ($conn:expr, $accounts:expr, $keep_ids:expr, $draw_ids:expr) => {{
        let (accounts, keep_ids): (&[ImportedAccount], bool) = ($accounts, $keep_ids);
        let conn = $conn;
        // Identity keys are computed once an account: they cost a Unicode
        // normalisation each.
        let account_keys: Vec<(String, Option<String>)> = (accounts.iter())
            .map(|account| {
                let user = &account.user;
                (user.username.key(), user.email.as_ref().map(|e| e.key()))
            })
            .collect();
        let keys: Vec<&String> = (account_keys.iter())
            .flat_map(|(username_key, email_key)| std::iter::once(username_key).chain(email_key))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut known = Known::default();
        for keys in keys.chunks(CHUNK) {
            let stored: Vec<(String, String, Option<String>, bool, chrono::NaiveDateTime)> =
                users::table
                    .filter(
                        users::username_key
                            .eq_any(keys)
                            .or(users::email_key.eq_any(keys)),
                    )
                    .select((
                        users::username,
                        users::username_key,
                        users::email_key,
                        users::made_here,
                        users::date_joined,
                    ))
                    .load(conn)?;
            for (username, username_key, email_key, made_here, date_joined) in stored {
                if let Some(key) = email_key {
                    known.email_keys.insert(key, (username.clone(), made_here));
                }
                let holder = Holder {
                    username,
                    made_here,
                    joined_micros: date_joined.and_utc().timestamp_micros(),
                };
                known.usernames.insert(username_key, holder);
            }
        }
        if keep_ids {
            let ids: Vec<i64> = (accounts.iter())
                .filter_map(|account| account.id.map(|id| id.0))
                .filter(|id| *id <= MAX_KEPT_ID)
                .collect();
            for ids in ids.chunks(CHUNK) {
                let taken = users::table.filter(users::id.eq_any(ids)).select(users::id);
                known.ids.extend(taken.load::<i64>(conn)?);
                let deleted = (deleted_user_ids::table)
                    .filter(deleted_user_ids::id.eq_any(ids))
                    .select(deleted_user_ids::id);
                known.deleted_ids.extend(deleted.load::<i64>(conn)?);
            }
        }
        // Each account's outcome, or the key of its row, in order.
        let mut decided = Vec::with_capacity(accounts.len());
        let mut rows = Vec::new();
        for (account, keys) in accounts.iter().zip(account_keys) {
            decided.push(known.decide(account, keys, keep_ids).map(|row| {
                let key = row.username_key.clone();
                rows.push(row);
                key
            }));
        }
        // The rows that keep their id go first: a fresh row written before
        // one of them could be given its id (SQLite gives the next one).
        rows.sort_by_key(|row| row.id.is_none());
        if $draw_ids {
            // The id sequence was not moved past the kept ids: ids above
            // every one stored or kept, which a dry run throws away.
            let stored: Option<i64> = users::table
                .select(diesel::dsl::max(users::id))
                .first(conn)?;
            let kept = rows.iter().filter_map(|row| row.id).max();
            let mut next = stored.max(kept).unwrap_or(0);
            for row in rows.iter_mut().filter(|row| row.id.is_none()) {
                next += 1;
                row.id = Some(next);
            }
        }
        let mut ids = HashMap::with_capacity(rows.len());
        for rows in rows.chunks(CHUNK) {
            let written: Vec<(String, i64)> = diesel::insert_into(users::table)
                .values(rows)
                .returning((users::username_key, users::id))
                .get_results(conn)?;
            ids.extend(written);
        }
        let outcomes = (decided.into_iter())
            .map(|decided| match decided {
                Ok(key) => (ids.get(&key))
                    .map(|id| ImportOutcome::Imported(UserId(*id)))
                    .ok_or(diesel::result::Error::NotFound),
                Err(outcome) => Ok(outcome),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok::<Vec<ImportOutcome>, diesel::result::Error>(outcomes)
    }};
}

/// Moves PostgreSQL's id sequence past `$1` and every stored id, never back.
const MOVE_ID_SEQUENCE: &str = "SELECT setval(pg_get_serial_sequence('users', 'id'), GREATEST($1, \
     (SELECT MAX(id) FROM users), \
     pg_sequence_last_value(pg_get_serial_sequence('users', 'id')::regclass), 1))";

impl Database {
    /// Stores a batch of checked accounts in one transaction: each account
    /// whole (one row) or not at all; one whose username is already there is
    /// skipped ([`ImportOutcome::username_found`] says when it is refused
    /// instead), one whose email another account holds refused; with
    /// `keep_ids`, one whose id is
    /// taken, was a deleted account's, or is above 2^31 - 1 is refused.
    /// With `dry_run` the transaction is rolled back: the outcomes are what
    /// would have happened. A sign-up that took a username or email of the
    /// batch after it was looked up (PostgreSQL) has the batch written again,
    /// and that account refused.
    ///
    /// # Errors
    /// [`PersistenceError`] when the batch could not be written (nothing of
    /// it is then).
    pub fn import_batch(
        &self,
        accounts: &[ImportedAccount],
        keep_ids: bool,
        dry_run: bool,
    ) -> Result<Vec<ImportOutcome>, PersistenceError> {
        let mut attempts = 1;
        loop {
            match self.try_import_batch(accounts, keep_ids, dry_run) {
                Err(PersistenceError::Query(diesel::result::Error::DatabaseError(
                    DatabaseErrorKind::UniqueViolation,
                    _,
                ))) if attempts < IMPORT_ATTEMPTS => attempts += 1,
                done => return done,
            }
        }
    }

    fn try_import_batch(
        &self,
        accounts: &[ImportedAccount],
        keep_ids: bool,
        dry_run: bool,
    ) -> Result<Vec<ImportOutcome>, PersistenceError> {
        let mut outcomes = Vec::new();
        let postgres = matches!(self.backend(), Backend::Postgres(_));
        let written = in_transaction!(self, |conn| {
            if postgres {
                // The clash lookups are prepared once; a generic plan made
                // while the table was small would scan it whole for every
                // batch once it is large (seen: 9 ms an account at 70,000).
                diesel::sql_query("SET LOCAL plan_cache_mode = force_custom_plan").execute(conn)?;
                // The sequence moves past the batch's ids before they are
                // written (setval is not rolled back): sign-ups meanwhile,
                // or after an import cut short, get no id the import holds.
                let highest = (accounts.iter())
                    .filter_map(|account| account.id.map(|id| id.0))
                    .filter(|id| *id <= MAX_KEPT_ID)
                    .max();
                if let Some(highest) = highest.filter(|_| keep_ids && !dry_run) {
                    diesel::sql_query(MOVE_ID_SEQUENCE)
                        .bind::<BigInt, _>(highest)
                        .execute(conn)?;
                }
            }
            // A dry run does not move PostgreSQL's id sequence.
            let draw_ids = postgres && keep_ids && dry_run;
            outcomes = import_all!(&mut *conn, accounts, keep_ids, draw_ids)?;
            if dry_run {
                Err(diesel::result::Error::RollbackTransaction)
            } else {
                Ok(())
            }
        });
        match written {
            Ok(()) => Ok(outcomes),
            Err(PersistenceError::Query(diesel::result::Error::RollbackTransaction)) if dry_run => {
                Ok(outcomes)
            }
            Err(e) => Err(e),
        }
    }

    /// After an import that kept the source's ids: on PostgreSQL, moves the
    /// id sequence past the highest id, so new accounts get fresh ones, and
    /// never back, so the ids of deleted accounts are not given out again
    /// (SQLite's rowids need nothing).
    ///
    /// # Errors
    /// [`PersistenceError`] when the sequence could not be moved.
    pub fn move_id_sequence(&self) -> Result<(), PersistenceError> {
        if let Backend::Postgres(_) = self.backend() {
            with_connection!(self, |conn| diesel::sql_query(MOVE_ID_SEQUENCE)
                .bind::<BigInt, _>(1)
                .execute(conn))?;
        }
        Ok(())
    }

    /// The accounts with an id above `after`, by id, at most `limit`, for
    /// `sesame export`. Read by key, not by offset: an account deleted
    /// meanwhile moves no other out of the export.
    ///
    /// # Errors
    /// [`PersistenceError`] when they could not be read.
    pub fn export_page(
        &self,
        after: UserId,
        limit: i64,
    ) -> Result<Vec<ExportedAccount>, PersistenceError> {
        // Read after the accounts, so a factor added meanwhile is seen.
        let (rows, second_factors) = with_connection!(self, |conn| (|| {
            let rows: Vec<(i64, UserRow, bool, bool)> = users::table
                .filter(users::id.gt(after.0))
                .order(users::id.asc())
                .limit(limit)
                .select((
                    users::id,
                    UserRow::as_select(),
                    users::deactivated_by_admin,
                    users::made_here,
                ))
                .load(conn)?;
            let ids: Vec<i64> = rows.iter().map(|(id, ..)| *id).collect();
            let mut second_factors: HashSet<i64> = user_totp::table
                .filter(user_totp::user_id.eq_any(&ids))
                .filter(user_totp::confirmed.eq(true))
                .select(user_totp::user_id)
                .load::<i64>(conn)?
                .into_iter()
                .collect();
            second_factors.extend(
                passkeys::table
                    .filter(passkeys::user_id.eq_any(&ids))
                    .select(passkeys::user_id)
                    .load::<i64>(conn)?,
            );
            Ok::<_, diesel::result::Error>((rows, second_factors))
        })())?;
        Ok(rows
            .into_iter()
            .map(|(id, row, turned_off, made_here)| ExportedAccount {
                second_factor: second_factors.contains(&id),
                user: User::from(row),
                deactivated_by_admin: turned_off,
                made_here,
            })
            .collect())
    }
}

/// An account as `sesame export` reads it.
#[derive(Debug, Clone)]
pub struct ExportedAccount {
    /// The account.
    pub user: User,
    /// Someone turned it off (an activation link does not turn it on again).
    pub deactivated_by_admin: bool,
    /// It has TOTP on or a passkey: a second factor, which stays behind.
    pub second_factor: bool,
    /// A sign-up made it, not an import (see `ImportRecord::made_here`).
    pub made_here: bool,
}

/// A row of a Django `auth_user` table, as text where the backends differ.
#[derive(Debug, Clone, QueryableByName)]
pub struct DjangoRow {
    /// `id`.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// `username`.
    #[diesel(sql_type = Text)]
    pub username: String,
    /// `email` (Django stores "" for none).
    #[diesel(sql_type = Text)]
    pub email: String,
    /// `first_name`.
    #[diesel(sql_type = Text)]
    pub first_name: String,
    /// `last_name`.
    #[diesel(sql_type = Text)]
    pub last_name: String,
    /// `password` (Django's encoded hash).
    #[diesel(sql_type = Text)]
    pub password: String,
    /// `is_active` (1 or 0).
    #[diesel(sql_type = Integer)]
    pub is_active: i32,
    /// `is_staff OR is_superuser` (1 or 0).
    #[diesel(sql_type = Integer)]
    pub is_admin: i32,
    /// `date_joined` as the database prints it.
    #[diesel(sql_type = Text)]
    pub date_joined: String,
    /// `last_login` as the database prints it.
    #[diesel(sql_type = Nullable<Text>)]
    pub last_login: Option<String>,
}

/// A row of a fastapi-users `user` table.
#[derive(Debug, Clone, QueryableByName)]
pub struct FastApiUsersRow {
    /// `id` (a UUID), as text.
    #[diesel(sql_type = Text)]
    pub id: String,
    /// `email`, also the username.
    #[diesel(sql_type = Text)]
    pub email: String,
    /// `hashed_password`.
    #[diesel(sql_type = Text)]
    pub hashed_password: String,
    /// `is_active` (1 or 0).
    #[diesel(sql_type = Integer)]
    pub is_active: i32,
    /// `is_superuser` (1 or 0).
    #[diesel(sql_type = Integer)]
    pub is_superuser: i32,
    /// `is_verified` (1 or 0): whether the owner proved the address.
    #[diesel(sql_type = Integer)]
    pub is_verified: i32,
}

enum SourceConnection {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

/// A table of another system, read a page at a time (never all at once).
pub struct SourceTable {
    connection: SourceConnection,
    table: String,
}

impl std::fmt::Debug for SourceTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceTable")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

macro_rules! source_query {
    ($source:expr, $sql:expr, $row:ty $(, $bind:expr)?) => {{
        let sql: String = $sql;
        match &mut $source.connection {
            SourceConnection::Sqlite(conn) => diesel::sql_query(sql)
                $(.bind::<Text, _>($bind))?
                .load::<$row>(conn),
            SourceConnection::Postgres(conn) => diesel::sql_query(sql)
                $(.bind::<Text, _>($bind))?
                .load::<$row>(conn),
        }
        .map_err(PersistenceError::from)
    }};
}

impl SourceTable {
    /// Opens `table` at `url` (`sqlite:///path`, `sqlite://path` or
    /// `postgres://...`), read-only in intent: nothing is written there.
    ///
    /// # Errors
    /// [`PersistenceError::UnsupportedUrl`] for another URL or a table name
    /// that is not a plain identifier; [`PersistenceError::Connect`].
    pub fn open(url: &str, table: &str) -> Result<SourceTable, PersistenceError> {
        let plain = !table.is_empty()
            && table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !plain {
            return Err(PersistenceError::UnsupportedUrl(format!(
                "table name {table:?}"
            )));
        }
        let connection = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut conn = crate::database::connect_postgres(url)?;
            diesel::connection::SimpleConnection::batch_execute(&mut conn, "SET TIME ZONE 'UTC'")
                .map_err(|e| PersistenceError::Connect(e.to_string()))?;
            SourceConnection::Postgres(conn)
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if !std::path::Path::new(path).is_file() {
                return Err(PersistenceError::Connect(format!(
                    "no SQLite file at {path}"
                )));
            }
            let conn = diesel::SqliteConnection::establish(path)
                .map_err(|e| PersistenceError::Connect(e.to_string()))?;
            SourceConnection::Sqlite(conn)
        } else {
            return Err(PersistenceError::unsupported_url(url));
        };
        let table = table
            .split('.')
            .map(|part| format!("\"{part}\""))
            .collect::<Vec<_>>()
            .join(".");
        Ok(SourceTable { connection, table })
    }

    /// Up to `limit` rows of a Django `auth_user` table with ids above `after`.
    ///
    /// # Errors
    /// [`PersistenceError::Query`], e.g. when the table is not Django's.
    pub fn django_page(
        &mut self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<DjangoRow>, PersistenceError> {
        let sql = format!(
            "SELECT CAST(id AS BIGINT) AS id, username, email, first_name, last_name, password, \
             CASE WHEN is_active THEN 1 ELSE 0 END AS is_active, \
             CASE WHEN is_staff OR is_superuser THEN 1 ELSE 0 END AS is_admin, \
             CAST(date_joined AS TEXT) AS date_joined, CAST(last_login AS TEXT) AS last_login \
             FROM {} WHERE id > {after} ORDER BY id LIMIT {limit}",
            self.table
        );
        source_query!(self, sql, DjangoRow)
    }

    /// Up to `limit` rows of a fastapi-users `user` table, by email, those
    /// after the email `after` (unique there) when given.
    ///
    /// # Errors
    /// [`PersistenceError::Query`], e.g. when the table is not fastapi-users'.
    pub fn fastapi_users_page(
        &mut self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<FastApiUsersRow>, PersistenceError> {
        let Some(after) = after else {
            return source_query!(self, self.fastapi_users_select("", limit), FastApiUsersRow);
        };
        let placeholder = match self.connection {
            SourceConnection::Sqlite(_) => "?",
            SourceConnection::Postgres(_) => "$1",
        };
        let sql = self.fastapi_users_select(&format!("WHERE email > {placeholder}"), limit);
        source_query!(self, sql, FastApiUsersRow, after)
    }

    fn fastapi_users_select(&self, filter: &str, limit: i64) -> String {
        format!(
            "SELECT CAST(id AS TEXT) AS id, email, hashed_password, \
             CASE WHEN is_active THEN 1 ELSE 0 END AS is_active, \
             CASE WHEN is_superuser THEN 1 ELSE 0 END AS is_superuser, \
             CASE WHEN is_verified THEN 1 ELSE 0 END AS is_verified \
             FROM {} {filter} ORDER BY email LIMIT {limit}",
            self.table
        )
    }
}
