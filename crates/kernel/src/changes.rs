//! Word that stored accounts or sessions changed, for whoever keeps copies of
//! them in memory (the token cache of `sesame-tokens`).

use crate::UserId;

/// Told after a change to stored users or sessions is committed, so that
/// copies kept in memory are dropped before the next request reads them.
/// Storage adapters call it on every write they make; a multi-process
/// deployment also relays the changes other processes make.
pub trait ChangeObserver: Send + Sync {
    /// The account changed or was deleted; so did, perhaps, all its sessions.
    fn user_changed(&self, user: UserId);

    /// The session changed (revoked, renewed, touched) or was deleted.
    fn session_changed(&self, session_id: &str);

    /// Anything may have changed: reports were missed, or another process
    /// changed something without saying what.
    fn all_changed(&self);

    /// The signing key set changed (a rotation, a retirement).
    fn signing_keys_changed(&self) {}
}

/// A cheap check, made before a copy in memory is trusted, of whether another
/// process sharing the storage changed users or sessions: for storage that
/// cannot push reports to other processes (one SQLite file shared by the
/// server and the command line).
pub trait OutsideChanges: Send + Sync {
    /// Whether another process reported a change since the previous call.
    fn changed_since_last_check(&self) -> bool;
}
