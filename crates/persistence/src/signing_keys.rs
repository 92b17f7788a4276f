//! The JWT signing key set, shared by every instance on the database.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sesame_kernel::{OutsideChanges, StorageError};
use sesame_tokens::{KeyState, SigningKeyRepository, StoredSigningKey, TokensError};

use crate::change_file::{self, ChangeFile};
use crate::email_flows::TakeTurns;
use crate::schema::signing_keys;
use crate::time::{from_db, to_db};
use crate::{Database, PersistenceError};

fn storage(error: PersistenceError) -> TokensError {
    TokensError::Storage(StorageError::from(error))
}

type Row = (
    String,
    String,
    String,
    NaiveDateTime,
    String,
    Option<String>,
);

fn from_row(
    (kid, algorithm, state, created_at, sealed_private, public_jwk): Row,
) -> Result<StoredSigningKey, TokensError> {
    Ok(StoredSigningKey {
        kid,
        algorithm: algorithm.parse()?,
        state: state.parse()?,
        created_at: from_db(created_at),
        sealed_private,
        public_jwk,
    })
}

impl SigningKeyRepository for Database {
    fn list_keys(&self) -> Result<Vec<StoredSigningKey>, TokensError> {
        let rows: Vec<Row> = with_connection!(self, |conn| signing_keys::table
            .order((signing_keys::created_at, signing_keys::kid))
            .load::<Row>(conn))
        .map_err(storage)?;
        rows.into_iter().map(from_row).collect()
    }

    fn activate_new(&self, key: &StoredSigningKey) -> Result<(), TokensError> {
        in_transaction!(self, |conn| {
            // Two rotations at once would each demote what they saw active
            // and both insert one: they take turns.
            conn.lock_signing_keys()?;
            diesel::update(
                signing_keys::table.filter(signing_keys::state.eq(KeyState::Active.as_str())),
            )
            .set(signing_keys::state.eq(KeyState::Verifying.as_str()))
            .execute(conn)?;
            diesel::insert_into(signing_keys::table)
                .values((
                    signing_keys::kid.eq(&key.kid),
                    signing_keys::algorithm.eq(key.algorithm.as_str()),
                    signing_keys::state.eq(KeyState::Active.as_str()),
                    signing_keys::created_at.eq(to_db(key.created_at)),
                    signing_keys::sealed_private.eq(&key.sealed_private),
                    signing_keys::public_jwk.eq(key.public_jwk.as_deref()),
                ))
                .execute(conn)
        })
        .map_err(storage)?;
        self.signing_keys_announce();
        Ok(())
    }

    fn retire(&self, kid: &str) -> Result<bool, TokensError> {
        let retired = with_connection!(self, |conn| diesel::update(
            signing_keys::table
                .find(kid)
                .filter(signing_keys::state.eq(KeyState::Verifying.as_str()))
        )
        .set(signing_keys::state.eq(KeyState::Retired.as_str()))
        .execute(conn))
        .map_err(storage)?;
        self.signing_keys_announce();
        Ok(retired > 0)
    }

    fn reseal(&self, sealed: &[(String, String)]) -> Result<(), TokensError> {
        in_transaction!(self, |conn| {
            conn.lock_signing_keys()?;
            for (kid, sealed_private) in sealed {
                diesel::update(signing_keys::table.find(kid))
                    .set(signing_keys::sealed_private.eq(sealed_private))
                    .execute(conn)?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .map_err(storage)?;
        self.signing_keys_announce();
        Ok(())
    }
}

impl Database {
    /// On SQLite, the file beside the database that other processes touch
    /// when they change the key set.
    fn key_change_file(&self) -> Option<ChangeFile> {
        self.sqlite_file
            .as_deref()
            .map(|path| ChangeFile::beside(&format!("{path}-keys")))
    }

    fn signing_keys_announce(&self) {
        if let Some(file) = self.key_change_file() {
            file.announce();
        }
    }

    /// On SQLite, starts a thread that tells the observers given to
    /// [`Database::observe_changes`], in turn, when another process changes
    /// the signing key set: it looks at the key change file five times a
    /// second. (On PostgreSQL the notices `listen_for_notices` relays tell
    /// them.) The thread ends with the database.
    pub fn watch_signing_keys(&self) {
        if let Some(file) = self.key_change_file() {
            let changed = move || file.changed_since_last_check();
            change_file::poll("sesame-keys", self.observers(), changed, |o| {
                o.signing_keys_changed()
            });
        }
    }
}
