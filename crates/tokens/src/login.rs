//! The login use case every login route shares: the lockout check, the
//! password (and the re-hash of an imported one), the second factor, the
//! session, and the audit entry.

use std::sync::Arc;

use sesame_kernel::audit::{Actor, AuditEvent, AuditKey, AuditLog};
use sesame_kernel::{Clock, UserId};
use sesame_users::{identity_key, AccountService, ConfirmationThrottle, User, UsersError};

use crate::{ClientInfo, MfaService, Revival, SessionKind, SessionService, TokenPair, TokensError};

/// Wrong second-factor codes (since the last good login) after which the
/// owner is alerted, and again at every multiple.
pub const SECOND_FACTOR_ALERT_AFTER: u32 = 5;
/// The longest unknown login kept as a throttle key or in the audit log.
const MAX_LOGIN_CHARS: usize = 160;

/// What a client presents to log in.
#[derive(Clone)]
pub struct Credentials {
    /// A username or an email.
    pub login: String,
    /// The password.
    pub password: String,
    /// A TOTP code or a recovery code, for accounts with TOTP on.
    pub otp: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

/// What failed logins count against: the account once the login names one,
/// otherwise the login's identity key (NFKC, case-folded), so that a username
/// and an email of one account share one count.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LoginKey {
    /// A known account.
    Account(UserId),
    /// A login that names no account.
    Unknown(String),
}

impl LoginKey {
    /// The key of a login that names no account.
    pub fn unknown(login: &str) -> Self {
        LoginKey::Unknown(identity_key(login).chars().take(MAX_LOGIN_CHARS).collect())
    }
}

/// Where failed logins are counted and accounts locked. How long a lock
/// lasts is the implementation's; what counts and when to alert is
/// [`LoginService`]'s.
pub trait LoginThrottle: Send + Sync {
    /// Seconds until the longest lock of any of `keys` ends; `None` when
    /// none is locked.
    fn locked_for(&self, keys: &[LoginKey]) -> Option<u64>;

    /// Counts a failed login against each of `keys`; too many lock the key.
    fn record_failure(&self, keys: &[LoginKey]);

    /// A good login: the locks of `keys` and the wrong codes of their
    /// accounts start over.
    fn record_success(&self, keys: &[LoginKey]);

    /// Counts a wrong second-factor code of `user`; returns how many came
    /// since its last good login (forgotten after a quiet hour).
    fn record_wrong_code(&self, user: UserId) -> u32;

    /// Counts a wrong password of `user` at login, whether or not the
    /// lockout is on; returns how many came since its last good login
    /// (forgotten after 30 quiet days).
    fn record_wrong_password(&self, user: UserId) -> u32;
}

/// A [`LoginThrottle`] as the accounts' [`ConfirmationThrottle`]: a wrong
/// current password (or TOTP code, to turn TOTP off) counts as a failed
/// login of its account, a wrong password also towards the owner's alert,
/// and an account locked by failed logins confirms nothing. A stolen token
/// is then no better at guessing the password than the login form.
pub struct ConfirmationsAsLogins(pub Arc<dyn LoginThrottle>);

impl ConfirmationThrottle for ConfirmationsAsLogins {
    fn locked_for(&self, user: UserId) -> Option<u64> {
        self.0.locked_for(&[LoginKey::Account(user)])
    }

    fn record_failure(&self, user: UserId) {
        self.0.record_failure(&[LoginKey::Account(user)]);
    }

    fn record_wrong_code(&self, user: UserId) -> u32 {
        self.0.record_wrong_code(user)
    }

    fn record_wrong_password(&self, user: UserId) -> u32 {
        self.0.record_wrong_password(user)
    }

    fn password_replaced(&self, user: UserId) {
        self.0.record_success(&[LoginKey::Account(user)]);
    }
}

/// The tokens of a new session.
#[derive(Clone)]
pub enum NewSession {
    /// An access and a refresh JWT.
    Jwt(TokenPair),
    /// An opaque bearer token.
    Opaque(String),
}

/// A successful login.
#[derive(Clone)]
pub struct LoggedIn {
    /// The account, as it is after the login.
    pub user: User,
    /// The session it opened.
    pub session: NewSession,
}

