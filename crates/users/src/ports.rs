use sesame_kernel::{Page, Timestamp, UserId};

use crate::{
    AccountToken, AvatarName, MailCap, MailError, NewEmail, NewUser, OutgoingEmail, Password,
    ProfileChanges, ProfileUpdated, QueuedEmail, TokenEffect, TokenGrant, User, Username,
    UsersError,
};

/// Where accounts are kept. Usernames and emails are unique by their
/// [`identity_key`](crate::identity_key) (case and compatibility forms ignored),
/// and the store itself enforces it, so two racing writers cannot both win.
pub trait UserRepository: Send + Sync {
    /// Stores a new account and returns it with its id.
    ///
    /// # Errors
    /// [`UsersError::UsernameTaken`] or [`UsersError::EmailTaken`] when the
    /// store already holds either; [`UsersError::Storage`] on failure.
    fn insert(&self, user: &NewUser) -> Result<User, UsersError>;

    /// The account with this id.
    ///
    /// # Errors
    /// [`UsersError::Storage`] on failure.
    fn find_by_id(&self, id: UserId) -> Result<Option<User>, UsersError>;

    /// The account whose username has the same [`identity_key`](crate::identity_key).
    ///
    /// # Errors
    /// [`UsersError::Storage`] on failure.
    fn find_by_username(&self, username: &str) -> Result<Option<User>, UsersError>;

    /// The account whose email has the same [`identity_key`](crate::identity_key).
    ///
    /// # Errors
    /// [`UsersError::Storage`] on failure.
    fn find_by_email(&self, email: &str) -> Result<Option<User>, UsersError>;

    /// Accounts in id order.
    ///
    /// # Errors
    /// [`UsersError::Storage`] on failure.
    fn list(&self, page: Page) -> Result<Vec<User>, UsersError>;

    /// Applies profile changes and returns the account as it now is, with
    /// the avatar a new or removed one replaced, read in the same
    /// transaction as the change. A new email address (another key) deletes
    /// every one-time token of the account in that transaction too: flows
    /// started for the old address end.
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::EmailTaken`], [`UsersError::Storage`].
    fn update_profile(
        &self,
        id: UserId,
        changes: &ProfileChanges,
    ) -> Result<ProfileUpdated, UsersError>;

    /// Renames the account.
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::UsernameTaken`], [`UsersError::Storage`].
    fn set_username(&self, id: UserId, username: &Username) -> Result<(), UsersError>;

    /// Replaces the password hash, if it is still `replaced_hash` (the one
    /// whose password the caller confirmed), and, in the same transaction,
    /// revokes every session of the account except `keep_session` and
    /// deletes every one-time token of it (reset and activation links die
    /// with the old password).
    ///
    /// # Errors
    /// [`UsersError::WrongCurrentPassword`] when the hash is no longer
    /// `replaced_hash` (a reset came first; nothing is changed),
    /// [`UsersError::NotFound`], [`UsersError::Storage`].
    fn change_password(
        &self,
        id: UserId,
        replaced_hash: &str,
        password_hash: &str,
        keep_session: Option<&str>,
        now: Timestamp,
    ) -> Result<(), UsersError>;

    /// Sets the active and admin flags that are given. Deactivating revokes
    /// every session of the account and deletes its one-time tokens in the
    /// same transaction, and no activation link activates the account again
    /// until an admin does (`is_active` true).
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::Storage`].
    fn set_flags(
        &self,
        id: UserId,
        is_active: Option<bool>,
        is_staff: Option<bool>,
    ) -> Result<(), UsersError>;

    /// Records a successful login.
    ///
    /// # Errors
    /// [`UsersError::Storage`] on failure.
    fn record_login(&self, id: UserId, at: Timestamp) -> Result<(), UsersError>;

    /// Records a successful login that replaces the password hash it was
    /// checked against, `checked_hash` (an imported one), by Sesame's own
    /// `password_hash`: the login, the new hash and the audit event
    /// `password_rehashed` (detail: `from` plus the old format's name, never
    /// a hash), in one transaction, and only if the account still has
    /// `checked_hash`. `false`, with nothing written, when the password
    /// changed since it was checked (a reset that must not be undone). The
    /// default records the login only and keeps the old hash, which still
    /// verifies.
    ///
    /// # Errors
    /// [`UsersError::Storage`] on failure.
    fn record_login_rehashed(
        &self,
        id: UserId,
        at: Timestamp,
        checked_hash: &str,
        password_hash: &str,
        old_format: &str,
    ) -> Result<bool, UsersError> {
        let _ = (checked_hash, password_hash, old_format);
        self.record_login(id, at).map(|()| true)
    }

    /// Deletes the account and everything that belongs to it.
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::Storage`].
    fn delete(&self, id: UserId) -> Result<(), UsersError>;
}

