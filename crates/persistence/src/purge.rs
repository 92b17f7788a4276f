//! Removal of rows nothing will read again: sessions (JWT, refresh and
//! opaque) expired or revoked, one-time tokens used or expired, emails
//! delivered or given up, each once it is older than a cutoff. Rows go in
//! small batches, each its own statement, so that no table is locked for
//! long. Audit rows are never purged here.

use diesel::prelude::*;
use sesame_kernel::Timestamp;
use sesame_users::MAIL_CAP_WINDOW;

use crate::schema::{account_tokens, outgoing_emails, sessions};
use crate::time::to_db;
use crate::{Database, PersistenceError};

/// Rows removed per statement.
pub const PURGE_BATCH: i64 = 500;

/// How many rows one purge removed, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Sessions, refresh and opaque tokens.
    pub sessions: usize,
    /// One-time tokens (activation, resets, email changes).
    pub account_tokens: usize,
    /// Delivered or given-up emails.
    pub emails: usize,
}

impl Database {
    /// Removes every row that ended (expired, revoked, used, delivered)
    /// before `cutoff`, batch by batch.
    ///
    /// # Errors
    /// The first storage error; what was removed before it stays removed.
    pub fn purge_before(&self, cutoff: Timestamp) -> Result<Purged, PersistenceError> {
        Ok(Purged {
            sessions: in_batches(|| self.purge_sessions(cutoff, PURGE_BATCH))?,
            account_tokens: in_batches(|| self.purge_account_tokens(cutoff, PURGE_BATCH))?,
            emails: in_batches(|| self.purge_emails(cutoff, PURGE_BATCH))?,
        })
    }

    /// Removes at most `batch` sessions that expired or were revoked before
    /// `cutoff`; returns how many.
    ///
    /// # Errors
    /// A storage error.
    pub fn purge_sessions(&self, cutoff: Timestamp, batch: i64) -> Result<usize, PersistenceError> {
        let cutoff = to_db(cutoff);
        with_connection!(self, |conn| {
            let ended = sessions::table
                .select(sessions::id)
                .filter(
                    sessions::expires_at
                        .lt(cutoff)
                        .or(sessions::revoked_at.lt(cutoff)),
                )
                .limit(batch)
                .load::<String>(conn)?;
            diesel::delete(sessions::table.filter(sessions::id.eq_any(ended))).execute(conn)
        })
    }

    /// Removes at most `batch` one-time tokens used or expired before
    /// `cutoff`; returns how many.
    ///
    /// # Errors
    /// A storage error.
    pub fn purge_account_tokens(
        &self,
        cutoff: Timestamp,
        batch: i64,
    ) -> Result<usize, PersistenceError> {
        let cutoff = to_db(cutoff);
        with_connection!(self, |conn| {
            let ended = account_tokens::table
                .select(account_tokens::token_hash)
                .filter(
                    account_tokens::expires_at
                        .lt(cutoff)
                        .or(account_tokens::used_at.lt(cutoff)),
                )
                .limit(batch)
                .load::<String>(conn)?;
            diesel::delete(account_tokens::table.filter(account_tokens::token_hash.eq_any(ended)))
                .execute(conn)
        })
    }

    /// Removes at most `batch` emails delivered or given up before
    /// `cutoff`, and queued [`MAIL_CAP_WINDOW`] before it: the caps on
    /// emails to an address count them until then, however short the
    /// retention. Returns how many.
    ///
    /// # Errors
    /// A storage error.
    pub fn purge_emails(&self, cutoff: Timestamp, batch: i64) -> Result<usize, PersistenceError> {
        let counted_since = to_db(cutoff - MAIL_CAP_WINDOW);
        let cutoff = to_db(cutoff);
        with_connection!(self, |conn| {
            let ended = outgoing_emails::table
                .select(outgoing_emails::id)
                .filter(
                    outgoing_emails::sent_at
                        .lt(cutoff)
                        .or(outgoing_emails::failed_at.lt(cutoff)),
                )
                .filter(outgoing_emails::queued_at.lt(counted_since))
                .limit(batch)
                .load::<i64>(conn)?;
            diesel::delete(outgoing_emails::table.filter(outgoing_emails::id.eq_any(ended)))
                .execute(conn)
        })
    }
}

/// Runs `batch` until it removes fewer than a full batch; the total.
fn in_batches(
    mut batch: impl FnMut() -> Result<usize, PersistenceError>,
) -> Result<usize, PersistenceError> {
    let mut total = 0;
    loop {
        let removed = batch()?;
        total += removed;
        if removed < PURGE_BATCH as usize {
            return Ok(total);
        }
    }
}
