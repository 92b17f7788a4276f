//! `PasskeyRepository` and `ChallengeStore` on both backends.

use diesel::prelude::*;
use sesame_kernel::{StorageError, Timestamp, UserId};
use sesame_tokens::{
    Ceremony, CeremonyKind, ChallengeStore, PasskeyRepository, StoredPasskey, TokensError,
};

use crate::database::Returned;
use crate::email_flows::TakeTurns;
use crate::error::unique_violation;
use crate::schema::{passkey_challenges, passkeys};
use crate::time::{from_db, to_db};
use crate::{Database, PersistenceError};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = passkeys)]
struct PasskeyRow {
    id: String,
    user_id: i64,
    credential_id: String,
    user_handle: String,
    name: String,
    credential: String,
    counter: i64,
    created_at: chrono::NaiveDateTime,
    last_used_at: Option<chrono::NaiveDateTime>,
}

impl PasskeyRow {
    fn from_passkey(passkey: &StoredPasskey) -> Self {
        PasskeyRow {
            id: passkey.id.clone(),
            user_id: passkey.user_id.0,
            credential_id: passkey.credential_id.clone(),
            user_handle: passkey.user_handle.clone(),
            name: passkey.name.clone(),
            credential: passkey.credential.clone(),
            counter: i64::from(passkey.counter),
            created_at: to_db(passkey.created_at),
            last_used_at: passkey.last_used_at.map(to_db),
        }
    }

