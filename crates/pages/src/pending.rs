//! The half-done sign-in between the password step and the TOTP step.
//!
//! The domain's login checks the password and the code together, so the
//! second step needs the first step's credentials again. They travel in an
//! HttpOnly cookie sealed with ChaCha20-Poly1305 under the server's key
//! (never in the page), and are good for five minutes.

use serde::{Deserialize, Serialize};
use sesame_kernel::secrets::derived_key;
use sesame_kernel::Timestamp;
use sesame_tokens::{ChaChaCipher, SecretCipher};

use crate::PagesError;

/// How long the TOTP step may take.
pub(crate) const PENDING_SECONDS: i64 = 300;

#[derive(Serialize, Deserialize)]
struct Pending {
    login: String,
    password: String,
    expires: i64,
}

/// The first step's credentials, as the TOTP step gets them back.
pub(crate) struct PendingSignIn {
    pub(crate) login: String,
    pub(crate) password: String,
}

/// Seals and opens the cookie.
pub(crate) struct PendingSeal(ChaChaCipher);

impl PendingSeal {
    /// A cipher of its own, keyed from the pages' secret.
    pub(crate) fn derive(secret: &[u8]) -> Result<PendingSeal, PagesError> {
        let key = derived_key("sesame pages pending sign-in", secret);
        ChaChaCipher::new(&key)
            .map(PendingSeal)
            .map_err(|e| PagesError::Key(e.to_string()))
    }

    /// The cookie value for these credentials, good until five minutes after `now`.
    pub(crate) fn seal(&self, login: &str, password: &str, now: Timestamp) -> String {
        let pending = Pending {
            login: login.to_owned(),
            password: password.to_owned(),
            expires: now.timestamp() + PENDING_SECONDS,
        };
        let plain = serde_json::to_vec(&pending).unwrap_or_default();
        self.0.encrypt(&plain)
    }

    /// The credentials, unless the value was not sealed here or has expired.
    pub(crate) fn open(&self, sealed: &str, now: Timestamp) -> Option<PendingSignIn> {
        let plain = self.0.decrypt(sealed)?;
        let pending: Pending = serde_json::from_slice(&plain).ok()?;
        (pending.expires > now.timestamp()).then_some(PendingSignIn {
            login: pending.login,
            password: pending.password,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_credentials_open_here_until_they_expire() {
        let seal = PendingSeal::derive(&[1; 32]).unwrap();
        let now = chrono::Utc::now();
        let sealed = seal.seal("alice", "secret pass", now);
        assert!(!sealed.contains("alice") && !sealed.contains("secret"));
        let opened = seal.open(&sealed, now).unwrap();
        assert_eq!(
            (opened.login.as_str(), opened.password.as_str()),
            ("alice", "secret pass")
        );
        let later = now + chrono::Duration::seconds(PENDING_SECONDS);
        assert!(seal.open(&sealed, later).is_none());
        let other = PendingSeal::derive(&[2; 32]).unwrap();
        assert!(other.open(&sealed, now).is_none());
        assert!(seal.open("garbage", now).is_none());
    }
}
