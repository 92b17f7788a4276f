//! The keys JWTs are signed and verified with: one active key that signs,
//! earlier ones that still verify, retired ones that verify nothing. The set
//! is kept in storage (shared by every instance) with its private halves
//! sealed, and in memory as a [`JwtKeys`] handle that a reload replaces.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use sesame_kernel::audit::{Actor, AuditEvent, AuditLog};
use sesame_kernel::secrets::{derived_key, random_token};
use sesame_kernel::{ChangeObserver, Clock, Timestamp, UserId};

use crate::{Claims, JwtKeys, SecretCipher, TokensError};

/// How every JWT is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    /// HMAC-SHA256 under a shared secret (the default).
    Hs256,
    /// ECDSA on P-256.
    Es256,
    /// RSASSA-PKCS1-v1_5 with a 2048-bit key.
    Rs256,
    /// Ed25519.
    EdDsa,
}

impl SigningAlgorithm {
    /// The JOSE name (`HS256`, `ES256`, `RS256`, `EdDSA`).
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::Hs256 => "HS256",
            SigningAlgorithm::Es256 => "ES256",
            SigningAlgorithm::Rs256 => "RS256",
            SigningAlgorithm::EdDsa => "EdDSA",
        }
    }

    pub(crate) fn jose(self) -> Algorithm {
        match self {
            SigningAlgorithm::Hs256 => Algorithm::HS256,
            SigningAlgorithm::Es256 => Algorithm::ES256,
            SigningAlgorithm::Rs256 => Algorithm::RS256,
            SigningAlgorithm::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlgorithm {
    type Err = TokensError;

    fn from_str(s: &str) -> Result<Self, TokensError> {
        [
            SigningAlgorithm::Hs256,
            SigningAlgorithm::Es256,
            SigningAlgorithm::Rs256,
            SigningAlgorithm::EdDsa,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
        .ok_or_else(|| {
            TokensError::Signing(format!(
                "unknown algorithm {s:?}: expected HS256, ES256, RS256 or EdDSA"
            ))
        })
    }
}

/// Where a key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Signs every new token (exactly one key at a time).
    Active,
    /// Verifies the tokens it signed; signs no more.
    Verifying,
    /// Verifies nothing: every token it signed fails.
    Retired,
}

impl KeyState {
    /// `active`, `verifying` or `retired`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Verifying => "verifying",
            KeyState::Retired => "retired",
        }
    }
}

impl FromStr for KeyState {
    type Err = TokensError;

    fn from_str(s: &str) -> Result<Self, TokensError> {
        match s {
            "active" => Ok(KeyState::Active),
            "verifying" => Ok(KeyState::Verifying),
            "retired" => Ok(KeyState::Retired),
            other => Err(TokensError::Signing(format!("unknown key state {other:?}"))),
        }
    }
}

/// A signing key as stored: its private half sealed by a [`SecretCipher`],
/// its public half (for asymmetric keys) as a JWK.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// The `kid` header of the tokens it signs.
    pub kid: String,
    /// Its algorithm.
    pub algorithm: SigningAlgorithm,
    /// Active, verifying or retired.
    pub state: KeyState,
    /// When it was made.
    pub created_at: Timestamp,
    /// The private key (DER) or HMAC secret, sealed.
    pub sealed_private: String,
    /// The public JWK as JSON; `None` for HS256.
    pub public_jwk: Option<String>,
}

impl fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// Where the key set is kept, shared by every instance.
pub trait SigningKeyRepository: Send + Sync {
    /// Every key, oldest first.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn list_keys(&self) -> Result<Vec<StoredSigningKey>, TokensError>;

    /// Stores `key` (whose state is active) and makes the key that was
    /// active until now a verifying one: in one transaction.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn activate_new(&self, key: &StoredSigningKey) -> Result<(), TokensError>;

    /// Marks the verifying key `kid` retired. Returns whether it did.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn retire(&self, kid: &str) -> Result<bool, TokensError>;

    /// Replaces the sealed private half of each `(kid, sealed)`, all in one
    /// transaction.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn reseal(&self, sealed: &[(String, String)]) -> Result<(), TokensError>;
}

/// What `keys list` shows of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key id.
    pub kid: String,
    /// Its algorithm.
    pub algorithm: SigningAlgorithm,
    /// Active, verifying or retired.
    pub state: KeyState,
    /// When it was made.
    pub created_at: Timestamp,
}

