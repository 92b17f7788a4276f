//! Random secrets, their stored hashes, and constant-time comparison.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `bytes` random bytes from the operating system, URL-safe base64 without padding.
///
/// # Panics
/// Only if the operating system cannot provide randomness, which leaves no safe way on.
pub fn random_token(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

/// `len` random bytes from the operating system.
///
/// # Panics
/// Only if the operating system cannot provide randomness.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut buffer = vec![0u8; len];
    getrandom::fill(&mut buffer).expect("the operating system provides randomness");
    buffer
}

/// The SHA-256 of a token, hex-encoded: what is stored in place of the token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// The HMAC-SHA256 of `text` under `key`, hex-encoded: what is stored in
/// place of a secret too short to be kept as a plain hash (a copy of the
/// database alone must not let it be guessed offline).
pub fn keyed_hash(key: &[u8], text: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(text.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// A key of its own for one `purpose`, derived from a server `secret`: the
/// SHA-256 of the purpose, a zero byte and the secret. Keys made for
/// different purposes tell nothing of each other or of the secret.
///
/// What these keys seal or digest is stored (signing keys, recovery codes,
/// queued emails): a derivation, once in use, never changes.
pub fn derived_key(purpose: &str, secret: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(purpose.as_bytes())
        .chain_update([0])
        .chain_update(secret)
        .finalize()
        .into()
}

/// Encrypts secrets at rest (TOTP secrets, signing keys, queued emails):
/// a copy of the database alone does not reveal them.
pub trait SecretCipher: Send + Sync {
    /// The ciphertext of `plain`, as text.
    fn encrypt(&self, plain: &[u8]) -> String;
    /// The plaintext, or `None` if `sealed` was not made with this key.
    fn decrypt(&self, sealed: &str) -> Option<Vec<u8>>;
    /// A keyed digest of `secret`, stored in its place when it only ever
    /// needs to be recognised (recovery codes: about 50 bits, too few to be
    /// kept as a plain hash).
    fn digest(&self, secret: &str) -> String;
}

/// Compares two strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn hashes_are_stable_and_distinct() {
        assert_eq!(token_hash("abc"), token_hash("abc"));
        assert_ne!(token_hash("abc"), token_hash("abd"));
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn derived_keys_are_pinned_and_differ_by_purpose() {
        // Python: hashlib.sha256(b"sesame signing keys\0" + secret).hexdigest()
        let secret = b"a pinned secret of some length";
        assert_eq!(
            hex(&derived_key("sesame signing keys", secret)),
            "3563a4bbc7b7463eab24a02b7c8659b24df371887ba70ca0e4cb5c069afd80f8"
        );
        assert_ne!(
            derived_key("sesame signing keys", secret),
            derived_key("sesame queued emails", secret)
        );
    }

    #[test]
    fn comparison() {
        assert!(constant_time_eq("same", "same"));
        assert!(!constant_time_eq("same", "sama"));
        assert!(!constant_time_eq("same", "samer"));
    }
}
