//! A second factor: TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps, one step of
//! drift either way, each step accepted once) and single-use recovery codes.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use sesame_kernel::audit::{Actor, AuditEvent, AuditLog};
use sesame_kernel::secrets::{
    constant_time_eq, derived_key, keyed_hash, random_bytes, token_hash, SecretCipher,
};
use sesame_kernel::{Clock, UserId};
use sesame_users::{AccountService, ConfirmationThrottle, User};
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::login::alert_at_every_few;
use crate::{SessionRepository, TokensError};

/// A user's TOTP state as stored: the secret only encrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpRecord {
    /// The secret, encrypted by the [`SecretCipher`].
    pub encrypted_secret: String,
    /// Whether a first code confirmed it (TOTP is on).
    pub confirmed: bool,
    /// The last 30-second step a code was accepted for.
    pub last_used_step: Option<i64>,
}

impl std::fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRecord")
            .field("confirmed", &self.confirmed)
            .field("last_used_step", &self.last_used_step)
            .finish_non_exhaustive()
    }
}

/// What [`MfaService::check_stored_secrets`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SecretsCheck {
    /// How many TOTP secrets are stored, pending or confirmed.
    pub stored: usize,
    /// The users whose secret the key does not open, by id.
    pub unreadable: Vec<UserId>,
}

/// Where second factors are kept.
pub trait MfaRepository: Send + Sync {
    /// The user's TOTP record, if any.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn find_totp(&self, user: UserId) -> Result<Option<TotpRecord>, TokensError>;

    /// The sealed TOTP secrets, pending or confirmed, of the users after
    /// `after`, by user id, at most `limit` of them.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn totp_secrets(
        &self,
        after: UserId,
        limit: usize,
    ) -> Result<Vec<(UserId, String)>, TokensError>;

    /// Stores a new unconfirmed secret, replacing an unconfirmed one.
    ///
    /// # Errors
    /// [`TokensError::MfaAlreadyEnabled`] when a confirmed one is kept (a
    /// confirmation that came first), [`TokensError::Storage`].
    fn save_pending_totp(&self, user: UserId, encrypted_secret: &str) -> Result<(), TokensError>;

    /// Turns TOTP on with the step of the confirming code and the hashes of
    /// fresh recovery codes (replacing any old ones), in one transaction,
    /// if the pending setup is still the one whose `encrypted_secret` the
    /// code was checked against (a compare-and-swap: of two racing
    /// confirmations, or a confirmation racing a new setup, one wins).
    /// Returns whether it was turned on.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn confirm_totp(
        &self,
        user: UserId,
        encrypted_secret: &str,
        step: i64,
        recovery_code_hashes: &[String],
    ) -> Result<bool, TokensError>;

    /// Records `step` as used if it is later than the last used one (a
    /// compare-and-swap). Returns whether it was recorded.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn use_totp_step(&self, user: UserId, step: i64) -> Result<bool, TokensError>;

    /// Deletes the recovery code with this hash. Returns whether it existed.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn use_recovery_code(&self, user: UserId, code_hash: &str) -> Result<bool, TokensError>;

    /// Removes TOTP and the recovery codes.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn remove_totp(&self, user: UserId) -> Result<(), TokensError>;
}

/// ChaCha20-Poly1305 with a 256-bit key and a random nonce per secret;
/// digests are HMAC-SHA256 under a key derived from the same one.
pub struct ChaChaCipher {
    cipher: ChaCha20Poly1305,
    digest_key: [u8; 32],
}

impl ChaChaCipher {
    /// A cipher with this 32-byte key.
    ///
    /// # Errors
    /// [`TokensError::Signing`] when the key is not 32 bytes.
    pub fn new(key: &[u8]) -> Result<Self, TokensError> {
        let cipher = ChaCha20Poly1305::new_from_slice(key)
            .map_err(|_| TokensError::Signing("the MFA encryption key must be 32 bytes".into()))?;
        let digest_key = derived_key("sesame mfa: recovery code digests", key);
        Ok(ChaChaCipher { cipher, digest_key })
    }
}