/// The key set as loaded in memory.
pub(crate) struct KeyRing {
    pub(crate) signer: Signer,
    pub(crate) verifiers: HashMap<String, Verifier>,
    /// The kid of the tokens signed before keys had ids: the HS256 secret's.
    pub(crate) legacy_kid: String,
    pub(crate) jwks: Arc<str>,
    /// Tokens this ring verified: an ES256 or RS256 signature costs far more
    /// to check than a request should. Keyed by the token itself, which the
    /// map hashes faster than a SHA-256 digest of it (a digest would hide
    /// nothing from a reader of this memory, which holds the keys too). A new
    /// ring (after any change to the set) starts empty, so a retirement holds
    /// at once.
    pub(crate) verified: Mutex<HashMap<Box<str>, Arc<Claims>>>,
}

/// How many verified tokens a ring remembers before it forgets them all.
const VERIFIED_CAPACITY: usize = 10_000;

impl KeyRing {
    /// The claims of `token` if this ring verified it before.
    pub(crate) fn remembered(&self, token: &str) -> Option<Arc<Claims>> {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    /// Remembers that `token` verified with these claims.
    pub(crate) fn remember(&self, token: &str, claims: Arc<Claims>) {
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= VERIFIED_CAPACITY {
            verified.clear();
        }
        verified.insert(token.into(), claims);
    }
}

#[derive(Clone)]
pub(crate) struct Signer {
    pub(crate) kid: String,
    pub(crate) algorithm: Algorithm,
    pub(crate) key: EncodingKey,
}

#[derive(Clone)]
pub(crate) struct Verifier {
    pub(crate) key: DecodingKey,
    pub(crate) validation: Validation,
}

impl Verifier {
    fn new(algorithm: Algorithm, key: DecodingKey) -> Verifier {
        let mut validation = Validation::new(algorithm);
        // Expiry is checked against the domain clock, not the system one.
        validation.validate_exp = false;
        // The token type is checked in its place: a refresh token names an
        // audience (`REFRESH_AUDIENCE`) that Sesame takes as the type says.
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        Verifier { key, validation }
    }
}

impl KeyRing {
    /// One HS256 key made from `secret`, with the kid derived from it.
    pub(crate) fn from_secret(secret: &[u8]) -> KeyRing {
        let kid = legacy_kid(secret);
        let mut verifiers = HashMap::new();
        verifiers.insert(
            kid.clone(),
            Verifier::new(Algorithm::HS256, DecodingKey::from_secret(secret)),
        );
        KeyRing {
            signer: Signer {
                kid: kid.clone(),
                algorithm: Algorithm::HS256,
                key: EncodingKey::from_secret(secret),
            },
            verifiers,
            legacy_kid: kid,
            jwks: Arc::from(r#"{"keys":[]}"#),
            verified: Mutex::default(),
        }
    }

    /// The ring of the stored keys, their private halves opened with `cipher`.
    fn load(
        stored: &[StoredSigningKey],
        cipher: &dyn SecretCipher,
        legacy_kid: String,
    ) -> Result<KeyRing, TokensError> {
        let mut signer = None;
        let mut verifiers = HashMap::new();
        let mut jwks = JwkSet { keys: Vec::new() };
        for key in stored.iter().filter(|k| k.state != KeyState::Retired) {
            let unusable = || TokensError::Signing(format!("signing key {} is unusable", key.kid));
            let jwk: Option<Jwk> = match &key.public_jwk {
                Some(json) => Some(serde_json::from_str(json).map_err(|_| unusable())?),
                None => None,
            };
            let private = if key.state == KeyState::Active || jwk.is_none() {
                Some(cipher.decrypt(&key.sealed_private).ok_or_else(|| {
                    TokensError::Signing(format!(
                        "signing key {} is sealed with another secret: give every instance on this \
                         database the same tokens.jwt_secret (or data dir)",
                        key.kid
                    ))
                })?)
            } else {
                None
            };
            let algorithm = key.algorithm.jose();
            let decoding = match (&jwk, &private) {
                (Some(jwk), _) => DecodingKey::from_jwk(jwk).map_err(|_| unusable())?,
                (None, Some(secret)) => DecodingKey::from_secret(secret),
                (None, None) => return Err(unusable()),
            };
            verifiers.insert(key.kid.clone(), Verifier::new(algorithm, decoding));
            if key.state == KeyState::Active {
                let private = private.ok_or_else(unusable)?;
                signer = Some(Signer {
                    kid: key.kid.clone(),
                    algorithm,
                    key: encoding_key(key.algorithm, &private),
                });
            }
            jwks.keys.extend(jwk);
        }
        let signer = signer.ok_or_else(|| TokensError::Signing("no active signing key".into()))?;
        let jwks = serde_json::to_string(&jwks).map_err(|e| TokensError::Signing(e.to_string()))?;
        Ok(KeyRing {
            signer,
            verifiers,
            legacy_kid,
            jwks: Arc::from(jwks),
            verified: Mutex::default(),
        })
    }

    /// This ring without the keys named in `retired`: neither accepted nor
    /// published. It still signs with its key, retired or not.
    fn without(&self, retired: &[&str]) -> KeyRing {
        let kept = |kid: &str| !retired.contains(&kid);
        let verifiers = (self.verifiers.iter())
            .filter(|(kid, _)| kept(kid))
            .map(|(kid, verifier)| (kid.clone(), verifier.clone()))
            .collect();
        let jwks = match serde_json::from_str::<JwkSet>(&self.jwks) {
            Ok(mut set) => {
                set.keys
                    .retain(|jwk| jwk.common.key_id.as_deref().is_none_or(kept));
                serde_json::to_string(&set).map_or_else(|_| self.jwks.clone(), Arc::from)
            }
            Err(_) => self.jwks.clone(),
        };
        KeyRing {
            signer: self.signer.clone(),
            verifiers,
            legacy_kid: self.legacy_kid.clone(),
            jwks,
            verified: Mutex::default(),
        }
    }
}

fn encoding_key(algorithm: SigningAlgorithm, private: &[u8]) -> EncodingKey {
    match algorithm {
        SigningAlgorithm::Hs256 => EncodingKey::from_secret(private),
        SigningAlgorithm::Es256 => EncodingKey::from_ec_der(private),
        SigningAlgorithm::Rs256 => EncodingKey::from_rsa_der(private),
        SigningAlgorithm::EdDsa => EncodingKey::from_ed_der(private),
    }
}

/// The kid of the HS256 key made from `secret`: a digest, never the secret.
fn legacy_kid(secret: &[u8]) -> String {
    let digest = derived_key("sesame kid", secret);
    format!("hs256-{}", URL_SAFE_NO_PAD.encode(&digest[..9]))
}

/// A new key of `algorithm`: the private half (PKCS#8 DER, PKCS#1 DER for
/// RSA, the raw secret for HS256) and the public JWK.
fn generate(algorithm: SigningAlgorithm, kid: &str) -> Result<(Vec<u8>, Option<Jwk>), TokensError> {
    use rand_core::OsRng;
    let failed = |e: &dyn fmt::Display| TokensError::Signing(format!("key generation failed: {e}"));
    let private = match algorithm {
        SigningAlgorithm::Hs256 => {
            let mut secret = vec![0u8; 32];
            rand_core::RngCore::fill_bytes(&mut OsRng, &mut secret);
            return Ok((secret, None));
        }
        SigningAlgorithm::Es256 => {
            use p256::pkcs8::EncodePrivateKey;
            let key = p256::SecretKey::random(&mut OsRng);
            key.to_pkcs8_der()
                .map_err(|e| failed(&e))?
                .as_bytes()
                .to_vec()
        }
        SigningAlgorithm::Rs256 => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048).map_err(|e| failed(&e))?;
            key.to_pkcs1_der()
                .map_err(|e| failed(&e))?
                .as_bytes()
                .to_vec()
        }
        SigningAlgorithm::EdDsa => {
            use ed25519_dalek::pkcs8::EncodePrivateKey;
            let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
            key.to_pkcs8_der()
                .map_err(|e| failed(&e))?
                .as_bytes()
                .to_vec()
        }
    };
    let mut jwk = match algorithm {
        SigningAlgorithm::EdDsa => {
            use ed25519_dalek::pkcs8::DecodePrivateKey;
            let key =
                ed25519_dalek::SigningKey::from_pkcs8_der(&private).map_err(|e| failed(&e))?;
            Jwk {
                common: CommonParameters {
                    key_algorithm: Some(KeyAlgorithm::EdDSA),
                    ..CommonParameters::default()
                },
                algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                    key_type: OctetKeyPairType::OctetKeyPair,
                    curve: EllipticCurve::Ed25519,
                    x: URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
                }),
            }
        }
        _ => Jwk::from_encoding_key(&encoding_key(algorithm, &private), algorithm.jose())
            .map_err(|e| failed(&e))?,
    };
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok((private, Some(jwk)))
}

