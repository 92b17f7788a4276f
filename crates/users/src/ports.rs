use sesame_kernel::{Page, Timestamp, UserId};

use crate::{NewUser, Password, ProfileChanges, User, Username, UsersError};

/// Where accounts are kept. Usernames and emails are unique ignoring case,
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

    /// The account with this username, ignoring case.
    ///
    /// # Errors
    /// [`UsersError::Storage`] on failure.
    fn find_by_username(&self, username: &str) -> Result<Option<User>, UsersError>;

    /// The account with this email, ignoring case.
    ///
    /// # Errors
    /// [`UsersError::Storage`] on failure.
    fn find_by_email(&self, email: &str) -> Result<Option<User>, UsersError>;

    /// Accounts in id order.
    ///
    /// # Errors
    /// [`UsersError::Storage`] on failure.
    fn list(&self, page: Page) -> Result<Vec<User>, UsersError>;

    /// Applies profile changes and returns the account as it now is.
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::EmailTaken`], [`UsersError::Storage`].
    fn update_profile(&self, id: UserId, changes: &ProfileChanges) -> Result<User, UsersError>;

    /// Renames the account.
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::UsernameTaken`], [`UsersError::Storage`].
    fn set_username(&self, id: UserId, username: &Username) -> Result<(), UsersError>;

    /// Replaces the password hash and, in the same transaction, revokes every
    /// session of the account except `keep_session`.
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::Storage`].
    fn change_password(
        &self,
        id: UserId,
        password_hash: &str,
        keep_session: Option<&str>,
        now: Timestamp,
    ) -> Result<(), UsersError>;

    /// Sets the active and admin flags that are given.
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

    /// Costs as much as [`PasswordHasher::verify`], for logins of unknown
    /// users, so that timing does not tell which accounts exist.
    fn spend_verify_time(&self, candidate: &str);
}