    fn into_passkey(self) -> Result<StoredPasskey, TokensError> {
        let counter = u32::try_from(self.counter).map_err(|_| {
            TokensError::Storage(StorageError(format!(
                "passkey {} has counter {} out of range",
                self.id, self.counter
            )))
        })?;
        Ok(StoredPasskey {
            id: self.id,
            user_id: UserId(self.user_id),
            credential_id: self.credential_id,
            user_handle: self.user_handle,
            name: self.name,
            credential: self.credential,
            counter,
            created_at: from_db(self.created_at),
            last_used_at: self.last_used_at.map(from_db),
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = passkey_challenges)]
struct CeremonyRow {
    kind: String,
    user_id: Option<i64>,
    state: String,
    expires_at: chrono::NaiveDateTime,
}

impl CeremonyRow {
    fn into_ceremony(self) -> Result<Ceremony, TokensError> {
        let kind = CeremonyKind::from_name(&self.kind).ok_or_else(|| {
            TokensError::Storage(StorageError(format!(
                "unknown ceremony kind {:?}",
                self.kind
            )))
        })?;
        Ok(Ceremony {
            kind,
            user_id: self.user_id.map(UserId),
            state: self.state,
            expires_at: from_db(self.expires_at),
        })
    }
}

fn storage(error: PersistenceError) -> TokensError {
    TokensError::Storage(error.into())
}

fn rows_into_passkeys(rows: Vec<PasskeyRow>) -> Result<Vec<StoredPasskey>, TokensError> {
    rows.into_iter().map(PasskeyRow::into_passkey).collect()
}

impl PasskeyRepository for Database {
    fn insert_passkey(&self, passkey: &StoredPasskey, at_most: usize) -> Result<(), TokensError> {
        let row = PasskeyRow::from_passkey(passkey);
        let at_most_rows = i64::try_from(at_most).unwrap_or(i64::MAX);
        let inserted = in_transaction!(self, |conn| {
            // Registrations of one account finishing at once take turns (on
            // PostgreSQL, each would otherwise count the others' rows out).
            conn.lock_account(row.user_id)?;
            let held: i64 = passkeys::table
                .filter(passkeys::user_id.eq(row.user_id))
                .count()
                .get_result(conn)?;
            if held >= at_most_rows {
                return Ok(false);
            }
            diesel::insert_into(passkeys::table)
                .values(&row)
                .execute(conn)
                .map(|_| true)
        })
        .map_err(|e| {
            if unique_violation(&e).is_some() {
                TokensError::PasskeyExists
            } else {
                storage(e)
            }
        })?;
        if inserted {
            Ok(())
        } else {
            Err(TokensError::TooManyPasskeys(at_most))
        }
    }

    fn passkeys_of(&self, user: UserId) -> Result<Vec<StoredPasskey>, TokensError> {
        let rows = with_connection!(self, |conn| passkeys::table
            .filter(passkeys::user_id.eq(user.0))
            .order((passkeys::created_at.asc(), passkeys::id.asc()))
            .select(PasskeyRow::as_select())
            .load(conn))
        .map_err(storage)?;
        rows_into_passkeys(rows)
    }

    fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<StoredPasskey>, TokensError> {
        let row = with_connection!(self, |conn| passkeys::table
            .filter(passkeys::credential_id.eq(credential_id))
            .select(PasskeyRow::as_select())
            .first(conn)
            .optional())
        .map_err(storage)?;
        row.map(PasskeyRow::into_passkey).transpose()
    }

    fn record_passkey_use(
        &self,
        id: &str,
        seen_counter: u32,
        counter: u32,
        credential: &str,
        at: Timestamp,
    ) -> Result<bool, TokensError> {
        with_connection!(self, |conn| diesel::update(
            passkeys::table
                .find(id)
                .filter(passkeys::counter.eq(i64::from(seen_counter)))
        )
        .set((
            passkeys::counter.eq(i64::from(counter)),
            passkeys::credential.eq(credential),
            passkeys::last_used_at.eq(Some(to_db(at))),
        ))
        .execute(conn))
        .map(|changed| changed == 1)
        .map_err(storage)
    }

    fn delete_passkey(&self, user: UserId, id: &str) -> Result<bool, TokensError> {
        with_connection!(self, |conn| diesel::delete(
            passkeys::table
                .find(id)
                .filter(passkeys::user_id.eq(user.0))
        )
        .execute(conn))
        .map(|deleted| deleted == 1)
        .map_err(storage)
    }
}

/// How many lapsed ceremonies each new one sweeps away, at most.
const LAPSED_PER_SWEEP: i64 = 1_000;

impl ChallengeStore for Database {
    fn put_ceremony(
        &self,
        id: &str,
        ceremony: &Ceremony,
        now: Timestamp,
    ) -> Result<(), TokensError> {
        with_connection!(self, |conn| (|| {
            // Lapsed ones, a batch at a time, in a statement of its own: an
            // insert in the same transaction would hold them locked while it
            // waits for its account's row, which deleting that account holds
            // while it waits for them.
            let lapsed: Vec<String> = passkey_challenges::table
                .filter(passkey_challenges::expires_at.le(to_db(now)))
                .select(passkey_challenges::id)
                .limit(LAPSED_PER_SWEEP)
                .load(conn)?;
            if !lapsed.is_empty() {
                diesel::delete(
                    passkey_challenges::table.filter(passkey_challenges::id.eq_any(&lapsed)),
                )
                .execute(conn)?;
            }
            diesel::insert_into(passkey_challenges::table)
                .values((
                    passkey_challenges::id.eq(id),
                    passkey_challenges::kind.eq(ceremony.kind.as_str()),
                    passkey_challenges::user_id.eq(ceremony.user_id.map(|u| u.0)),
                    passkey_challenges::state.eq(&ceremony.state),
                    passkey_challenges::expires_at.eq(to_db(ceremony.expires_at)),
                ))
                .execute(conn)
        })())
        .map(|_| ())
        .map_err(storage)
    }

    fn take_ceremony(&self, id: &str, now: Timestamp) -> Result<Option<Ceremony>, TokensError> {
        let row = with_connection!(self, |conn| diesel::delete(
            passkey_challenges::table.find(id)
        )
        .returning(CeremonyRow::as_returning())
        .get_returned(conn)
        .optional())
        .map_err(storage)?;
        let ceremony = row.map(CeremonyRow::into_ceremony).transpose()?;
        Ok(ceremony.filter(|c| c.expires_at > now))
    }
}
