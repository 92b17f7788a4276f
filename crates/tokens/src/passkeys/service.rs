//! The passkey use cases over webauthn-rs: registering, listing and removing
//! passkeys, and logging in with one.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sesame_kernel::audit::{Actor, AuditEvent, AuditLog};
use sesame_kernel::secrets::{random_bytes, random_token, token_hash};
use sesame_kernel::{Clock, UserId};
use sesame_users::{identity_key, AccountService, User, UserRepository};
use webauthn_rs_core::fake::{FakePasskeyDistribution, WebauthnFakeCredentialGenerator};
use webauthn_rs_core::proto::{
    AllowCredentials, AttestationConveyancePreference, AuthenticationState, COSEAlgorithm,
    CollectedClientData, CredProtect, Credential, CredentialProtectionPolicy, ParsedAttestation,
    PublicKeyCredential, RegisterPublicKeyCredential, RegistrationState,
    RequestAuthenticationExtensions, RequestRegistrationExtensions, ResidentKeyRequirement,
    UserVerificationPolicy,
};
use webauthn_rs_core::WebauthnCore;

use super::ports::{Ceremony, CeremonyKind, ChallengeStore, PasskeyRepository, StoredPasskey};
use crate::{
    ClientInfo, LoggedIn, MfaService, NewSession, Revival, SessionKind, SessionService, TokensError,
};

/// How long a ceremony may take between its begin and its finish.
pub const CEREMONY_LIFETIME: StdDuration = StdDuration::from_secs(300);
/// The name of a passkey registered without one.
pub const DEFAULT_PASSKEY_NAME: &str = "Passkey";
/// The longest passkey name, in characters.
pub const MAX_PASSKEY_NAME_CHARS: usize = 64;
/// The most passkeys one account may hold: each one is read, and sent in
/// the options, at every login that names the account.
pub const MAX_PASSKEYS_PER_ACCOUNT: usize = 20;
/// The longest credential id WebAuthn allows, in bytes.
const MAX_CREDENTIAL_ID_BYTES: usize = 1023;
/// Bytes of randomness in a passkey id and in a user handle.
const ID_BYTES: usize = 16;

/// The relying party, from configuration.
#[derive(Clone)]
pub struct PasskeySettings {
    /// The relying party id: the site's domain (`localhost`).
    pub rp_id: String,
    /// The name an authenticator shows.
    pub rp_name: String,
    /// The origin browsers report; any other is refused.
    pub origin: String,
    /// The key that makes the fake credential ids answered for a name that
    /// names no account (the same ones each time); derive it from a server
    /// secret.
    pub fake_credential_key: Vec<u8>,
}

impl std::fmt::Debug for PasskeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeySettings")
            .field("rp_id", &self.rp_id)
            .field("rp_name", &self.rp_name)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// The storage and the use cases a [`PasskeyService`] works with.
#[derive(Clone)]
pub struct PasskeyPorts {
    /// Where passkeys are kept.
    pub passkeys: Arc<dyn PasskeyRepository>,
    /// Where ceremonies wait for their finish.
    pub challenges: Arc<dyn ChallengeStore>,
    /// The accounts (a login is recorded on the account).
    pub users: Arc<dyn UserRepository>,
    /// Account use cases (the password that removing a passkey needs).
    pub accounts: AccountService,
    /// Sessions: a passkey login opens one like any other login.
    pub sessions: SessionService,
    /// TOTP: an account with it on confirms a new passkey with a code too.
    pub mfa: MfaService,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

/// What the registration state keeps besides webauthn-rs's own.
#[derive(Serialize, Deserialize)]
struct RegistrationCeremony {
    user_handle: String,
    state: RegistrationState,
}

/// Passkeys: register (signed in), list, remove (with the password), and log
/// in with one, as a whole login.
#[derive(Clone)]
pub struct PasskeyService {
    webauthn: Arc<WebauthnCore>,
    fake_credentials: Arc<WebauthnFakeCredentialGenerator<FakePasskeyDistribution>>,
    ports: PasskeyPorts,
    audit: Option<Arc<dyn AuditLog>>,
}

impl PasskeyService {
    /// A service for the relying party `settings` over `ports`.
    ///
    /// # Errors
    /// [`TokensError::PasskeySetup`] when the origin is not a URL, or the
    /// relying party id is not its host or a parent domain of it.
    pub fn new(settings: &PasskeySettings, ports: PasskeyPorts) -> Result<Self, TokensError> {
        let setup = |message: String| TokensError::PasskeySetup(message);
        let origin = url::Url::parse(&settings.origin)
            .map_err(|e| setup(format!("origin {:?}: {e}", settings.origin)))?;
        let host = origin.host_str().unwrap_or_default();
        let rp_id = settings.rp_id.trim();
        if rp_id.is_empty() || !(host == rp_id || host.ends_with(&format!(".{rp_id}"))) {
            return Err(setup(format!(
                "the relying party id {rp_id:?} must be the origin's host {host:?} or a parent domain of it"
            )));
        }
        let webauthn = WebauthnCore::new_unsafe_experts_only(
            &settings.rp_name,
            rp_id,
            vec![origin],
            CEREMONY_LIFETIME,
            Some(false),
            Some(false),
        );
        let fake_credentials = WebauthnFakeCredentialGenerator::new(&settings.fake_credential_key)
            .map_err(|e| setup(format!("fake credential key: {e}")))?;
        Ok(PasskeyService {
            webauthn: Arc::new(webauthn),
            fake_credentials: Arc::new(fake_credentials),
            ports,
            audit: None,
        })
    }

