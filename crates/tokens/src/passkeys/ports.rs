//! What the passkey use cases keep: the passkeys themselves, and the state
//! of each ceremony between its two requests.

use sesame_kernel::{Timestamp, UserId};

use crate::TokensError;

/// A passkey as it is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// Sesame's own id of the passkey (what routes name).
    pub id: String,
    /// Whose passkey it is.
    pub user_id: UserId,
    /// The credential id the authenticator chose, unpadded base64url; unique.
    pub credential_id: String,
    /// The user handle the authenticator keeps for a discoverable passkey.
    pub user_handle: String,
    /// A name the owner recognises.
    pub name: String,
    /// The credential (public key, algorithm, flags) as webauthn-rs
    /// serialises it.
    pub credential: String,
    /// The last signature counter seen.
    pub counter: u32,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it last logged in.
    pub last_used_at: Option<Timestamp>,
}

impl std::fmt::Debug for StoredPasskey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredPasskey")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

/// Where passkeys are kept.
pub trait PasskeyRepository: Send + Sync {
    /// Stores a new passkey, unless its account already holds `at_most`:
    /// registrations of one account finishing at once take turns, so none
    /// goes past the cap.
    ///
    /// # Errors
    /// [`TokensError::TooManyPasskeys`] with `at_most`;
    /// [`TokensError::PasskeyExists`] when its credential id is already
    /// registered (to anyone); [`TokensError::Storage`].
    fn insert_passkey(&self, passkey: &StoredPasskey, at_most: usize) -> Result<(), TokensError>;

    /// The passkeys of `user`, oldest first.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn passkeys_of(&self, user: UserId) -> Result<Vec<StoredPasskey>, TokensError>;

    /// The passkey with this credential id.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<StoredPasskey>, TokensError>;

    /// Records a login with the passkey `id`: the new counter, credential and
    /// time, only if the stored counter is still `seen_counter` (one atomic
    /// compare-and-swap, so that of two racing logins with one counter
    /// value, one wins). Returns whether it was recorded.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn record_passkey_use(
        &self,
        id: &str,
        seen_counter: u32,
        counter: u32,
        credential: &str,
        at: Timestamp,
    ) -> Result<bool, TokensError>;

    /// Deletes the passkey `id` of `user`. Returns whether there was one.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn delete_passkey(&self, user: UserId, id: &str) -> Result<bool, TokensError>;
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// Registering a passkey for a signed-in user.
    Registration,
    /// Logging in as a named account, with its passkeys listed.
    Login,
    /// Logging in with a discoverable passkey, which names its user.
    DiscoverableLogin,
}

impl CeremonyKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Registration => "registration",
            CeremonyKind::Login => "login",
            CeremonyKind::DiscoverableLogin => "discoverable",
        }
    }

    /// The kind from its stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            CeremonyKind::Registration,
            CeremonyKind::Login,
            CeremonyKind::DiscoverableLogin,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }
}

/// A ceremony between its begin and its finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    /// What it is for.
    pub kind: CeremonyKind,
    /// The account it concerns: the registering user, or the named login's
    /// account (none for a name that names no account, or a discoverable login).
    pub user_id: Option<UserId>,
    /// webauthn-rs's ceremony state, serialised.
    pub state: String,
    /// When it lapses.
    pub expires_at: Timestamp,
}

/// Where ceremonies wait for their second request: in shared storage, so
/// that any instance can finish what another began.
pub trait ChallengeStore: Send + Sync {
    /// Keeps `ceremony` under `id` (a digest of its challenge); ceremonies
    /// lapsed before `now` may be forgotten meanwhile.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn put_ceremony(
        &self,
        id: &str,
        ceremony: &Ceremony,
        now: Timestamp,
    ) -> Result<(), TokensError>;

    /// Takes the ceremony `id` out of the store: of two callers, one gets it.
    /// A lapsed one is deleted all the same, and not returned.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn take_ceremony(&self, id: &str, now: Timestamp) -> Result<Option<Ceremony>, TokensError>;
}
