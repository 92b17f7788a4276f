use sesame_kernel::{Timestamp, UserId};

use crate::{Listing, Session, TokensError};

/// Where sessions are kept.
pub trait SessionRepository: Send + Sync {
    /// Stores a new session.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn create(&self, session: &Session) -> Result<(), TokensError>;

    /// The session with this id.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn find(&self, id: &str) -> Result<Option<Session>, TokensError>;

    /// The opaque session whose token hashes to `token_hash`.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn find_by_token_hash(&self, token_hash: &str) -> Result<Option<Session>, TokensError>;

    /// Replaces the session's refresh token id with `new_jti` and its expiry
    /// with `expires_at`, only if the current one is `expected_jti` and the
    /// session is not revoked: one atomic compare-and-swap. Returns whether it swapped.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn rotate_refresh(
        &self,
        id: &str,
        expected_jti: &str,
        new_jti: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, TokensError>;

    /// Records a use of the session at `now`, and moves its expiry to `expires_at` if given.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn touch(
        &self,
        id: &str,
        now: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> Result<(), TokensError>;

    /// Ends the session. Returns whether it was live.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn revoke(&self, id: &str, now: Timestamp) -> Result<bool, TokensError>;

    /// Ends every session of the user but `except`. Returns how many ended.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn revoke_all(
        &self,
        user_id: UserId,
        except: Option<&str>,
        now: Timestamp,
    ) -> Result<usize, TokensError>;

    /// The user's sessions `which` at `at` ([`Listing::includes`]), newest
    /// use first, at most `limit` of them.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn list_for_user(
        &self,
        user_id: UserId,
        which: Listing,
        at: Timestamp,
        limit: usize,
    ) -> Result<Vec<Session>, TokensError>;
}