    /// Records registrations, removals and passkey logins in `audit`.
    pub fn with_audit(mut self, audit: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Begins registering a passkey for `user`, who confirms with their
    /// password and, with TOTP on, a `code` (a passkey signs in without
    /// password or TOTP, so neither a session alone, perhaps a stolen token,
    /// nor a session and the password may add one): the creation options
    /// (WebAuthn Level 3 JSON, `{"publicKey": ...}`) for the browser.
    ///
    /// # Errors
    /// [`TokensError::Users`] with `WrongCurrentPassword` or
    /// `ConfirmationThrottled`; [`TokensError::OtpRequired`] or
    /// [`TokensError::OtpInvalid`]; [`TokensError::TooManyPasskeys`];
    /// [`TokensError::Storage`], or [`TokensError::PasskeySetup`] if
    /// webauthn-rs cannot make a challenge.
    pub fn begin_registration(
        &self,
        user: &User,
        current_password: &str,
        code: Option<&str>,
    ) -> Result<serde_json::Value, TokensError> {
        self.ports
            .accounts
            .confirm_password(user, current_password)?;
        // Before the code, which a check uses up (a recovery code for good).
        let existing = self.ports.passkeys.passkeys_of(user.id)?;
        if existing.len() >= MAX_PASSKEYS_PER_ACCOUNT {
            return Err(TokensError::TooManyPasskeys(MAX_PASSKEYS_PER_ACCOUNT));
        }
        self.ports.mfa.confirm_code(user, code)?;
        let user_handle = existing.first().map_or_else(
            || URL_SAFE_NO_PAD.encode(random_bytes(ID_BYTES)),
            |p| p.user_handle.clone(),
        );
        let handle_bytes = URL_SAFE_NO_PAD
            .decode(&user_handle)
            .map_err(|_| storage_error("a stored user handle is not base64url"))?;
        let exclude = existing
            .iter()
            .map(|p| decode_credential(&p.credential).map(|c| c.cred_id))
            .collect::<Result<Vec<_>, _>>()?;
        // The parameters of webauthn-rs's `start_passkey_registration`, with
        // EdDSA offered too.
        let builder = self
            .webauthn
            .new_challenge_register_builder(&handle_bytes, &user.username, &user.username)
            .map_err(setup_error)?
            .attestation(AttestationConveyancePreference::None)
            .credential_algorithms(vec![
                COSEAlgorithm::ES256,
                COSEAlgorithm::EDDSA,
                COSEAlgorithm::RS256,
            ])
            .require_resident_key(false)
            .authenticator_attachment(None)
            .user_verification_policy(UserVerificationPolicy::Required)
            .reject_synchronised_authenticators(false)
            .exclude_credentials(Some(exclude))
            .hints(None)
            .extensions(Some(RequestRegistrationExtensions {
                cred_protect: Some(CredProtect {
                    credential_protection_policy:
                        CredentialProtectionPolicy::UserVerificationRequired,
                    enforce_credential_protection_policy: Some(false),
                }),
                uvm: Some(true),
                cred_props: Some(true),
                min_pin_length: None,
                hmac_create_secret: None,
            }));
        let (mut options, state) = self
            .webauthn
            .generate_challenge_register(builder)
            .map_err(setup_error)?;
        // Asked for, not required: a discoverable passkey can log in without a username.
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Preferred);
        }
        let challenge = URL_SAFE_NO_PAD.encode(options.public_key.challenge.as_ref());
        let ceremony = RegistrationCeremony { user_handle, state };
        self.keep(
            &challenge,
            CeremonyKind::Registration,
            Some(user.id),
            to_json(&ceremony)?,
        )?;
        json_value(&options)
    }

