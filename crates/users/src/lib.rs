//! User accounts: self-validating value types ([`Username`], [`Email`],
//! [`Password`]), the password policy and hashing, the [`AccountService`] that
//! applies the account rules, and the ports it needs ([`UserRepository`],
//! [`PasswordHasher`]).

#![deny(missing_docs)]

mod error;
mod hashing;
mod password;
mod ports;
mod service;
mod user;
mod values;

pub use error::{FieldError, FieldProblem, UsersError};
pub use hashing::BcryptHasher;
pub use password::Password;
pub use ports::{PasswordHasher, UserRepository};
pub use service::{AccountService, AccountSettings, ProfileUpdate, Registration};
pub use user::{NewUser, ProfileChanges, User};
pub use values::{Email, Username};
