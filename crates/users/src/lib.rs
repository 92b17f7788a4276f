//! User accounts, for programs that bring their own storage.
//!
//! `sesame-users` holds the account rules of Sesame, a self-hosted
//! authentication service, as a library with no I/O of its own: registration
//! and login, profiles, password and username changes, administrators, and
//! optionally the email flows (activation, resets, email change) and avatars.
//! Everything it needs from the outside world is a *port*, a plain
//! synchronous trait that your program implements over whatever storage it
//! has; Sesame's own adapters (diesel on SQLite and PostgreSQL, SMTP, files)
//! live in other crates and are not needed here.
//!
//! # What is in it
//!
//! - **The service**: [`AccountService`], built over the ports below.
//!   [`AccountService::register`] and [`AccountService::authenticate`] are
//!   the two calls every program makes; [`AccountService::with_mail`] and
//!   [`AccountService::with_avatars`] switch on the optional parts.
//! - **Value types that check themselves** when they are made: [`Username`],
//!   [`Email`], [`Password`] (8..=128 characters, not common, not too
//!   similar to the account's own words). A value of one of these types is valid.
//! - **Ports** to implement: [`UserRepository`] (required: where accounts
//!   live; it must refuse a second account whose username or email has the
//!   same [`identity_key`]), [`PasswordHasher`] ([`BcryptHasher`] is the ready-made
//!   one), and the [`Clock`](sesame_kernel::Clock) from `sesame-kernel`
//!   ([`SystemClock`](sesame_kernel::SystemClock) is the real one). For the
//!   email flows: [`AccountTokenStore`], [`MailQueue`], [`Mailer`] and the
//!   [`SecretCipher`](sesame_kernel::secrets::SecretCipher) that seals queued
//!   emails (`sesame-tokens` has `ChaChaCipher`), with [`MailDelivery`] to
//!   drain the queue; for avatars: [`AvatarStore`].
//! - **Imported accounts** (moving in from Django, fastapi-users, ...):
//!   [`ImportRecord::check`] applies Sesame's rules to a record a source
//!   reader made; [`HashFormat`] names the password hash formats accepted
//!   as they are, which [`BcryptHasher`] verifies, and the first login
//!   replaces by Sesame's own ([`PasswordHasher::needs_rehash`],
//!   [`UserRepository::record_login_rehashed`]).
//! - **Errors**: every fallible call returns [`UsersError`], whose variants
//!   say what happened in the domain's words ([`UsersError::InvalidCredentials`],
//!   [`UsersError::Invalid`] with one [`FieldError`] per bad field, ...).
//!   Mapping them to status codes is the caller's business.
//!
//! Identifiers, time and paging ([`UserId`](sesame_kernel::UserId),
//! [`Timestamp`](sesame_kernel::Timestamp), [`Page`](sesame_kernel::Page))
//! come from `sesame-kernel`, a dependency of this crate.
//!
//! # Example: register and log in
//!
//! The storage here is a vector behind a mutex. It implements the methods
//! that registering and logging in use, and refuses the others; the
//! `file_accounts` example of this crate (`cargo run -p sesame-users
//! --example file_accounts`) implements every method over a plain file.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! use sesame_kernel::{Page, StorageError, SystemClock, Timestamp, UserId};
//! use sesame_users::{
//!     AccountService, AccountSettings, BcryptHasher, NewUser, ProfileChanges, ProfileUpdated,
//!     Registration, User, UserRepository, Username, UsersError,
//! };
//!
//! /// Accounts in memory: the storage this program brings.
//! #[derive(Default)]
//! struct MemoryUsers(Mutex<Vec<User>>);
//!
//! impl MemoryUsers {
//!     fn find(&self, matches: impl Fn(&User) -> bool) -> Option<User> {
//!         self.0.lock().unwrap().iter().find(|u| matches(u)).cloned()
//!     }
//! }
//!
//! fn same(a: &str, b: &str) -> bool {
//!     sesame_users::identity_key(a) == sesame_users::identity_key(b)
//! }
//!
//! fn unsupported() -> UsersError {
//!     UsersError::Storage(StorageError("not supported by this store".into()))
//! }
//!
//! impl UserRepository for MemoryUsers {
//!     fn insert(&self, new: &NewUser) -> Result<User, UsersError> {
//!         let mut users = self.0.lock().unwrap();
//!         // The store itself refuses duplicates, by key.
//!         if users.iter().any(|u| same(&u.username, new.username.as_str())) {
//!             return Err(UsersError::UsernameTaken);
//!         }
//!         let email = new.email.as_ref().map(|e| e.as_str().to_owned());
//!         if let Some(email) = &email {
//!             if users.iter().any(|u| u.email.as_deref().is_some_and(|e| same(e, email))) {
//!                 return Err(UsersError::EmailTaken);
//!             }
//!         }
//!         let user = User {
//!             id: UserId(users.len() as i64 + 1),
//!             username: new.username.as_str().to_owned(),
//!             email,
//!             first_name: new.first_name.clone(),
//!             last_name: new.last_name.clone(),
//!             avatar: None,
//!             is_active: new.is_active,
//!             is_staff: new.is_staff,
//!             date_joined: new.date_joined,
//!             last_login: None,
//!             password_hash: new.password_hash.clone(),
//!         };
//!         users.push(user.clone());
//!         Ok(user)
//!     }
//!
//!     fn find_by_id(&self, id: UserId) -> Result<Option<User>, UsersError> {
//!         Ok(self.find(|u| u.id == id))
//!     }
//!
//!     fn find_by_username(&self, username: &str) -> Result<Option<User>, UsersError> {
//!         Ok(self.find(|u| same(&u.username, username)))
//!     }
//!
//!     fn find_by_email(&self, email: &str) -> Result<Option<User>, UsersError> {
//!         Ok(self.find(|u| u.email.as_deref().is_some_and(|e| same(e, email.trim()))))
//!     }
//!
//!     fn list(&self, page: Page) -> Result<Vec<User>, UsersError> {
//!         let users = self.0.lock().unwrap();
//!         let window = users.iter().skip(page.skip as usize).take(page.limit as usize);
//!         Ok(window.cloned().collect())
//!     }
//!
//!     fn record_login(&self, id: UserId, at: Timestamp) -> Result<(), UsersError> {
//!         let mut users = self.0.lock().unwrap();
//!         let user = users.iter_mut().find(|u| u.id == id).ok_or(UsersError::NotFound)?;
//!         user.last_login = Some(at);
//!         Ok(())
//!     }
//!
//!     // Not used to register and log in.
//!     fn update_profile(
//!         &self,
//!         _: UserId,
//!         _: &ProfileChanges,
//!     ) -> Result<ProfileUpdated, UsersError> {
//!         Err(unsupported())
//!     }
//!     fn set_username(&self, _: UserId, _: &Username) -> Result<(), UsersError> {
//!         Err(unsupported())
//!     }
//!     fn change_password(
//!         &self,
//!         _: UserId,
//!         _: &str,
//!         _: &str,
//!         _: Option<&str>,
//!         _: Timestamp,
//!     ) -> Result<(), UsersError> {
//!         Err(unsupported())
//!     }
//!     fn set_flags(&self, _: UserId, _: Option<bool>, _: Option<bool>) -> Result<(), UsersError> {
//!         Err(unsupported())
//!     }
//!     fn delete(&self, _: UserId) -> Result<(), UsersError> {
//!         Err(unsupported())
//!     }
//! }
//!
//! # fn main() -> Result<(), UsersError> {
//! let accounts = AccountService::new(
//!     Arc::new(MemoryUsers::default()),
//!     Arc::new(BcryptHasher::new(4)?), // the fastest cost, for an example; Sesame uses 12
//!     Arc::new(SystemClock),
//!     AccountSettings::default(), // active at once, no activation email
//! );
//!
//! let alice = accounts.register(Registration {
//!     username: "alice".into(),
//!     email: Some("alice@example.com".into()),
//!     password: "Xk92!dumbo-lamp".into(),
//!     ..Registration::default()
//! })?;
//! assert!(alice.is_active);
//!
//! // Log in with the username or the email address, in any case.
//! let logged_in = accounts.authenticate("ALICE@example.com", "Xk92!dumbo-lamp")?;
//! assert_eq!(logged_in.id, alice.id);
//! assert!(logged_in.last_login.is_some());
//!
//! // A wrong password and an unknown user get the same answer.
//! for (login, password) in [("alice", "wrong password"), ("mallory", "Xk92!dumbo-lamp")] {
//!     let refused = accounts.authenticate(login, password);
//!     assert!(matches!(refused, Err(UsersError::InvalidCredentials)));
//! }
//!
//! // The rules are the service's: a taken username (in another case) and a
//! // weak password are both reported, field by field.
//! let Err(UsersError::Invalid(problems)) = accounts.register(Registration {
//!     username: "Alice".into(),
//!     password: "password1".into(),
//!     ..Registration::default()
//! }) else {
//!     panic!("registration accepted");
//! };
//! let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
//! assert_eq!(fields, ["password", "username"]);
//! # Ok(())
//! # }
//! ```
//!
//! In a service, [`AccountService::authenticate`] is followed by opening a
//! session: see the `sesame-tokens` crate.