    /// Finishes a registration `user` began, with the browser's
    /// `credential.toJSON()`, and keeps the passkey under `name` (or
    /// [`DEFAULT_PASSKEY_NAME`]).
    ///
    /// # Errors
    /// [`TokensError::PasskeyNameInvalid`]; [`TokensError::PasskeyRejected`]
    /// for a response that is malformed, answers no challenge of this user's
    /// (an unknown, lapsed or already used one), comes from another origin or
    /// for another relying party, fails webauthn-rs's checks, or has a
    /// credential id longer than WebAuthn allows;
    /// [`TokensError::PasskeyExists`]; [`TokensError::TooManyPasskeys`];
    /// [`TokensError::Storage`].
    pub fn finish_registration(
        &self,
        user: &User,
        credential: &serde_json::Value,
        name: Option<&str>,
        actor: &Actor,
    ) -> Result<StoredPasskey, TokensError> {
        let name = passkey_name(name)?;
        let response: RegisterPublicKeyCredential = serde_json::from_value(credential.clone())
            .map_err(|_| rejected("not a registration response"))?;
        let ceremony = self
            .take(&response.response.client_data_json)?
            .filter(|c| c.kind == CeremonyKind::Registration && c.user_id == Some(user.id))
            .ok_or_else(|| rejected("the challenge is unknown, expired or used"))?;
        let RegistrationCeremony { user_handle, state } = from_json(&ceremony.state)?;
        let registered = self
            .webauthn
            .register_credential(&response, &state, None)
            .map(without_attestation)
            .map_err(|e| rejected(&e.to_string()))?;
        if registered.cred_id.len() > MAX_CREDENTIAL_ID_BYTES {
            return Err(rejected("the credential id is longer than 1023 bytes"));
        }
        let passkey = StoredPasskey {
            id: random_token(ID_BYTES),
            user_id: user.id,
            credential_id: URL_SAFE_NO_PAD.encode(registered.cred_id.as_ref()),
            user_handle,
            name,
            credential: to_json(&registered)?,
            counter: registered.counter,
            created_at: self.ports.clock.now(),
            last_used_at: None,
        };
        // Registrations begun before the account filled up end here.
        (self.ports.passkeys).insert_passkey(&passkey, MAX_PASSKEYS_PER_ACCOUNT)?;
        // A reset by link (or a deactivation) committed since the caller was
        // authenticated deleted the passkeys there were then, not this one:
        // it must not outlive them.
        let now = self.ports.users.find_by_id(user.id)?;
        if !now.is_some_and(|now| now.is_active && now.password_hash == user.password_hash) {
            self.ports.passkeys.delete_passkey(user.id, &passkey.id)?;
            return Err(rejected(
                "the account's password changed, or it was deactivated, meanwhile",
            ));
        }
        self.audited(
            "passkey_registered",
            Some(user.id),
            actor,
            format!("passkey {} {:?}", passkey.id, passkey.name),
        );
        if let Err(e) = self
            .ports
            .accounts
            .tell_owner_of_new_passkey(user, &passkey.name)
        {
            tracing::error!(error = %e, user = user.id.0, "could not queue the new passkey notice");
        }
        Ok(passkey)
    }

