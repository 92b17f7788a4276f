use std::sync::OnceLock;

use base64::alphabet::BCRYPT;
use base64::engine::general_purpose::{NO_PAD, STANDARD};
use base64::engine::GeneralPurpose;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::imported::{own_format, verify_stored, OWN_PREFIX, UNKEYED_PREFIX};
use crate::{HashFormat, Password, PasswordHasher, UsersError};
use sesame_kernel::secrets::random_bytes;
use sesame_kernel::StorageError;

/// bcrypt at a configurable cost, over the HMAC-SHA256 of the password
/// keyed with bcrypt's salt (base64): passlib's `bcrypt_sha256` version 2,
/// `$bcrypt-sha256$v=2,t=2b,r=12$<salt>$<digest>`. Every byte of the
/// password counts (bcrypt alone ignores bytes past the 72nd), and a leaked
/// unsalted SHA-256 of a password, from another site, cannot be tested
/// against the hash without the work of a bcrypt check per account.
///
/// [`BcryptHasher::writing_unkeyed`] writes the older format instead, which
/// versions before the keyed one read: see docs/operations.md, Upgrades.
#[derive(Debug)]
pub struct BcryptHasher {
    cost: u32,
    unkeyed: bool,
    dummy_hash: OnceLock<String>,
}

/// The costs a [`BcryptHasher`] may be made with. Cost 20 takes minutes
/// a hash on a server core; past it a login would never end.
pub const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=20;

impl BcryptHasher {
    /// A hasher at `cost` (one of [`BCRYPT_COSTS`]).
    ///
    /// # Errors
    /// [`UsersError::Invalid`] on `bcrypt_cost` when `cost` is out of range.
    pub fn new(cost: u32) -> Result<BcryptHasher, UsersError> {
        if !BCRYPT_COSTS.contains(&cost) {
            let (low, high) = (BCRYPT_COSTS.start(), BCRYPT_COSTS.end());
            return Err(UsersError::invalid(
                "bcrypt_cost",
                format!("bcrypt cost must be between {low} and {high}, not {cost}"),
            ));
        }
        Ok(BcryptHasher {
            cost,
            unkeyed: false,
            dummy_hash: OnceLock::new(),
        })
    }

    /// This hasher writing Sesame's older unkeyed hashes (`bcrypt_sha256$`,
    /// bcrypt over the base64 SHA-256 of the password), and replacing keyed
    /// ones at their next login, while instances of a version that reads
    /// only those run beside it or may replace it.
    pub fn writing_unkeyed(self) -> BcryptHasher {
        BcryptHasher {
            unkeyed: true,
            ..self
        }
    }

    /// The configured cost.
    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// The keyed hash of `password` with `salt`.
    fn keyed(&self, password: &str, salt: [u8; 16]) -> Result<String, UsersError> {
        let salt_text = BCRYPT_BASE64.encode(salt);
        let key = keyed_prehash(&salt_text, password);
        let hashed = bcrypt::hash_with_salt(key, self.cost, salt)
            .map_err(|e| StorageError(format!("bcrypt failed: {e}")))?
            .format_for_version(bcrypt::Version::TwoB);
        let (cost, digest) = (self.cost, &hashed[29..]);
        Ok(format!(
            "{OWN_PREFIX}v=2,t=2b,r={cost}${salt_text}${digest}"
        ))
    }
}

