//! The security audit log: what happened to whom, from where, and when.

use crate::{Page, StorageError, Timestamp, UserId};

/// A security event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// What happened: `login_success`, `login_failure`, `logout`, ...
    pub kind: String,
    /// The account concerned, when known.
    pub user_id: Option<UserId>,
    /// The client IP address.
    pub ip: Option<String>,
    /// The client `User-Agent`.
    pub user_agent: Option<String>,
    /// When it happened.
    pub at: Timestamp,
    /// A short detail (the login tried, the target of an admin change, ...).
    /// Never a password, a hash or a token.
    pub detail: Option<String>,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Its id (increasing).
    pub id: i64,
    /// The event.
    pub event: AuditEvent,
}

/// Where audit events are kept.
pub trait AuditLog: Send + Sync {
    /// Appends an event.
    ///
    /// # Errors
    /// [`StorageError`] when it cannot be written.
    fn record(&self, event: &AuditEvent) -> Result<(), StorageError>;

    /// Events, newest first, of one user and/or one kind if given.
    ///
    /// # Errors
    /// [`StorageError`] when they cannot be read.
    fn entries(
        &self,
        user: Option<UserId>,
        kind: Option<&str>,
        page: Page,
    ) -> Result<Vec<AuditEntry>, StorageError>;
}