/// Logging in, for every surface, page and command that does.
#[derive(Clone)]
pub struct LoginService {
    accounts: AccountService,
    sessions: SessionService,
    mfa: MfaService,
    throttle: Arc<dyn LoginThrottle>,
    audit: Arc<dyn AuditLog>,
    audit_key: AuditKey,
    clock: Arc<dyn Clock>,
}

impl LoginService {
    /// A service over these use cases and ports; `audit_key` hashes logins
    /// that name no account before they are recorded.
    pub fn new(
        accounts: AccountService,
        sessions: SessionService,
        mfa: MfaService,
        throttle: Arc<dyn LoginThrottle>,
        audit: Arc<dyn AuditLog>,
        audit_key: AuditKey,
        clock: Arc<dyn Clock>,
    ) -> Self {
        LoginService {
            accounts,
            sessions,
            mfa,
            throttle,
            audit,
            audit_key,
            clock,
        }
    }

    /// Logs in and opens a session of `kind` for `actor`.
    ///
    /// # Errors
    /// As [`LoginService::check`], and [`TokensError::Storage`] or
    /// [`TokensError::Signing`] when the session cannot be opened.
    pub fn log_in(
        &self,
        credentials: &Credentials,
        actor: &Actor,
        kind: SessionKind,
    ) -> Result<LoggedIn, TokensError> {
        let (user, with_code) = self.checked(credentials, actor)?;
        let client = ClientInfo::from(actor);
        let session = match kind {
            SessionKind::Jwt => NewSession::Jwt(self.sessions.start_jwt_session(&user, client)?),
            SessionKind::Opaque => NewSession::Opaque(self.sessions.start_opaque_session(
                &user,
                client,
                Revival::Never,
            )?),
        };
        // A reset, a password change, a deactivation or TOTP turned on that
        // was written while the password was being hashed ended the sessions
        // there were then, not this one: it must not outlive them.
        if !self.unchanged_since_checked(&user, with_code)? {
            self.sessions.end_new(&session, actor)?;
            return Err(TokensError::LoginRefused);
        }
        Ok(LoggedIn { user, session })
    }

    /// Whether the account is still as `user` was when its credentials
    /// were checked: active, with the same password, and without a second
    /// factor that was off then (`with_code` says whether it was on).
    fn unchanged_since_checked(&self, user: &User, with_code: bool) -> Result<bool, TokensError> {
        let now = match self.accounts.get(user.id) {
            Ok(now) => now,
            Err(UsersError::NotFound) => return Ok(false),
            Err(e) => return Err(outage(e)),
        };
        let second_factor_added = !with_code && self.mfa.is_enabled(user)?;
        Ok(now.is_active && now.password_hash == user.password_hash && !second_factor_added)
    }

    /// Checks the credentials without opening a session: the password
    /// first, then the second factor if the account has one (so a caller
    /// without the password learns nothing of it). Failed attempts, wrong
    /// codes included, count against the account the login names (or,
    /// naming none, against the login); a locked one is refused before its
    /// password is checked. Every outcome but an outage is audited.
    ///
    /// # Errors
    /// [`TokensError::LoginRefused`] (unknown login, wrong password or
    /// inactive account alike), [`TokensError::LoginThrottled`],
    /// [`TokensError::OtpRequired`], [`TokensError::OtpInvalid`], or an
    /// outage ([`TokensError::Storage`], [`TokensError::Users`]).
    pub fn check(&self, credentials: &Credentials, actor: &Actor) -> Result<User, TokensError> {
        self.checked(credentials, actor).map(|(user, _)| user)
    }

    /// [`LoginService::check`], also telling whether the account had TOTP
    /// on, so that a code was checked.
    fn checked(
        &self,
        credentials: &Credentials,
        actor: &Actor,
    ) -> Result<(User, bool), TokensError> {
        let mut accounts = Vec::new();
        let outcome = self.check_among(credentials, &mut accounts);
        let kind = match &outcome {
            Ok(_) => "login_success",
            Err(TokensError::LoginRefused | TokensError::OtpInvalid | TokensError::OtpRequired) => {
                "login_failure"
            }
            Err(TokensError::LoginThrottled(_)) => "login_throttled",
            Err(_) => return outcome,
        };
        let user = match (&outcome, accounts.as_slice()) {
            (Ok((user, _)), _) => Some(user.id),
            (Err(_), [only]) => Some(only.id),
            (Err(_), _) => None,
        };
        let login = if accounts.is_empty() {
            self.audit_key.digest(&identity_key(&credentials.login))
        } else {
            let shown: String = credentials.login.chars().take(MAX_LOGIN_CHARS).collect();
            format!("{shown:?}")
        };
        let event = AuditEvent::new(
            kind,
            user,
            actor,
            self.clock.now(),
            Some(format!("login {login}")),
        );
        self.audit.record_or_warn(&event);
        outcome
    }

