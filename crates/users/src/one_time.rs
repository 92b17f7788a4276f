//! One-time tokens of email flows (activation, resets, email change): random,
//! stored only as a hash, single-use, with their own expiry.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Duration;
use sesame_kernel::{Timestamp, UserId};

use crate::{Email, Username};

/// What a one-time token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// Activating a new account.
    Activation,
    /// Setting a new password without the old one.
    PasswordReset,
    /// Choosing a new username without the password.
    UsernameReset,
    /// Confirming a new email address.
    EmailChange,
}

impl TokenPurpose {
    /// Every purpose.
    pub const ALL: [TokenPurpose; 4] = [
        TokenPurpose::Activation,
        TokenPurpose::PasswordReset,
        TokenPurpose::UsernameReset,
        TokenPurpose::EmailChange,
    ];

    /// The name stored with the token.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Activation => "activation",
            TokenPurpose::PasswordReset => "password_reset",
            TokenPurpose::UsernameReset => "username_reset",
            TokenPurpose::EmailChange => "email_change",
        }
    }

    /// The purpose stored under this name.
    pub fn from_name(name: &str) -> Option<TokenPurpose> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// How long each kind of token lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetimes {
    /// Activation links (default 3 days).
    pub activation: Duration,
    /// Password reset links (default 1 hour).
    pub password_reset: Duration,
    /// Username reset links (default 1 hour).
    pub username_reset: Duration,
    /// Email change links (default 1 hour).
    pub email_change: Duration,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        TokenLifetimes {
            activation: Duration::days(3),
            password_reset: Duration::hours(1),
            username_reset: Duration::hours(1),
            email_change: Duration::hours(1),
        }
    }
}

impl TokenLifetimes {
    /// The lifetime of tokens for `purpose`.
    pub fn of(&self, purpose: TokenPurpose) -> Duration {
        match purpose {
            TokenPurpose::Activation => self.activation,
            TokenPurpose::PasswordReset => self.password_reset,
            TokenPurpose::UsernameReset => self.username_reset,
            TokenPurpose::EmailChange => self.email_change,
        }
    }
}

/// A token about to be stored for an account (the account may not exist yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// What it allows.
    pub purpose: TokenPurpose,
    /// The SHA-256 of the token (the token itself is never stored).
    pub token_hash: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// A stored one-time token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountToken {
    /// The account it belongs to.
    pub user_id: UserId,
    /// What it allows.
    pub purpose: TokenPurpose,
    /// The SHA-256 of the token.
    pub token_hash: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// When it was used, if it was.
    pub used_at: Option<Timestamp>,
}

impl AccountToken {
    /// Whether it can still be used at `now`: unused and unexpired.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.used_at.is_none() && now < self.expires_at
    }
}

/// What using a token does to its account, in the same transaction.
#[derive(Clone, PartialEq, Eq)]
pub enum TokenEffect {
    /// Marks the account active.
    Activate,
    /// Replaces the password hash, revokes every session of the account and
    /// deletes every one-time token and passkey of it: a reset by link is a
    /// recovery, and the mailbox's owner gets the account back without any
    /// way in that whoever held it before set up (an account registered
    /// with someone else's address, then given a passkey).
    SetPassword {
        /// The new hash.
        password_hash: String,
    },
    /// Renames the account.
    SetUsername(Username),
    /// Changes the account's email address.
    SetEmail(Email),
}

impl fmt::Debug for TokenEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenEffect::Activate => f.write_str("Activate"),
            TokenEffect::SetPassword { .. } => f.write_str("SetPassword"),
            TokenEffect::SetUsername(name) => f.debug_tuple("SetUsername").field(name).finish(),
            TokenEffect::SetEmail(email) => f.debug_tuple("SetEmail").field(email).finish(),
        }
    }
}

/// The `uid` of email links: the user id's decimal string in unpadded
/// URL-safe base64 (djoser's encoding).
pub fn encode_uid(id: UserId) -> String {
    URL_SAFE_NO_PAD.encode(id.0.to_string())
}

/// The user id behind a `uid`, if it is one.
pub fn decode_uid(uid: &str) -> Option<UserId> {
    let bytes = URL_SAFE_NO_PAD.decode(uid.trim_end_matches('=')).ok()?;
    let digits = std::str::from_utf8(&bytes).ok()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(UserId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_round_trip() {
        assert_eq!(encode_uid(UserId(1)), "MQ");
        assert_eq!(encode_uid(UserId(42)), "NDI");
        for id in [1, 9, 10, 12345, i64::MAX] {
            assert_eq!(decode_uid(&encode_uid(UserId(id))), Some(UserId(id)));
        }
        // Padding, as some clients add it, is tolerated.
        assert_eq!(decode_uid("MQ=="), Some(UserId(1)));
        for bad in [
            "",
            "!!",
            "LTE",
            "YWJj",
            "MS4w",
            "OTk5OTk5OTk5OTk5OTk5OTk5OTk5",
        ] {
            assert_eq!(decode_uid(bad), None, "{bad}");
        }
    }

    #[test]
    fn purposes_have_stable_names() {
        for purpose in TokenPurpose::ALL {
            assert_eq!(TokenPurpose::from_name(purpose.as_str()), Some(purpose));
        }
        assert_eq!(TokenPurpose::from_name("other"), None);
    }
}
