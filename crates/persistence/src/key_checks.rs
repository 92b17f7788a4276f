//! Digests of the keys every instance must share but keeps outside the
//! database (the MFA key): the first instance to start records its key's,
//! and an instance with another key is told so before it serves.

use diesel::prelude::*;

use crate::schema::key_checks;
use crate::{Database, PersistenceError};

impl Database {
    /// Whether `digest` is the one recorded under `name`, recording it when
    /// none is.
    ///
    /// # Errors
    /// [`PersistenceError`] when the database cannot tell.
    pub fn key_check(&self, name: &str, digest: &str) -> Result<bool, PersistenceError> {
        let recorded: String = in_transaction!(self, |conn| {
            diesel::insert_into(key_checks::table)
                .values((key_checks::name.eq(name), key_checks::digest.eq(digest)))
                .on_conflict_do_nothing()
                .execute(conn)?;
            key_checks::table
                .find(name)
                .select(key_checks::digest)
                .first(conn)
        })?;
        Ok(recorded == digest)
    }

    /// Records `digest` under `name`, in place of any other: the key is now
    /// this one (the one before is lost).
    ///
    /// # Errors
    /// [`PersistenceError`] when it cannot be written.
    pub fn replace_key_check(&self, name: &str, digest: &str) -> Result<(), PersistenceError> {
        with_connection!(self, |conn| {
            diesel::insert_into(key_checks::table)
                .values((key_checks::name.eq(name), key_checks::digest.eq(digest)))
                .on_conflict(key_checks::name)
                .do_update()
                .set(key_checks::digest.eq(digest))
                .execute(conn)
        })?;
        Ok(())
    }
}