#![deny(missing_docs)]

mod avatar;
mod delivery;
mod error;
mod flows;
mod hashing;
mod imported;
mod login;
mod mail;
mod one_time;
mod password;
mod places;
mod ports;
mod service;
mod user;
mod values;

pub use avatar::{AvatarChange, AvatarName, ImageKind};
pub use delivery::{DeliveryReport, MailDelivery, RetryPolicy};
pub use error::{FieldError, FieldProblem, UsersError};
pub use flows::{AccountMail, Activation, Avatars, MailFlow};
pub use hashing::{BcryptHasher, BCRYPT_COSTS};
pub use imported::{
    accept_hash, verify_imported, HashFormat, HashOrigin, ImportRecord, ImportedAccount,
    UNUSABLE_PASSWORD,
};
pub use login::{PasswordChecked, PASSWORD_ALERT_AFTER};
pub(crate) use mail::fill_link;
pub use mail::{
    LinkTemplates, MailCap, MailError, NewEmail, OutgoingEmail, QueuedEmail, MAIL_CAP_WINDOW,
};
pub use one_time::{
    decode_uid, encode_uid, AccountToken, TokenEffect, TokenGrant, TokenLifetimes, TokenPurpose,
};
pub use password::{Password, PasswordProblem, UserAttribute};
pub use places::Place;
pub use ports::{
    still_as_read, AccountTokenStore, AvatarStore, ConfirmationThrottle, MailQueue, Mailer,
    PasswordHasher, UserRepository,
};
pub use service::{AccountService, AccountSettings, ProfileEdit, ProfileUpdate, Registration};
pub use user::{NewUser, ProfileChanges, ProfileUpdated, User};
pub use values::{identity_key, Email, Username, IDENTITY_KEY_VERSION};