/// Turns passwords into stored hashes and checks candidates against them.
pub trait PasswordHasher: Send + Sync {
    /// A salted, slow hash of `password`.
    ///
    /// # Errors
    /// [`UsersError::Storage`] if hashing itself fails.
    fn hash(&self, password: &Password) -> Result<String, UsersError>;

    /// Whether `candidate` is the password behind `stored_hash`.
    fn verify(&self, candidate: &str, stored_hash: &str) -> bool;

    /// Whether `stored_hash` is not this hasher's own (an imported one) and
    /// should be replaced at the next successful login. Cheap: no hashing.
    fn needs_rehash(&self, stored_hash: &str) -> bool {
        let _ = stored_hash;
        false
    }

    /// Costs as much as [`PasswordHasher::verify`], for logins of unknown
    /// users, so that timing does not tell which accounts exist.
    fn spend_verify_time(&self, candidate: &str);
}

/// Counts wrong current passwords given to confirm a change, so that
/// someone holding only a signed-in session (a stolen token) cannot guess
/// the password behind it. An implementation may share its counts with the
/// failed logins of the same account.
pub trait ConfirmationThrottle: Send + Sync {
    /// Seconds until `user` may confirm with a password again; `None` when
    /// nothing holds it back.
    fn locked_for(&self, user: UserId) -> Option<u64>;

    /// Counts a wrong current password of `user`; too many lock it.
    fn record_failure(&self, user: UserId);

    /// Counts a wrong second-factor code of `user` (its failure is counted
    /// too); returns how many came since its last good login.
    fn record_wrong_code(&self, user: UserId) -> u32;

    /// Counts a wrong current password of `user` towards the owner's alert
    /// (see [`crate::AccountService::report_wrong_passwords`]), whether or
    /// not the lockout is on; returns how many came since its last good login.
    fn record_wrong_password(&self, user: UserId) -> u32;

    /// `user` has a new password: what was counted against the old one
    /// (wrong codes and passwords, locks) starts over, as at a good login,
    /// since whoever guessed with it no longer holds it.
    fn password_replaced(&self, user: UserId) {
        let _ = user;
    }

    /// [`UsersError::ConfirmationThrottled`] while `user` is held back.
    ///
    /// # Errors
    /// That one.
    fn held_back(&self, user: UserId) -> Result<(), UsersError> {
        match self.locked_for(user) {
            Some(seconds) => Err(UsersError::ConfirmationThrottled(seconds)),
            None => Ok(()),
        }
    }
}

/// Where one-time tokens are kept, together with the emails that carry them:
/// every method that creates a token queues its email in the same transaction,
/// so that no state change is committed without its email (or the reverse).
pub trait AccountTokenStore: Send + Sync {
    /// Stores a new account, a token for it and the email `compose` writes
    /// for the stored account, in one transaction.
    ///
    /// # Errors
    /// As [`UserRepository::insert`].
    fn insert_with_token(
        &self,
        user: &NewUser,
        grant: &TokenGrant,
        compose: &dyn Fn(&User) -> NewEmail,
    ) -> Result<User, UsersError>;

    /// Stores a token for the account and queues `emails`, in one
    /// transaction. Expired tokens of the account go at the same time.
    ///
    /// # Errors
    /// [`UsersError::NotFound`] for an unknown account, [`UsersError::Storage`].
    fn issue_token(
        &self,
        user_id: UserId,
        grant: &TokenGrant,
        emails: &[NewEmail],
    ) -> Result<(), UsersError>;

    /// As [`AccountTokenStore::issue_token`] for the account `read` (as the
    /// flow read it), unless `cap.recipient` already got `cap.max` emails
    /// queued since `cap.since`, or the account's address (by its identity
    /// key) or active flag is no longer what `read` says: then nothing is
    /// written and the answer is `false`. A new address or a deactivation
    /// ends every token of the account, so a token asked for just before it
    /// must not outlive it. The checks and the writes are one transaction that racing calls
    /// and changes of the account take in turn, so they cannot pass the cap
    /// together.
    ///
    /// # Errors
    /// [`UsersError::NotFound`] for an unknown account, [`UsersError::Storage`].
    fn issue_token_capped(
        &self,
        read: &User,
        grant: &TokenGrant,
        emails: &[NewEmail],
        cap: &MailCap,
    ) -> Result<bool, UsersError>;

