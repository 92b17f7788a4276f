//! Accounts' failed logins and locks, shared by every instance on the
//! database: the lockout's [`AccountLocks`].

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sesame_kernel::{StorageError, UserId};
use sesame_tokens::{AccountLocks, LockState, TokensError};

use crate::schema::account_locks;
use crate::time::{from_db, to_db};
use crate::{Database, PersistenceError};

fn storage(error: PersistenceError) -> TokensError {
    TokensError::Storage(StorageError::from(error))
}

#[derive(Queryable, Selectable, AsChangeset)]
#[diesel(table_name = account_locks, treat_none_as_null = true)]
struct Row {
    failures_until: Option<NaiveDateTime>,
    locked_until: Option<NaiveDateTime>,
    streak: i32,
    wrong_codes: i32,
    last_wrong_code: Option<NaiveDateTime>,
    wrong_passwords: i32,
    last_wrong_password: Option<NaiveDateTime>,
}

impl From<Row> for LockState {
    fn from(row: Row) -> Self {
        LockState {
            failures_until: row.failures_until.map(from_db),
            locked_until: row.locked_until.map(from_db),
            streak: u32::try_from(row.streak).unwrap_or(0),
            wrong_codes: u32::try_from(row.wrong_codes).unwrap_or(0),
            last_wrong_code: row.last_wrong_code.map(from_db),
            wrong_passwords: u32::try_from(row.wrong_passwords).unwrap_or(0),
            last_wrong_password: row.last_wrong_password.map(from_db),
        }
    }
}

impl From<LockState> for Row {
    fn from(state: LockState) -> Self {
        Row {
            failures_until: state.failures_until.map(to_db),
            locked_until: state.locked_until.map(to_db),
            streak: i32::try_from(state.streak).unwrap_or(i32::MAX),
            wrong_codes: i32::try_from(state.wrong_codes).unwrap_or(i32::MAX),
            last_wrong_code: state.last_wrong_code.map(to_db),
            wrong_passwords: i32::try_from(state.wrong_passwords).unwrap_or(i32::MAX),
            last_wrong_password: state.last_wrong_password.map(to_db),
        }
    }
}

impl AccountLocks for Database {
    fn account_locks(&self, users: &[UserId]) -> Result<Vec<LockState>, TokensError> {
        let ids: Vec<i64> = users.iter().map(|user| user.0).collect();
        with_connection!(self, |conn| account_locks::table
            .filter(account_locks::user_id.eq_any(&ids))
            .select(Row::as_select())
            .load::<Row>(conn))
        .map(|rows| rows.into_iter().map(LockState::from).collect())
        .map_err(storage)
    }

    fn change_account_lock(
        &self,
        user: UserId,
        change: &mut dyn FnMut(&mut LockState),
    ) -> Result<LockState, TokensError> {
        in_transaction!(self, |conn| {
            diesel::insert_into(account_locks::table)
                .values(account_locks::user_id.eq(user.0))
                .on_conflict_do_nothing()
                .execute(conn)?;
            // Holds the row until the end of the transaction on PostgreSQL
            // (SQLite's transaction holds the whole database already), so
            // that two instances counting at once both count.
            diesel::update(account_locks::table.find(user.0))
                .set(account_locks::user_id.eq(user.0))
                .execute(conn)?;
            let row = account_locks::table
                .find(user.0)
                .select(Row::as_select())
                .first::<Row>(conn)?;
            let mut state = LockState::from(row);
            change(&mut state);
            diesel::update(account_locks::table.find(user.0))
                .set(Row::from(state))
                .execute(conn)?;
            Ok::<_, diesel::result::Error>(state)
        })
        .map_err(storage)
    }
}