    /// The passkeys of `user`, oldest first.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    pub fn list(&self, user: UserId) -> Result<Vec<StoredPasskey>, TokensError> {
        self.ports.passkeys.passkeys_of(user)
    }

    /// Removes the passkey `id` of `user`, who confirms with their password.
    ///
    /// # Errors
    /// [`TokensError::Users`] with `WrongCurrentPassword`;
    /// [`TokensError::PasskeyNotFound`] when `user` has no passkey `id`;
    /// [`TokensError::Storage`].
    pub fn remove(
        &self,
        user: &User,
        id: &str,
        current_password: &str,
        actor: &Actor,
    ) -> Result<(), TokensError> {
        self.ports
            .accounts
            .confirm_password(user, current_password)?;
        if !self.ports.passkeys.delete_passkey(user.id, id)? {
            return Err(TokensError::PasskeyNotFound);
        }
        self.audited(
            "passkey_removed",
            Some(user.id),
            actor,
            format!("passkey {id}"),
        );
        Ok(())
    }

    /// Begins a passkey login: the request options (WebAuthn Level 3 JSON,
    /// `{"publicKey": ...}`). Without `username`, `allowCredentials` is
    /// empty and the passkey names its user; with one, it lists that
    /// account's passkeys, and a name that names no account (or one without
    /// passkeys) gets a list just as plausible, the same each time.
    ///
    /// # Errors
    /// [`TokensError::Storage`], [`TokensError::Users`] (storage), or
    /// [`TokensError::PasskeySetup`] if webauthn-rs cannot make a challenge.
    pub fn begin_login(&self, username: Option<&str>) -> Result<serde_json::Value, TokensError> {
        let Some(username) = username else {
            return self.begin_discoverable_login();
        };
        let account = self.ports.users.find_by_username(username)?;
        let passkeys = match &account {
            Some(user) => self.ports.passkeys.passkeys_of(user.id)?,
            None => Vec::new(),
        };
        let credentials = passkeys
            .iter()
            .map(|p| decode_credential(&p.credential))
            .collect::<Result<Vec<_>, _>>()?;
        let fake = credentials.is_empty();
        let builder = self
            .webauthn
            .new_challenge_authenticate_builder(credentials, Some(UserVerificationPolicy::Required))
            .map_err(setup_error)?
            .allow_backup_eligible_upgrade(true)
            .hints(None);
        let (mut options, mut state) = self
            .webauthn
            .generate_challenge_authenticate(builder)
            .map_err(setup_error)?;
        // Not kept: the finish checks the one passkey the answer names, as it
        // is then (`check_login`), and the list would make an anonymous
        // request write every passkey of the account.
        state.set_allowed_credentials(Vec::new());
        // A fake list names no transports: a real one that did would tell
        // that the name has passkeys.
        for allowed in &mut options.public_key.allow_credentials {
            allowed.transports = None;
        }
        if fake {
            let ids = self
                .fake_credentials
                .generate(identity_key(username).as_bytes())
                .map_err(setup_error)?;
            options.public_key.allow_credentials = ids
                .into_iter()
                .map(|id| AllowCredentials {
                    type_: "public-key".to_owned(),
                    id: id.into(),
                    transports: None,
                })
                .collect();
        }
        let challenge = URL_SAFE_NO_PAD.encode(options.public_key.challenge.as_ref());
        let user = account.filter(|_| !fake).map(|u| u.id);
        self.keep(&challenge, CeremonyKind::Login, user, to_json(&state)?)?;
        Ok(serde_json::json!({ "publicKey": json_value(&options.public_key)? }))
    }

    /// The parameters of webauthn-rs's `start_discoverable_authentication`.
    fn begin_discoverable_login(&self) -> Result<serde_json::Value, TokensError> {
        let builder = self
            .webauthn
            .new_challenge_authenticate_builder(Vec::new(), Some(UserVerificationPolicy::Required))
            .map_err(setup_error)?
            .extensions(Some(RequestAuthenticationExtensions {
                appid: None,
                uvm: Some(true),
                hmac_get_secret: None,
            }))
            .allow_backup_eligible_upgrade(false)
            .hints(None);
        let (options, state) = self
            .webauthn
            .generate_challenge_authenticate(builder)
            .map_err(setup_error)?;
        let challenge = URL_SAFE_NO_PAD.encode(options.public_key.challenge.as_ref());
        self.keep(
            &challenge,
            CeremonyKind::DiscoverableLogin,
            None,
            to_json(&state)?,
        )?;
        Ok(serde_json::json!({ "publicKey": json_value(&options.public_key)? }))
    }

    /// Finishes a passkey login with the browser's `credential.toJSON()` and
    /// opens a session of `kind` for `actor`: a whole login (user
    /// verification makes the passkey two factors, so TOTP is not asked).
    /// The signature counter must move forward (unless the authenticator
    /// keeps none). Audited as `login_success` or `login_failure`.
    ///
    /// # Errors
    /// [`TokensError::PasskeyRejected`] for a body that is not an
    /// authentication response (or whose client data is not readable);
    /// [`TokensError::LoginRefused`] for a response
    /// that answers no pending login (unknown, lapsed or used), names an
    /// unknown passkey or another account's, fails webauthn-rs's checks
    /// (origin, relying party, signature, user verification, a counter that
    /// went back), or belongs to an inactive account (or lost its passkey
    /// or its activity to a reset or a deactivation while it was checked:
    /// the session opened meanwhile is ended); an outage
    /// ([`TokensError::Storage`], [`TokensError::Users`],
    /// [`TokensError::Signing`]).
    pub fn finish_login(
        &self,
        credential: &serde_json::Value,
        actor: &Actor,
        kind: SessionKind,
    ) -> Result<LoggedIn, TokensError> {
        let response: PublicKeyCredential = serde_json::from_value(credential.clone())
            .map_err(|_| rejected("not an authentication response"))?;
        let mut account = None;
        let outcome = self.check_login(&response, &mut account);
        let detail = match &account {
            Some(passkey) => format!("passkey {}", passkey.id),
            None => "passkey".to_owned(),
        };
        match outcome {
            Ok(user) => {
                self.audited("login_success", Some(user.id), actor, detail);
                let client = ClientInfo::from(actor);
                let session = match kind {
                    SessionKind::Jwt => {
                        NewSession::Jwt(self.ports.sessions.start_jwt_session(&user, client)?)
                    }
                    SessionKind::Opaque => NewSession::Opaque(
                        self.ports
                            .sessions
                            .start_opaque_session(&user, client, Revival::Never)?,
                    ),
                };
                // A reset by link that deleted the passkey (or a deactivation)
                // while it was checked ended the sessions there were then,
                // not this one: it must not outlive them.
                let passkey = account.as_ref().map(|p| p.credential_id.as_str());
                let passkey_kept = match passkey {
                    Some(id) => self.ports.passkeys.passkey_by_credential(id)?.is_some(),
                    None => false,
                };
                let active = (self.ports.users.find_by_id(user.id)?).is_some_and(|u| u.is_active);
                if !passkey_kept || !active {
                    self.ports.sessions.end_new(&session, actor)?;
                    return Err(TokensError::LoginRefused);
                }
                Ok(LoggedIn { user, session })
            }
            Err(TokensError::LoginRefused) => {
                let user = account.map(|p| p.user_id);
                self.audited("login_failure", user, actor, detail);
                Err(TokensError::LoginRefused)
            }
            Err(other) => Err(other),
        }
    }

    /// [`PasskeyService::finish_login`] up to the session; `passkey` gets
    /// the stored passkey the response names, once found.
    fn check_login(
        &self,
        response: &PublicKeyCredential,
        passkey: &mut Option<StoredPasskey>,
    ) -> Result<User, TokensError> {
        let ceremony = self
            .take(&response.response.client_data_json)?
            .ok_or(TokensError::LoginRefused)?;
        let credential_id = URL_SAFE_NO_PAD.encode(response.raw_id.as_ref());
        let stored = self
            .ports
            .passkeys
            .passkey_by_credential(&credential_id)?
            .ok_or(TokensError::LoginRefused)?;
        *passkey = Some(stored.clone());
        let named_its_user =
            match ceremony.kind {
                CeremonyKind::Login => ceremony.user_id == Some(stored.user_id),
                CeremonyKind::DiscoverableLogin => response
                    .response
                    .user_handle
                    .as_ref()
                    .is_some_and(|handle| {
                        URL_SAFE_NO_PAD.encode(handle.as_ref()) == stored.user_handle
                    }),
                CeremonyKind::Registration => false,
            };
        if !named_its_user {
            return Err(TokensError::LoginRefused);
        }
        let mut state: AuthenticationState = from_json(&ceremony.state)?;
        let mut credential = without_attestation(decode_credential(&stored.credential)?);
        // Checked against the passkey as it is now, not as it was at the
        // begin; webauthn-rs refuses a counter that is not past the stored one.
        credential.counter = stored.counter;
        state.set_allowed_credentials(vec![credential.clone()]);
        let result = self
            .webauthn
            .authenticate_credential(response, &state)
            .map_err(|e| {
                tracing::info!(error = %e, passkey = %stored.id, "passkey login refused");
                TokensError::LoginRefused
            })?;
        let user = self
            .ports
            .users
            .find_by_id(stored.user_id)?
            .filter(|u| u.is_active)
            .ok_or(TokensError::LoginRefused)?;
        credential.counter = credential.counter.max(result.counter());
        credential.backup_state = result.backup_state();
        credential.backup_eligible |= result.backup_eligible();
        let now = self.ports.clock.now();
        let recorded = self.ports.passkeys.record_passkey_use(
            &stored.id,
            stored.counter,
            credential.counter,
            &to_json(&credential)?,
            now,
        )?;
        if !recorded {
            // Another login with this passkey came between: its counter moved.
            return Err(TokensError::LoginRefused);
        }
        self.ports.users.record_login(user.id, now)?;
        Ok(User {
            last_login: Some(now),
            ..user
        })
    }

    /// Keeps a ceremony under the digest of its challenge.
    fn keep(
        &self,
        challenge: &str,
        kind: CeremonyKind,
        user_id: Option<UserId>,
        state: String,
    ) -> Result<(), TokensError> {
        let now = self.ports.clock.now();
        let ceremony = Ceremony {
            kind,
            user_id,
            state,
            expires_at: now + lifetime(),
        };
        self.ports
            .challenges
            .put_ceremony(&token_hash(challenge), &ceremony, now)
    }

    /// Takes the ceremony the response's client data answers, if it is pending.
    ///
    /// # Errors
    /// [`TokensError::PasskeyRejected`] when the client data is not readable.
    fn take(&self, client_data_json: &[u8]) -> Result<Option<Ceremony>, TokensError> {
        let client_data: CollectedClientData = serde_json::from_slice(client_data_json)
            .map_err(|_| rejected("the client data is not readable"))?;
        let challenge = URL_SAFE_NO_PAD.encode(client_data.challenge.as_ref());
        self.ports
            .challenges
            .take_ceremony(&token_hash(&challenge), self.ports.clock.now())
    }

    /// Records `kind` about `user`, done by `actor`, if there is an audit
    /// log. A failed write is logged, never returned.
    fn audited(&self, kind: &str, user: Option<UserId>, actor: &Actor, detail: String) {
        let Some(audit) = &self.audit else { return };
        let event = AuditEvent::new(kind, user, actor, self.ports.clock.now(), Some(detail));
        audit.record_or_warn(&event);
    }
}