impl SecretCipher for ChaChaCipher {
    fn encrypt(&self, plain: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&random_bytes(12));
        let mut sealed = nonce.to_vec();
        // Encryption with a fresh 96-bit nonce cannot fail for inputs this small.
        sealed.extend(
            self.cipher
                .encrypt(&Nonce::from(nonce), plain)
                .unwrap_or_default(),
        );
        URL_SAFE_NO_PAD.encode(sealed)
    }

    fn decrypt(&self, sealed: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let (nonce, ciphertext) = bytes.split_first_chunk::<12>()?;
        self.cipher.decrypt(&Nonce::from(*nonce), ciphertext).ok()
    }

    fn digest(&self, secret: &str) -> String {
        keyed_hash(&self.digest_key, secret)
    }
}

/// What setup hands the user once: the secret to type or scan.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSetup {
    /// The secret, base32 without padding.
    pub secret: String,
    /// `otpauth://totp/Sesame:<username>?secret=<secret>&issuer=Sesame`.
    pub otpauth_url: String,
}

/// How many recovery codes a user gets.
pub const RECOVERY_CODES: usize = 10;
const SECRET_BYTES: usize = 20;
const STEP_SECONDS: i64 = 30;

/// Second-factor use-cases: set up, confirm, disable, check at login.
#[derive(Clone)]
pub struct MfaService {
    store: Arc<dyn MfaRepository>,
    cipher: Arc<dyn SecretCipher>,
    clock: Arc<dyn Clock>,
    sessions: Option<Arc<dyn SessionRepository>>,
    audit: Option<Arc<dyn AuditLog>>,
    throttle: Option<Arc<dyn ConfirmationThrottle>>,
    alerts: Option<AccountService>,
}

impl MfaService {
    /// A service over these ports.
    pub fn new(
        store: Arc<dyn MfaRepository>,
        cipher: Arc<dyn SecretCipher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        MfaService {
            store,
            cipher,
            clock,
            sessions: None,
            audit: None,
            throttle: None,
            alerts: None,
        }
    }

    /// The same service, counting the wrong codes that try to turn TOTP off
    /// in `throttle`, as the wrong passwords that confirm a change are.
    pub fn with_throttle(mut self, throttle: Arc<dyn ConfirmationThrottle>) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// The same service, mailing the owner through `accounts` when wrong
    /// codes keep coming to confirm a change, as a login does.
    pub fn with_alerts(mut self, accounts: AccountService) -> Self {
        self.alerts = Some(accounts);
        self
    }

