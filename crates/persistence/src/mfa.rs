use diesel::prelude::*;
use sesame_kernel::{StorageError, UserId};
use sesame_tokens::{MfaRepository, TokensError, TotpRecord};

use crate::email_flows::TakeTurns;
use crate::schema::{recovery_codes, user_totp};
use crate::{Database, PersistenceError};

fn storage(error: PersistenceError) -> TokensError {
    TokensError::Storage(StorageError::from(error))
}

impl MfaRepository for Database {
    fn find_totp(&self, user: UserId) -> Result<Option<TotpRecord>, TokensError> {
        with_connection!(self, |conn| user_totp::table
            .find(user.0)
            .select((
                user_totp::encrypted_secret,
                user_totp::confirmed,
                user_totp::last_used_step,
            ))
            .first::<(String, bool, Option<i64>)>(conn)
            .optional())
        .map(|row| {
            row.map(|(encrypted_secret, confirmed, last_used_step)| TotpRecord {
                encrypted_secret,
                confirmed,
                last_used_step,
            })
        })
        .map_err(storage)
    }

    fn totp_secrets(
        &self,
        after: UserId,
        limit: usize,
    ) -> Result<Vec<(UserId, String)>, TokensError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        with_connection!(self, |conn| user_totp::table
            .filter(user_totp::user_id.gt(after.0))
            .select((user_totp::user_id, user_totp::encrypted_secret))
            .order(user_totp::user_id)
            .limit(limit)
            .load::<(i64, String)>(conn))
        .map(|rows| {
            rows.into_iter()
                .map(|(user, sealed)| (UserId(user), sealed))
                .collect()
        })
        .map_err(storage)
    }

    fn save_pending_totp(&self, user: UserId, encrypted_secret: &str) -> Result<(), TokensError> {
        let saved = in_transaction!(self, |conn| {
            // Racing setups of one account take turns (on PostgreSQL, both
            // would otherwise find no row and insert one).
            conn.lock_account(user.0)?;
            diesel::delete(
                user_totp::table
                    .find(user.0)
                    .filter(user_totp::confirmed.eq(false)),
            )
            .execute(conn)?;
            // What is left is a confirmed one, from a confirmation that came first.
            let confirmed: i64 = user_totp::table.find(user.0).count().get_result(conn)?;
            if confirmed > 0 {
                return Ok(false);
            }
            diesel::insert_into(user_totp::table)
                .values((
                    user_totp::user_id.eq(user.0),
                    user_totp::encrypted_secret.eq(encrypted_secret),
                    user_totp::confirmed.eq(false),
                ))
                .execute(conn)
                .map(|_| true)
        })
        .map_err(storage)?;
        if saved {
            Ok(())
        } else {
            Err(TokensError::MfaAlreadyEnabled)
        }
    }

    fn confirm_totp(
        &self,
        user: UserId,
        encrypted_secret: &str,
        step: i64,
        recovery_code_hashes: &[String],
    ) -> Result<bool, TokensError> {
        let rows: Vec<_> = recovery_code_hashes
            .iter()
            .map(|hash| {
                (
                    recovery_codes::user_id.eq(user.0),
                    recovery_codes::code_hash.eq(hash.as_str()),
                )
            })
            .collect();
        in_transaction!(self, |conn| {
            let pending = user_totp::table
                .find(user.0)
                .filter(user_totp::confirmed.eq(false))
                .filter(user_totp::encrypted_secret.eq(encrypted_secret));
            let turned_on = diesel::update(pending)
                .set((
                    user_totp::confirmed.eq(true),
                    user_totp::last_used_step.eq(Some(step)),
                ))
                .execute(conn)?;
            if turned_on == 0 {
                return Ok(false);
            }
            diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user.0)))
                .execute(conn)?;
            diesel::insert_into(recovery_codes::table)
                .values(&rows)
                .execute(conn)?;
            Ok::<_, diesel::result::Error>(true)
        })
        .map_err(storage)
    }

    fn use_totp_step(&self, user: UserId, step: i64) -> Result<bool, TokensError> {
        with_connection!(self, |conn| diesel::update(
            user_totp::table.find(user.0).filter(
                user_totp::last_used_step
                    .is_null()
                    .or(user_totp::last_used_step.lt(step))
            )
        )
        .set(user_totp::last_used_step.eq(Some(step)))
        .execute(conn))
        .map(|changed| changed == 1)
        .map_err(storage)
    }

    fn use_recovery_code(&self, user: UserId, code_hash: &str) -> Result<bool, TokensError> {
        with_connection!(self, |conn| diesel::delete(
            recovery_codes::table
                .filter(recovery_codes::user_id.eq(user.0))
                .filter(recovery_codes::code_hash.eq(code_hash))
        )
        .execute(conn))
        .map(|deleted| deleted == 1)
        .map_err(storage)
    }

    fn remove_totp(&self, user: UserId) -> Result<(), TokensError> {
        in_transaction!(self, |conn| {
            diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user.0)))
                .execute(conn)?;
            diesel::delete(user_totp::table.find(user.0)).execute(conn)
        })
        .map(|_| ())
        .map_err(storage)
    }
}