/// The key set's use cases: keep it loaded, rotate, retire, list. Reports
/// of a change made elsewhere (another instance, the command line) arrive
/// as [`ChangeObserver::signing_keys_changed`] and reload it.
#[derive(Clone)]
pub struct SigningKeys {
    repository: Arc<dyn SigningKeyRepository>,
    cipher: Arc<dyn SecretCipher>,
    clock: Arc<dyn Clock>,
    algorithm: SigningAlgorithm,
    legacy_secret: Arc<[u8]>,
    keys: JwtKeys,
    audit: Option<Arc<dyn AuditLog>>,
    /// Whether a thread is retrying a reload that failed.
    retrying: Arc<AtomicBool>,
    /// Held by a reload from its read to its replace: two reloads at once
    /// (a retry and a report of a change) take turns, so that an older
    /// read never replaces a newer one.
    reloading: Arc<Mutex<()>>,
}

impl SigningKeys {
    /// The key set in `repository`, private halves sealed by `cipher`; new
    /// keys are of `algorithm`. `legacy_secret` is the HS256 secret tokens
    /// were signed with before keys had ids: on first start it becomes the
    /// first key, and tokens without a `kid` are checked with it.
    ///
    /// # Errors
    /// [`TokensError::Signing`] when the secret is shorter than 32 bytes.
    pub fn new(
        repository: Arc<dyn SigningKeyRepository>,
        cipher: Arc<dyn SecretCipher>,
        clock: Arc<dyn Clock>,
        algorithm: SigningAlgorithm,
        legacy_secret: &[u8],
        issuer: &str,
    ) -> Result<SigningKeys, TokensError> {
        let keys = JwtKeys::from_secret(legacy_secret)?.with_issuer(issuer);
        Ok(SigningKeys {
            repository,
            cipher,
            clock,
            algorithm,
            legacy_secret: Arc::from(legacy_secret),
            keys,
            audit: None,
            retrying: Arc::default(),
            reloading: Arc::default(),
        })
    }