    /// The users whose stored TOTP secret this service's key does not
    /// open, and how many secrets are stored. Served with another key, no
    /// such secret opens (503 at each of their logins), and each of their
    /// recovery codes counts as wrong.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    pub fn check_stored_secrets(&self) -> Result<SecretsCheck, TokensError> {
        let mut check = SecretsCheck::default();
        self.each_secret(|user, sealed| {
            check.stored += 1;
            if self.cipher.decrypt(sealed).is_none() {
                check.unreadable.push(user);
            }
        })?;
        Ok(check)
    }

    /// Every user with TOTP on or being set up, by id: those to
    /// [`MfaService::reset`] when the key is lost.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    pub fn users_with_totp(&self) -> Result<Vec<UserId>, TokensError> {
        let mut users = Vec::new();
        self.each_secret(|user, _| users.push(user))?;
        Ok(users)
    }

    fn each_secret(&self, mut visit: impl FnMut(UserId, &str)) -> Result<(), TokensError> {
        const PAGE: usize = 1_000;
        let mut after = UserId(0);
        loop {
            let page = self.store.totp_secrets(after, PAGE)?;
            for (user, sealed) in &page {
                visit(*user, sealed);
            }
            match page.last() {
                Some((last, _)) if page.len() == PAGE => after = *last,
                _ => return Ok(()),
            }
        }
    }

    /// The same service, recording TOTP being turned on and off in `audit`.
    pub fn with_audit(mut self, audit: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    fn audited(&self, kind: &str, user: &User, actor: &Actor) {
        let Some(audit) = &self.audit else { return };
        let event = AuditEvent::new(kind, Some(user.id), actor, self.clock.now(), None);
        audit.record_or_warn(&event);
    }

    /// The same service, ending the user's other sessions when TOTP is
    /// turned on (as a password change does): a session opened with the
    /// password alone must not outlive the second factor.
    pub fn with_sessions(mut self, sessions: Arc<dyn SessionRepository>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// Starts setup: a new secret (not active until confirmed). The caller
    /// has checked the user's password.
    ///
    /// # Errors
    /// [`TokensError::MfaAlreadyEnabled`], [`TokensError::Storage`].
    pub fn setup(&self, user: &User) -> Result<TotpSetup, TokensError> {
        if self.store.find_totp(user.id)?.is_some_and(|r| r.confirmed) {
            return Err(TokensError::MfaAlreadyEnabled);
        }
        let secret = random_bytes(SECRET_BYTES);
        self.store
            .save_pending_totp(user.id, &self.cipher.encrypt(&secret))?;
        let encoded = totp(secret)?.secret().to_base32();
        Ok(TotpSetup {
            otpauth_url: format!(
                "otpauth://totp/Sesame:{}?secret={encoded}&issuer=Sesame",
                percent_encode(&user.username)
            ),
            secret: encoded,
        })
    }

    /// Confirms setup with a first code: TOTP is on, and the ten recovery
    /// codes are returned (only their hashes are kept). With
    /// [`MfaService::with_sessions`], every session of the user but
    /// `keep_session` ends. Audited as `mfa_enabled`, done by `actor`.
    ///
    /// Only a token is needed here, so a wrong code is counted by the
    /// throttle and a held-back account confirms nothing: a thief with a
    /// token must not guess the code of a setup its owner left unfinished,
    /// turn TOTP on and take the recovery codes.
    ///
    /// # Errors
    /// [`TokensError::MfaNotEnabled`] without a pending setup,
    /// [`TokensError::MfaAlreadyEnabled`], [`TokensError::OtpInvalid`],
    /// [`sesame_users::UsersError::ConfirmationThrottled`] (in [`TokensError::Users`]),
    /// [`TokensError::Storage`].
    pub fn confirm(
        &self,
        user: &User,
        code: &str,
        keep_session: Option<&str>,
        actor: &Actor,
    ) -> Result<Vec<String>, TokensError> {
        let record = self
            .store
            .find_totp(user.id)?
            .ok_or(TokensError::MfaNotEnabled)?;
        if record.confirmed {
            return Err(TokensError::MfaAlreadyEnabled);
        }
        self.held_back(user.id)?;
        let step = self.matching_step(&record, code)?;
        if step.is_none() {
            // A stolen token may guess at a setup its owner left unfinished.
            self.count_wrong_code(user);
        }
        self.held_back(user.id)?;
        let step = step.ok_or(TokensError::OtpInvalid)?;
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
        let hashes: Vec<String> = codes
            .iter()
            .map(|c| self.cipher.digest(&normalized(c)))
            .collect();
        let secret = &record.encrypted_secret;
        if !self.store.confirm_totp(user.id, secret, step, &hashes)? {
            // Turned on meanwhile, or replaced by a new setup.
            return Err(match self.store.find_totp(user.id)? {
                Some(record) if record.confirmed => TokensError::MfaAlreadyEnabled,
                _ => TokensError::OtpInvalid,
            });
        }
        if let Some(sessions) = &self.sessions {
            sessions.revoke_all(user.id, keep_session, self.clock.now())?;
        }
        self.audited("mfa_enabled", user, actor);
        Ok(codes)
    }

    /// Turns TOTP off after a valid code (TOTP or an unused recovery code);
    /// a wrong one is counted by the throttle. The caller has confirmed the
    /// user's password through the same throttle.
    ///
    /// # Errors
    /// [`TokensError::MfaNotEnabled`], [`TokensError::OtpInvalid`], [`TokensError::Storage`].
    pub fn disable(&self, user: &User, code: &str, actor: &Actor) -> Result<(), TokensError> {
        match self.store.find_totp(user.id)? {
            Some(record) if record.confirmed => {
                self.throttled_check(user, &record, code)?;
                self.store.remove_totp(user.id)?;
                self.audited("mfa_disabled", user, actor);
                Ok(())
            }
            _ => Err(TokensError::MfaNotEnabled),
        }
    }

    /// Turns TOTP off with no code, for an owner who lost both the device
    /// and the recovery codes (an operator's `sesame user totp-off`, after
    /// checking who asks). Every session of the account ends with it: the
    /// lost device may hold one. Audited as `mfa_reset`, done by `actor`.
    /// `false` when TOTP was not on (an unfinished setup is dropped all the
    /// same).
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    pub fn reset(&self, user: &User, actor: &Actor) -> Result<bool, TokensError> {
        let Some(record) = self.store.find_totp(user.id)? else {
            return Ok(false);
        };
        // Sessions first: should ending them fail, TOTP is still on and the
        // command can be run again.
        if let (true, Some(sessions)) = (record.confirmed, &self.sessions) {
            sessions.revoke_all(user.id, None, self.clock.now())?;
        }
        self.store.remove_totp(user.id)?;
        if record.confirmed {
            self.audited("mfa_reset", user, actor);
        }
        Ok(record.confirmed)
    }

    /// Confirms a change that could outlast TOTP (adding a passkey): nothing
    /// to do without TOTP; with it, a valid code (TOTP or an unused recovery
    /// code, used up), a wrong one counted by the throttle. The caller has
    /// confirmed the user's password through the same throttle.
    ///
    /// # Errors
    /// [`TokensError::OtpRequired`], [`TokensError::OtpInvalid`],
    /// [`sesame_users::UsersError::ConfirmationThrottled`] (in [`TokensError::Users`]),
    /// [`TokensError::Storage`].
    pub fn confirm_code(&self, user: &User, code: Option<&str>) -> Result<(), TokensError> {
        match self.code_needed(user, code)? {
            Some((record, code)) => self.throttled_check(user, &record, code),
            None => Ok(()),
        }
    }

    /// The TOTP record of `user` and the `code` given, trimmed, when TOTP is
    /// on (`None` when it is off).
    ///
    /// # Errors
    /// [`TokensError::OtpRequired`] without a code, [`TokensError::Storage`].
    fn code_needed<'a>(
        &self,
        user: &User,
        code: Option<&'a str>,
    ) -> Result<Option<(TotpRecord, &'a str)>, TokensError> {
        let Some(record) = self.store.find_totp(user.id)?.filter(|r| r.confirmed) else {
            return Ok(None);
        };
        let code = code
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or(TokensError::OtpRequired)?;
        Ok(Some((record, code)))
    }

    /// [`MfaService::check_code`] behind the throttle. A wrong code that
    /// locks the account is answered as locked. So is a right one when
    /// wrong codes sent with it locked the account while it was checked (it
    /// is used up all the same), as a login's is: otherwise every pause
    /// would let a burst of guesses through, not one.
    fn throttled_check(
        &self,
        user: &User,
        record: &TotpRecord,
        code: &str,
    ) -> Result<(), TokensError> {
        self.held_back(user.id)?;
        let checked = self.check_code(user.id, record, code);
        if let Err(TokensError::OtpInvalid) = &checked {
            self.count_wrong_code(user);
        }
        self.held_back(user.id)?;
        checked
    }

    /// Counts a wrong code of `user` as a failed login and as a wrong code,
    /// mailing the owner at every few.
    fn count_wrong_code(&self, user: &User) {
        let Some(throttle) = &self.throttle else {
            return;
        };
        throttle.record_failure(user.id);
        let wrong = throttle.record_wrong_code(user.id);
        if let Some(accounts) = &self.alerts {
            alert_at_every_few(accounts, user, wrong);
        }
    }

    /// Whether the user has TOTP on.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    pub fn is_enabled(&self, user: &User) -> Result<bool, TokensError> {
        Ok(self.store.find_totp(user.id)?.is_some_and(|r| r.confirmed))
    }

    /// The second step of a login: nothing to do without TOTP; with it, a
    /// TOTP code for a step not used before, or an unused recovery code.
    /// Whether TOTP was on (and a code checked).
    ///
    /// # Errors
    /// [`TokensError::OtpRequired`], [`TokensError::OtpInvalid`], [`TokensError::Storage`].
    pub fn check_login(&self, user: &User, otp: Option<&str>) -> Result<bool, TokensError> {
        match self.code_needed(user, otp)? {
            Some((record, code)) => self.check_code(user.id, &record, code).map(|()| true),
            None => Ok(false),
        }
    }

    fn check_code(&self, user: UserId, record: &TotpRecord, code: &str) -> Result<(), TokensError> {
        if let Some(step) = self.matching_step(record, code)? {
            return if self.store.use_totp_step(user, step)? {
                Ok(())
            } else {
                Err(TokensError::OtpInvalid)
            };
        }
        let code = normalized(code);
        // Codes made before they were keyed are stored as plain SHA-256.
        if self
            .store
            .use_recovery_code(user, &self.cipher.digest(&code))?
            || self.store.use_recovery_code(user, &token_hash(&code))?
        {
            Ok(())
        } else {
            Err(TokensError::OtpInvalid)
        }
    }

    /// [`sesame_users::UsersError::ConfirmationThrottled`] while the throttle holds `user`
    /// back: checked before a code, and after a wrong one (and after any
    /// code that is not used up by its check), so that codes guessed at
    /// once learn no more than the allowance.
    fn held_back(&self, user: UserId) -> Result<(), TokensError> {
        Ok(self
            .throttle
            .as_ref()
            .map_or(Ok(()), |t| t.held_back(user))?)
    }

    /// The step within one of now whose code is `code`, if any and not used yet.
    fn matching_step(&self, record: &TotpRecord, code: &str) -> Result<Option<i64>, TokensError> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        let secret = self
            .cipher
            .decrypt(&record.encrypted_secret)
            .ok_or_else(|| TokensError::Signing("the TOTP secret cannot be decrypted".into()))?;
        let totp = totp(secret)?;
        let now = self.clock.now().timestamp() / STEP_SECONDS;
        Ok([now - 1, now, now + 1].into_iter().find(|step| {
            record.last_used_step.is_none_or(|last| *step > last)
                && constant_time_eq(
                    &totp.generate((*step * STEP_SECONDS) as u64).to_string(),
                    code,
                )
        }))
    }
}

fn totp(secret: Vec<u8>) -> Result<Totp, TokensError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECONDS as u64)
        .with_secret(Secret::new(secret.into_boxed_slice()))
        .build()
        .map_err(|e| TokensError::Signing(format!("TOTP: {e:?}")))
}

/// Ten characters from an alphabet without look-alikes, as `xxxxx-xxxxx`.
fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let raw: String = random_bytes(10)
        .into_iter()
        .map(|b| ALPHABET[b as usize % ALPHABET.len()] as char)
        .collect();
    format!("{}-{}", &raw[..5], &raw[5..])
}

/// Recovery codes compare without case, spaces or dashes.
fn normalized(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The TOTP code for `secret_base32` at `unix_seconds` (for clients and tests).
///
/// # Errors
/// [`TokensError::Signing`] for a malformed secret.
pub fn totp_code(secret_base32: &str, unix_seconds: i64) -> Result<String, TokensError> {
    let secret = Secret::try_from_base32(secret_base32)
        .map_err(|e| TokensError::Signing(format!("TOTP secret: {e:?}")))?;
    Ok(totp(secret.as_bytes().to_vec())?
        .generate(unix_seconds as u64)
        .to_string())
}