/// What bcrypt is given for a password in Sesame's own hashes: the base64
/// HMAC-SHA256 of the password keyed with the salt as bcrypt writes it.
pub(crate) fn keyed_prehash(salt: &str, password: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(salt.as_bytes()).expect("HMAC takes any key length");
    mac.update(password.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// What bcrypt was given in Sesame's hashes before the keyed ones (and in
/// passlib's `bcrypt_sha256` version 1): the base64 SHA-256 of the password.
pub(crate) fn unkeyed_prehash(password: &str) -> String {
    STANDARD.encode(Sha256::digest(password.as_bytes()))
}

/// bcrypt's own base64, in which its salt is written.
const BCRYPT_BASE64: GeneralPurpose = GeneralPurpose::new(&BCRYPT, NO_PAD);

/// The salt of a bcrypt hash (`$2b$12$<22 characters>...`).
pub(crate) fn salt_of(bcrypt_hash: &str) -> &str {
    bcrypt_hash.get(7..29).unwrap_or_default()
}

impl PasswordHasher for BcryptHasher {
    fn hash(&self, password: &Password) -> Result<String, UsersError> {
        if self.unkeyed {
            let hashed = bcrypt::hash(unkeyed_prehash(password.expose()), self.cost)
                .map_err(|e| StorageError(format!("bcrypt failed: {e}")))?;
            return Ok(format!("{UNKEYED_PREFIX}{hashed}"));
        }
        let salt: [u8; 16] = random_bytes(16).try_into().expect("16 random bytes");
        self.keyed(password.expose(), salt)
    }

    /// Checks Sesame's own hashes and those imported from other systems
    /// (issue 19). A hash that can never match (no usable password, an
    /// unknown or malformed one, one past the bounds of work) costs the
    /// time of a check all the same, as an unknown user does: timing does
    /// not tell that the account exists.
    fn verify(&self, candidate: &str, stored_hash: &str) -> bool {
        verify_stored(candidate, stored_hash, true).unwrap_or_else(|| {
            self.spend_verify_time(candidate);
            false
        })
    }

    /// Imported hashes, Sesame's own made at another cost than the
    /// configured one, and its own in the format it does not write.
    fn needs_rehash(&self, stored_hash: &str) -> bool {
        match own_format(stored_hash) {
            Some((format, cost)) => {
                cost != self.cost || (format == HashFormat::SesameUnkeyed) != self.unkeyed
            }
            None => true,
        }
    }

    fn spend_verify_time(&self, candidate: &str) {
        let dummy = self
            .dummy_hash
            .get_or_init(|| bcrypt::hash("sesame-dummy", self.cost).unwrap_or_default());
        let _ = bcrypt::verify(keyed_prehash(salt_of(dummy), candidate), dummy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(raw: &str) -> Password {
        Password::new(raw, &[]).expect("a strong password")
    }

    #[test]
    fn verifies_only_the_right_password() {
        let hasher = BcryptHasher::new(4).unwrap();
        let hash = hasher.hash(&password("Zq7!vR2#kLm")).unwrap();
        assert!(hash.starts_with("$bcrypt-sha256$v=2,t=2b,r=4$"), "{hash}");
        assert!(hasher.verify("Zq7!vR2#kLm", &hash));
        assert!(!hasher.verify("Zq7!vR2#kLn", &hash));
        assert!(!hasher.verify("Zq7!vR2#kLm", "plain"));
    }

    #[test]
    fn bytes_past_72_count() {
        let hasher = BcryptHasher::new(4).unwrap();
        let long: String = "Zq7!vR2#kLm-".repeat(9).chars().take(100).collect();
        let first_72: String = long.chars().take(72).collect();
        let hash = hasher.hash(&password(&long)).unwrap();
        assert!(hasher.verify(&long, &hash));
        assert!(!hasher.verify(&first_72, &hash));
    }

    #[test]
    fn a_keyed_hash_is_the_one_passlib_makes_with_the_same_salt() {
        // passlib 1.9.5: `bcrypt_sha256.using(salt=".OGB/.SE/ueHAeqKBO2NC.",
        // rounds=4).hash("Zq7!vR2#kLm é")`, the salt being bytes 1 to 16.
        let salt: [u8; 16] = std::array::from_fn(|i| i as u8 + 1);
        let hash = BcryptHasher::new(4)
            .unwrap()
            .keyed("Zq7!vR2#kLm é", salt)
            .unwrap();
        assert_eq!(
            hash,
            "$bcrypt-sha256$v=2,t=2b,r=4$.OGB/.SE/ueHAeqKBO2NC.$qBwy6Ks4JMMEgd/fBJayFA23bafzU.S"
        );
    }

    #[test]
    fn writing_unkeyed_hashes_keeps_what_older_versions_read() {
        let keyed = BcryptHasher::new(4).unwrap();
        let unkeyed = BcryptHasher::new(4).unwrap().writing_unkeyed();
        let old = unkeyed.hash(&password("Zq7!vR2#kLm")).unwrap();
        let new = keyed.hash(&password("Zq7!vR2#kLm")).unwrap();
        assert!(old.starts_with("bcrypt_sha256$$2b$04$"), "{old}");
        for hasher in [&keyed, &unkeyed] {
            assert!(hasher.verify("Zq7!vR2#kLm", &old) && hasher.verify("Zq7!vR2#kLm", &new));
        }
        // Each replaces the other's at the next login, none its own.
        assert!(!unkeyed.needs_rehash(&old) && unkeyed.needs_rehash(&new));
        assert!(!keyed.needs_rehash(&new) && keyed.needs_rehash(&old));
        let at_5 = BcryptHasher::new(5).unwrap().writing_unkeyed();
        assert!(at_5.needs_rehash(&old));
    }

    #[test]
    fn own_hashes_at_another_cost_are_rehashed() {
        let hasher = BcryptHasher::new(4).unwrap();
        let at_4 = hasher.hash(&password("Zq7!vR2#kLm")).unwrap();
        let at_5 = BcryptHasher::new(5)
            .unwrap()
            .hash(&password("Zq7!vR2#kLm"))
            .unwrap();
        assert!(!hasher.needs_rehash(&at_4));
        assert!(hasher.needs_rehash(&at_5));
        // Still verified: the login that checks it replaces it.
        assert!(hasher.verify("Zq7!vR2#kLm", &at_5));
        assert!(hasher.needs_rehash("$2b$04$RP7YKCJfGpCk5CtJfvpREOZWaToOj9iWmyfBbkcpp5XgQeIb94qIG"));
    }

    #[test]
    fn a_hash_that_can_never_match_costs_a_check_all_the_same() {
        let own = BcryptHasher::new(4)
            .unwrap()
            .hash(&password("Zq7!vR2#kLm"))
            .unwrap();
        for never in [
            "!".to_owned(),
            "!kQ2d7zWuN2bq".to_owned(),
            "not a hash".to_owned(),
            own.replace("r=4$", "r=31$"),
            "$argon2id$v=19$m=4294967295,t=1,p=1$41odSk1X8UcAKWL6C8tceg$ixRUjgUSPxHhSBFFLvKIhzje6gbxYZNqV6LQl4fIoCI".to_owned(),
        ] {
            let hasher = BcryptHasher::new(4).unwrap();
            assert!(!hasher.verify("Zq7!vR2#kLm", &never), "{never}");
            // The dummy hash is made by the first dummy check, and only by it.
            assert!(hasher.dummy_hash.get().is_some(), "{never} cost nothing");
        }
        let hasher = BcryptHasher::new(4).unwrap();
        assert!(!hasher.verify("wrong", &own));
        assert!(
            hasher.dummy_hash.get().is_none(),
            "a real check was doubled"
        );
    }

    #[test]
    fn cost_is_bounded() {
        assert!(BcryptHasher::new(3).is_err());
        assert!(BcryptHasher::new(21).is_err());
        assert!(BcryptHasher::new(50).is_err());
        assert_eq!(BcryptHasher::new(12).unwrap().cost(), 12);
    }
}