    /// The same key set, recording rotations and retirements in `audit`.
    pub fn with_audit(mut self, audit: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    fn audited(&self, kind: &str, kid: &str, actor: &Actor) {
        let Some(audit) = &self.audit else { return };
        let event = AuditEvent::new(
            kind,
            None,
            actor,
            self.clock.now(),
            Some(format!("kid {kid}")),
        );
        audit.record_or_warn(&event);
    }

    /// The handle to sign and verify with; every reload updates it.
    pub fn keys(&self) -> JwtKeys {
        self.keys.clone()
    }

    /// Makes sure the set has an active key (the legacy HS256 secret, on
    /// first start), then loads it. A process whose secret cannot open the
    /// stored keys changes nothing: a key of its own would demote the active
    /// one, and no instance with the right secret could then open the set.
    ///
    /// # Errors
    /// [`TokensError::Storage`], [`TokensError::Signing`].
    pub fn start(&self) -> Result<(), TokensError> {
        let stored = self.repository.list_keys()?;
        if !stored.is_empty() {
            self.reload()?;
        } else {
            let kid = legacy_kid(&self.legacy_secret);
            let stored = self.repository.activate_new(&StoredSigningKey {
                kid,
                algorithm: SigningAlgorithm::Hs256,
                state: KeyState::Active,
                created_at: self.clock.now(),
                sealed_private: self.cipher.encrypt(&self.legacy_secret),
                public_jwk: None,
            });
            // Another instance starting at the same time may have stored it first.
            if let Err(e) = stored {
                if self.repository.list_keys()?.is_empty() {
                    return Err(e);
                }
            }
        }
        self.reload()
    }

    /// Rotates to a key of the configured algorithm when the active key is
    /// of another: what a server does as it starts, and no other command (a
    /// command run without the servers' settings would change their key).
    ///
    /// # Errors
    /// [`TokensError::Storage`], [`TokensError::Signing`].
    pub fn use_configured_algorithm(&self) -> Result<(), TokensError> {
        let active_matches = self
            .repository
            .list_keys()?
            .iter()
            .any(|k| k.state == KeyState::Active && k.algorithm == self.algorithm);
        if !active_matches {
            self.rotate(&Actor::default())?;
        }
        Ok(())
    }

    /// Reads the set from storage again.
    ///
    /// # Errors
    /// [`TokensError::Storage`], [`TokensError::Signing`].
    pub fn reload(&self) -> Result<(), TokensError> {
        self.reloader()()
    }

    /// [`SigningKeys::reload`] when the stored set differs from the one in
    /// memory (a key made, made active or retired): a backstop for a change
    /// notice that was lost, which leaves the ring (and the tokens it
    /// verified) alone when nothing changed.
    ///
    /// # Errors
    /// As [`SigningKeys::reload`].
    pub fn reload_if_changed(&self) -> Result<(), TokensError> {
        let stored = self.repository.list_keys()?;
        let ring = self.keys.current();
        let live = || stored.iter().filter(|k| k.state != KeyState::Retired);
        let active = stored.iter().find(|k| k.state == KeyState::Active);
        let unchanged = active.is_some_and(|k| k.kid == ring.signer.kid)
            && live().count() == ring.verifiers.len()
            && live().all(|k| ring.verifiers.contains_key(&k.kid));
        if unchanged {
            return Ok(());
        }
        self.reload()
    }

    /// What [`SigningKeys::reload`] does, for a thread of its own.
    fn reloader(&self) -> impl Fn() -> Result<(), TokensError> + Send + 'static {
        let (repository, cipher) = (self.repository.clone(), self.cipher.clone());
        let (legacy_kid, keys) = (legacy_kid(&self.legacy_secret), self.keys.clone());
        let reloading = self.reloading.clone();
        move || {
            let _turn = reloading.lock().unwrap_or_else(|p| p.into_inner());
            let stored = repository.list_keys()?;
            match KeyRing::load(&stored, &*cipher, legacy_kid.clone()) {
                Ok(ring) => keys.replace(ring),
                Err(e) => {
                    // The set cannot be opened here (another secret sealed
                    // it): what it retired is refused all the same.
                    let retired: Vec<&str> = (stored.iter())
                        .filter(|k| k.state == KeyState::Retired)
                        .map(|k| k.kid.as_str())
                        .collect();
                    if retired.iter().any(|kid| keys.verifies(kid)) {
                        keys.replace(keys.current().without(&retired));
                    }
                    return Err(e);
                }
            }
            Ok(())
        }
    }

