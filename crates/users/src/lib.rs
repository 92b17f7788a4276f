//! User accounts: self-validating value types ([`Username`], [`Email`],
//! [`Password`]), the password policy and hashing, the [`AccountService`] that
//! applies the account rules, and the ports it needs ([`UserRepository`],
//! [`PasswordHasher`]); the email flows (one-time tokens mailed as links,
//! [`AccountTokenStore`], [`MailQueue`], [`Mailer`], [`MailDelivery`]) and
//! avatars ([`AvatarStore`]).

#![deny(missing_docs)]

mod avatar;
mod delivery;
mod error;
mod flows;
mod hashing;
mod mail;
mod one_time;
mod password;
mod ports;
mod service;
mod user;
mod values;

pub use avatar::{check_image, AvatarChange, AvatarName, ImageKind};
pub use delivery::{DeliveryReport, MailDelivery, RetryPolicy};
pub use error::{FieldError, FieldProblem, UsersError};
pub use flows::{AccountMail, Activation, Avatars};
pub use hashing::BcryptHasher;
pub use mail::{fill_link, LinkTemplates, MailError, NewEmail, OutgoingEmail, QueuedEmail};
pub use one_time::{
    decode_uid, encode_uid, AccountToken, TokenEffect, TokenGrant, TokenLifetimes, TokenPurpose,
};
pub use password::Password;
pub use ports::{
    AccountTokenStore, AvatarStore, MailQueue, Mailer, PasswordHasher, UserRepository,
};
pub use service::{AccountService, AccountSettings, ProfileUpdate, Registration};
pub use user::{NewUser, ProfileChanges, User};
pub use values::{Email, Username};
