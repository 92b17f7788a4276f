use std::fmt;

use sesame_kernel::{Timestamp, UserId};

use crate::{Email, Username};

/// An account as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Its username, as written at registration.
    pub username: String,
    /// Its email address, if it has one.
    pub email: Option<String>,
    /// Given name (may be empty).
    pub first_name: String,
    /// Family name (may be empty).
    pub last_name: String,
    /// The stored avatar file name, if any.
    pub avatar: Option<String>,
    /// Whether the account may log in.
    pub is_active: bool,
    /// Whether the account is an administrator.
    pub is_staff: bool,
    /// When it was created.
    pub date_joined: Timestamp,
    /// When it last logged in.
    pub last_login: Option<Timestamp>,
    /// The password hash. Never shown by `Debug`.
    pub password_hash: String,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("is_active", &self.is_active)
            .field("is_staff", &self.is_staff)
            .finish_non_exhaustive()
    }
}

/// An account about to be stored.
#[derive(Clone)]
pub struct NewUser {
    /// Its username.
    pub username: Username,
    /// Its email address.
    pub email: Option<Email>,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// The password hash.
    pub password_hash: String,
    /// Whether it may log in at once.
    pub is_active: bool,
    /// Whether it is an administrator.
    pub is_staff: bool,
    /// Creation time.
    pub date_joined: Timestamp,
}

/// An account as a profile change left it, and the avatar file that change
/// replaced: read under the row's lock, so that of two uploads at once each
/// replaces, and deletes, the file the other stored.
#[derive(Debug, Clone)]
pub struct ProfileUpdated {
    /// The account as it now is.
    pub user: User,
    /// The avatar file name the change replaced or removed, if it changed one.
    pub replaced_avatar: Option<String>,
}

/// Profile fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChanges {
    /// New given name.
    pub first_name: Option<String>,
    /// New family name.
    pub last_name: Option<String>,
    /// New email (`Some(None)` removes it).
    pub email: Option<Option<Email>>,
    /// Whether `email` only respells the address the caller saw (the same
    /// but for ASCII case): it is then written only over that address,
    /// never over one changed meanwhile, which it leaves as it is.
    pub email_respelled: bool,
    /// New avatar file name (`Some(None)` removes it).
    pub avatar: Option<Option<String>>,
}