    /// Tries a failed reload again on a thread of its own, more and more
    /// slowly (up to every second: a read of a few rows), until it
    /// succeeds: a key retired while storage was away must stop being
    /// accepted here within a second of its return.
    fn reload_later(&self) {
        if self.retrying.swap(true, Ordering::AcqRel) {
            return;
        }
        let (reload, retrying) = (self.reloader(), self.retrying.clone());
        let retry = move || {
            let mut pause = Duration::from_millis(200);
            for attempt in 0u64.. {
                std::thread::sleep(pause);
                match reload() {
                    Ok(()) => break,
                    // Logged about once a minute: the outage may be long.
                    Err(e) if attempt % 60 == 0 => {
                        tracing::warn!(error = %e, attempt, "could not reload the signing keys")
                    }
                    Err(_) => {}
                }
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            retrying.store(false, Ordering::Release);
        };
        let thread = std::thread::Builder::new().name("sesame-key-reload".into());
        if thread.spawn(retry).is_err() {
            self.retrying.store(false, Ordering::Release);
        }
    }

    /// Every key, oldest first.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    pub fn list(&self) -> Result<Vec<KeyInfo>, TokensError> {
        Ok(self
            .repository
            .list_keys()?
            .into_iter()
            .map(|k| KeyInfo {
                kid: k.kid,
                algorithm: k.algorithm,
                state: k.state,
                created_at: k.created_at,
            })
            .collect())
    }

    /// Makes a new key of the configured algorithm the one that signs; the
    /// one before it keeps verifying. RSA keys take a while to make: call
    /// it where blocking is allowed. Audited as `signing_key_rotated`, done
    /// by `actor`.
    ///
    /// # Errors
    /// [`TokensError::Storage`], [`TokensError::Signing`].
    pub fn rotate(&self, actor: &Actor) -> Result<KeyInfo, TokensError> {
        let now = self.clock.now();
        let kid = format!(
            "{}-{}",
            self.algorithm.as_str().to_ascii_lowercase(),
            random_token(9)
        );
        let (private, jwk) = generate(self.algorithm, &kid)?;
        let public_jwk = jwk
            .map(|jwk| serde_json::to_string(&jwk))
            .transpose()
            .map_err(|e| TokensError::Signing(e.to_string()))?;
        self.repository.activate_new(&StoredSigningKey {
            kid: kid.clone(),
            algorithm: self.algorithm,
            state: KeyState::Active,
            created_at: now,
            sealed_private: self.cipher.encrypt(&private),
            public_jwk,
        })?;
        self.reload()?;
        self.audited("signing_key_rotated", &kid, actor);
        Ok(KeyInfo {
            kid,
            algorithm: self.algorithm,
            state: KeyState::Active,
            created_at: now,
        })
    }