    /// [`LoginService::checked`] without the audit; `accounts` gets the
    /// accounts the login names.
    fn check_among(
        &self,
        credentials: &Credentials,
        accounts: &mut Vec<User>,
    ) -> Result<(User, bool), TokensError> {
        *accounts = self
            .accounts
            .login_candidates(&credentials.login)
            .map_err(outage)?;
        let keys: Vec<LoginKey> = if accounts.is_empty() {
            vec![LoginKey::unknown(&credentials.login)]
        } else {
            accounts.iter().map(|u| LoginKey::Account(u.id)).collect()
        };
        if let Some(seconds) = self.throttle.locked_for(&keys) {
            return Err(TokensError::LoginThrottled(seconds));
        }
        let checked = self
            .accounts
            .check_password_among(accounts.clone(), &credentials.password);
        // An inactive account's right password counts too: were it not, the
        // guess that locks the account would tell it from the wrong ones.
        if matches!(
            checked,
            Err(UsersError::InvalidCredentials | UsersError::AccountInactive)
        ) {
            self.throttle.record_failure(&keys);
            for user in accounts.iter() {
                let wrong = self.throttle.record_wrong_password(user.id);
                self.accounts.report_wrong_passwords(user, wrong);
            }
        }
        // Guesses sent at once all pass the check above before the first of
        // them fails; whatever they found, none is answered once the key is
        // locked (the one that locks it included), so a burst learns no more
        // than the allowance.
        if let Some(seconds) = self.throttle.locked_for(&keys) {
            return Err(TokensError::LoginThrottled(seconds));
        }
        let checked = checked.map_err(outage)?;
        let user = checked.user();
        let with_code = match self.mfa.check_login(user, credentials.otp.as_deref()) {
            Ok(with_code) => with_code,
            Err(e) => {
                if matches!(e, TokensError::OtpInvalid) {
                    self.throttle.record_failure(&[LoginKey::Account(user.id)]);
                    let wrong = self.throttle.record_wrong_code(user.id);
                    alert_at_every_few(&self.accounts, user, wrong);
                }
                return Err(e);
            }
        };
        // Codes sent at once with the right password are held back alike.
        if with_code {
            if let Some(seconds) = self.throttle.locked_for(&keys) {
                return Err(TokensError::LoginThrottled(seconds));
            }
        }
        // Only a login that passed every check is recorded (`last_login`),
        // and starts over only its own account's count (a login may name
        // two accounts: one's username, another's email).
        let user = self.accounts.record_login(checked).map_err(outage)?;
        self.throttle.record_success(&[LoginKey::Account(user.id)]);
        Ok((user, with_code))
    }
}

/// Mails the owner that codes are being guessed with their password, at
/// every [`SECOND_FACTOR_ALERT_AFTER`]-th of `wrong` codes in a row.
pub(crate) fn alert_at_every_few(accounts: &AccountService, user: &User, wrong: u32) {
    if wrong == 0 || !wrong.is_multiple_of(SECOND_FACTOR_ALERT_AFTER) {
        return;
    }
    tracing::warn!(
        user = user.id.0,
        "repeated wrong one-time codes: alerting the owner"
    );
    if let Err(e) = accounts.alert_code_guessing(user) {
        tracing::error!(error = %e, user = user.id.0, "could not queue the code-guessing alert");
    }
}

/// An account error of a login: an outage stays one, anything else is a
/// refused login (each surface words them alike, so nothing tells them apart).
fn outage(error: UsersError) -> TokensError {
    match error {
        UsersError::Storage(e) => TokensError::Storage(e),
        _ => TokensError::LoginRefused,
    }
}