fn lifetime() -> chrono::Duration {
    chrono::Duration::from_std(CEREMONY_LIFETIME).unwrap_or(chrono::Duration::minutes(5))
}

/// The name to keep: `name` trimmed, or the default when it is absent or blank.
fn passkey_name(name: Option<&str>) -> Result<String, TokensError> {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Ok(DEFAULT_PASSKEY_NAME.to_owned());
    }
    if name.chars().count() > MAX_PASSKEY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(TokensError::PasskeyNameInvalid);
    }
    Ok(name.to_owned())
}

fn rejected(reason: &str) -> TokensError {
    TokensError::PasskeyRejected(reason.to_owned())
}

fn setup_error(error: impl std::fmt::Display) -> TokensError {
    TokensError::PasskeySetup(error.to_string())
}

fn storage_error(message: &str) -> TokensError {
    TokensError::Storage(sesame_kernel::StorageError(message.to_owned()))
}

/// `credential` without its attestation statement: Sesame asks for none and
/// checks none against a CA list, and a client may pad it to tens of
/// kilobytes that every login naming the account would read.
fn without_attestation(credential: Credential) -> Credential {
    Credential {
        attestation: ParsedAttestation::default(),
        ..credential
    }
}

fn decode_credential(json: &str) -> Result<Credential, TokensError> {
    from_json(json)
}

fn from_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, TokensError> {
    serde_json::from_str(json).map_err(|e| storage_error(&format!("stored passkey data: {e}")))
}

fn to_json<T: Serialize>(value: &T) -> Result<String, TokensError> {
    serde_json::to_string(value).map_err(|e| storage_error(&format!("passkey data: {e}")))
}

fn json_value<T: Serialize>(value: &T) -> Result<serde_json::Value, TokensError> {
    serde_json::to_value(value).map_err(|e| storage_error(&format!("passkey options: {e}")))
}