    /// Retires `kid`: every token it signed fails from now on. Audited as
    /// `signing_key_retired`, done by `actor`.
    ///
    /// # Errors
    /// [`TokensError::UnknownKey`], [`TokensError::ActiveKey`] (the active key
    /// cannot be retired: rotate first), [`TokensError::Storage`].
    pub fn retire(&self, kid: &str, actor: &Actor) -> Result<(), TokensError> {
        let stored = self.repository.list_keys()?;
        match stored.iter().find(|k| k.kid == kid).map(|k| k.state) {
            None => Err(TokensError::UnknownKey(kid.to_owned())),
            Some(KeyState::Active) => Err(TokensError::ActiveKey(kid.to_owned())),
            Some(KeyState::Retired) => Ok(()),
            Some(KeyState::Verifying) => {
                self.repository.retire(kid)?;
                self.audited("signing_key_retired", kid, actor);
                self.reload()
            }
        }
    }

    /// Seals every key that still verifies with this set's cipher, opening
    /// it with `old`, the cipher of `old_secret`, the JWT secret used until
    /// now: what lets the instances start with a new secret. A key this
    /// cipher opens already is left as it is, so that running it twice is
    /// harmless. The key that is `old_secret` itself (the HS256 key of the
    /// first start) is retired, after a rotation if it is the active one:
    /// whoever has the old secret could sign with it. Audited as
    /// `signing_key_resealed`, and as the rotation and retirement are.
    ///
    /// # Errors
    /// [`TokensError::Signing`] for `old_secret` being this set's own, or
    /// naming a key neither cipher opens (nothing is changed then);
    /// [`TokensError::Storage`].
    pub fn reseal(
        &self,
        old: &dyn SecretCipher,
        old_secret: &[u8],
        actor: &Actor,
    ) -> Result<Resealed, TokensError> {
        if old_secret == &*self.legacy_secret {
            return Err(TokensError::Signing(
                "the old secret is the one configured now: configure the new one".into(),
            ));
        }
        let (mut sealed, mut leaked) = (Vec::new(), Vec::new());
        let stored = self.repository.list_keys()?;
        for key in stored.iter().filter(|k| k.state != KeyState::Retired) {
            let private = match self.cipher.decrypt(&key.sealed_private) {
                Some(private) => private,
                None => {
                    let private = old.decrypt(&key.sealed_private).ok_or_else(|| {
                        TokensError::Signing(format!(
                            "signing key {} is sealed with neither the old secret nor the new one",
                            key.kid
                        ))
                    })?;
                    sealed.push((key.kid.clone(), self.cipher.encrypt(&private)));
                    private
                }
            };
            if private == old_secret {
                leaked.push((key.kid.clone(), key.state));
            }
        }
        self.repository.reseal(&sealed)?;
        let mut report = Resealed::default();
        for (kid, _) in sealed {
            self.audited("signing_key_resealed", &kid, actor);
            if !leaked.iter().any(|(leaked, _)| *leaked == kid) {
                report.resealed.push(kid);
            }
        }
        for (kid, state) in leaked {
            if state == KeyState::Active {
                report.rotated_to = Some(self.rotate(actor)?.kid);
            }
            self.retire(&kid, actor)?;
            report.retired.push(kid);
        }
        Ok(report)
    }
}

/// What [`SigningKeys::reseal`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resealed {
    /// The keys sealed with the new secret, still verifying.
    pub resealed: Vec<String>,
    /// The keys that were the old secret itself, retired.
    pub retired: Vec<String>,
    /// The key made to sign in place of a retired active one.
    pub rotated_to: Option<String>,
}

impl ChangeObserver for SigningKeys {
    fn user_changed(&self, _: UserId) {}

    fn session_changed(&self, _: &str) {}

    fn all_changed(&self) {
        self.signing_keys_changed();
    }

    fn signing_keys_changed(&self) {
        if let Err(e) = self.reload() {
            tracing::warn!(error = %e, "could not reload the signing keys; trying again");
            self.reload_later();
        }
    }
}

/// The shared, replaceable ring behind a [`JwtKeys`].
pub(crate) type SharedRing = Arc<RwLock<Arc<KeyRing>>>;