    /// Queues `emails` that carry no token (alerts) about account
    /// `user_id`, unless `cap` is reached: as
    /// [`AccountTokenStore::issue_token_capped`] without the token.
    ///
    /// # Errors
    /// [`UsersError::NotFound`] for an unknown account, [`UsersError::Storage`].
    fn queue_emails_capped(
        &self,
        user_id: UserId,
        emails: &[NewEmail],
        cap: &MailCap,
    ) -> Result<bool, UsersError>;

    /// The token whose hash is `token_hash`, used or not.
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    fn find_token(&self, token_hash: &str) -> Result<Option<AccountToken>, UsersError>;

    /// Marks `token` used, if it still is unused and unexpired at `now`, and
    /// applies `effect` to its account as the effect's documentation says
    /// (a reset also ends sessions and deletes passkeys), in one
    /// transaction. Every other
    /// token of the account for the same purpose dies with it (and with
    /// [`TokenEffect::SetPassword`] or [`TokenEffect::SetEmail`], every
    /// token of the account). Returns whether the token was usable; if not,
    /// nothing changed. [`TokenEffect::Activate`] on an account an admin
    /// deactivated ([`UserRepository::set_flags`]) is not usable.
    ///
    /// # Errors
    /// [`UsersError::UsernameTaken`] or [`UsersError::EmailTaken`] when the
    /// effect runs into another account (nothing changes, the token stays
    /// usable), [`UsersError::Storage`].
    fn use_token(
        &self,
        token: &AccountToken,
        effect: &TokenEffect,
        now: Timestamp,
    ) -> Result<bool, UsersError>;
}

/// Whether an account whose address, active flag and password hash are now
/// `email`, `is_active` and `password_hash` is as `read` has it, as
/// [`AccountTokenStore::issue_token_capped`] asks: the same address by its
/// [`identity_key`](crate::identity_key), the same flag and the same
/// password (a token asked for before a change of any of them dies with it).
pub fn still_as_read(
    read: &User,
    email: Option<&str>,
    is_active: bool,
    password_hash: &str,
) -> bool {
    let key = |email: Option<&str>| email.map(crate::identity_key);
    key(email) == key(read.email.as_deref())
        && is_active == read.is_active
        && password_hash == read.password_hash
}

/// The queue of emails waiting for delivery, kept in the database so that a
/// crash between a commit and a send loses nothing.
pub trait MailQueue: Send + Sync {
    /// Takes up to `limit` emails due at `now` for one delivery attempt:
    /// their next attempt moves to `lease_until`, so that another sender
    /// leaves them alone meanwhile (and retries them if this one dies).
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<QueuedEmail>, UsersError>;

    /// Records the delivery of email `id` (its body, which may hold a
    /// token, is dropped).
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    fn mark_sent(&self, id: i64, at: Timestamp) -> Result<(), UsersError>;

    /// Records a failed attempt and when to try again.
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    fn retry_later(
        &self,
        id: i64,
        attempts: u32,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<(), UsersError>;

    /// Stops trying to deliver email `id` (its body is dropped).
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    fn give_up(&self, id: i64, attempts: u32, at: Timestamp, error: &str)
        -> Result<(), UsersError>;

    /// When the next undelivered email is due, if there is one.
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    fn next_due(&self) -> Result<Option<Timestamp>, UsersError>;
}

/// Delivers one email (SMTP, or a file in an outbox folder).
pub trait Mailer: Send + Sync {
    /// Sends `email`; `key` names the message and is the same on every
    /// retry of it.
    ///
    /// # Errors
    /// A [`MailError`] saying whether a retry may help.
    fn send(&self, email: &OutgoingEmail, key: &str) -> Result<(), MailError>;
}

/// Where avatar images are kept.
pub trait AvatarStore: Send + Sync {
    /// Stores `bytes` under `name`.
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    fn save(&self, name: &AvatarName, bytes: &[u8]) -> Result<(), UsersError>;

    /// The bytes stored under `name`, if any.
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    fn load(&self, name: &AvatarName) -> Result<Option<Vec<u8>>, UsersError>;

    /// Removes the file stored under `name` (nothing if there is none).
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    fn remove(&self, name: &AvatarName) -> Result<(), UsersError>;
}
