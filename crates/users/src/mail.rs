//! Outgoing email as the domain sees it: the message, the queue entry that
//! carries it until it is delivered, and the links that email flows put in it.

use std::fmt;

use sesame_kernel::secrets::SecretCipher;
use sesame_kernel::Timestamp;

/// A plain-text email to one recipient.
///
/// Its `Debug` output leaves the text out: flow emails carry one-time tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
}

impl fmt::Debug for OutgoingEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingEmail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// What the text of a sealed email starts with, the ciphertext after it.
/// A sender of a version before sealing sends it as it is: its reader
/// learns to ask again. Plain text, which such a version queued, never
/// starts so.
const SEALED: &str = "This email was sealed while it waited to be sent, and the server that \
sent it could not open it. Please ask for it again.\n\nsealed:";

impl OutgoingEmail {
    /// The same email, its text sealed by `cipher` while it waits in the
    /// queue: a copy of the database alone holds none of its links.
    pub fn sealed(mut self, cipher: &dyn SecretCipher) -> Self {
        self.text = format!("{SEALED}{}", cipher.encrypt(self.text.as_bytes()));
        self
    }

    /// The same email, its text opened by `cipher` to be sent; a text
    /// queued plain is kept as it is. `None`: sealed with another key.
    pub fn opened(mut self, cipher: &dyn SecretCipher) -> Option<Self> {
        if let Some(sealed) = self.text.strip_prefix(SEALED) {
            self.text = String::from_utf8(cipher.decrypt(sealed)?).ok()?;
        }
        Some(self)
    }
}

/// An email about to enter the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEmail {
    /// Unique and stable across retries: it names the message (its
    /// `Message-ID`, its outbox file), so a retried delivery is the same message.
    pub key: String,
    /// When it was queued.
    pub queued_at: Timestamp,
    /// The message.
    pub email: OutgoingEmail,
}

impl NewEmail {
    /// A fresh queue entry for `email`: the key sorts by time, then is random.
    pub fn new(email: OutgoingEmail, now: Timestamp) -> Self {
        let key = format!(
            "{}-{}",
            now.format("%Y%m%dT%H%M%S%6f"),
            sesame_kernel::secrets::hex(&sesame_kernel::secrets::random_bytes(6))
        );
        NewEmail {
            key,
            queued_at: now,
            email,
        }
    }
}

/// How far back every [`MailCap`] counts. A queue keeps each email at
/// least this long after it was queued, whatever else removes old ones.
pub const MAIL_CAP_WINDOW: chrono::Duration = chrono::Duration::hours(1);

/// A ceiling on the emails one address gets: fewer than `max` queued since
/// `since` (with this subject, if one is given), or no more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailCap {
    /// The address; spelled in another case or compatibility form (as
    /// [`crate::identity_key`] folds it) it is the same one: anyone may type
    /// an address an email change sends to, in any spelling.
    pub recipient: String,
    /// Only emails with this subject count; `None`: every email counts.
    pub subject: Option<String>,
    /// Where the count starts: at most [`MAIL_CAP_WINDOW`] ago.
    pub since: Timestamp,
    /// How many emails it may have got since then.
    pub max: u64,
}

/// An email in the queue, waiting for (another) delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEmail {
    /// Its id in the queue.
    pub id: i64,
    /// See [`NewEmail::key`].
    pub key: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The message.
    pub email: OutgoingEmail,
}

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct MailError {
    /// What went wrong, for the log (never the message body).
    pub reason: String,
    /// Whether retrying cannot help (the server refused the message for good).
    pub permanent: bool,
}

impl MailError {
    /// A failure that may pass (server down, timeout, temporary refusal).
    pub fn transient(reason: impl Into<String>) -> Self {
        MailError {
            reason: reason.into(),
            permanent: false,
        }
    }

    /// A failure that retrying cannot fix (bad address, message refused).
    pub fn permanent(reason: impl Into<String>) -> Self {
        MailError {
            reason: reason.into(),
            permanent: true,
        }
    }
}

/// The links email flows send, as templates with `{uid}` and `{token}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTemplates {
    /// Account activation.
    pub activation: String,
    /// Password reset confirmation.
    pub password_reset: String,
    /// Username reset confirmation.
    pub username_reset: String,
    /// Email change confirmation.
    pub email_confirm: String,
}

impl Default for LinkTemplates {
    fn default() -> Self {
        LinkTemplates {
            activation: "http://localhost:3000/activate/{uid}/{token}".into(),
            password_reset: "http://localhost:3000/password/reset/confirm/{uid}/{token}".into(),
            username_reset: "http://localhost:3000/username/reset/confirm/{uid}/{token}".into(),
            email_confirm: "http://localhost:3000/email/confirm/{uid}/{token}".into(),
        }
    }
}

/// `template` with `{uid}` and `{token}` filled in.
pub(crate) fn fill_link(template: &str, uid: &str, token: &str) -> String {
    template.replace("{uid}", uid).replace("{token}", token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_filled() {
        assert_eq!(
            fill_link(&LinkTemplates::default().activation, "MQ", "abc"),
            "http://localhost:3000/activate/MQ/abc"
        );
        assert_eq!(
            fill_link("x?u={uid}&t={token}&u2={uid}", "1", "2"),
            "x?u=1&t=2&u2=1"
        );
    }

    #[test]
    fn debug_hides_the_text() {
        let email = OutgoingEmail {
            to: "a@example.com".into(),
            subject: "Hi".into(),
            text: "secret-token".into(),
        };
        assert!(!format!("{email:?}").contains("secret-token"));
    }
}
