//! The one login flow every surface's login route goes through: check the
//! credentials, then open a session of the kind the surface hands out.

use sesame_tokens::{ClientInfo, TokenPair, TokensError};
use sesame_users::{User, UsersError};

use actix_web::http::StatusCode;
use actix_web::web;

use super::run;
use crate::audit;
use crate::{ApiError, AppState, LoginKey, Shape};

/// Why a login failed.
#[derive(Debug)]
pub(crate) enum LoginError {
    /// Unknown login, wrong password or inactive account (each surface words
    /// them alike, so nothing tells them apart).
    Refused,
    /// Too many failed logins for this account: seconds to wait.
    Throttled(u64),
    /// The account has TOTP on and no code came with the password.
    OtpRequired,
    /// The one-time code was wrong or already used.
    OtpInvalid,
    /// Storage or signing failed.
    Unavailable(String),
}

impl From<UsersError> for LoginError {
    fn from(error: UsersError) -> Self {
        match error {
            UsersError::Storage(e) => LoginError::Unavailable(e.to_string()),
            _ => LoginError::Refused,
        }
    }
}

impl From<TokensError> for LoginError {
    fn from(error: TokensError) -> Self {
        match error {
            TokensError::OtpRequired => LoginError::OtpRequired,
            TokensError::OtpInvalid => LoginError::OtpInvalid,
            other => LoginError::Unavailable(other.to_string()),
        }
    }
}

/// What a client presents to log in.
#[derive(Debug)]
pub(crate) struct Credentials {
    /// A username or an email.
    pub(crate) login: String,
    /// The password.
    pub(crate) password: String,
    /// A TOTP code or a recovery code, for accounts with TOTP on.
    pub(crate) otp: Option<String>,
    /// Who is logging in (for the session list and the audit log).
    pub(crate) client: ClientInfo,
}

impl LoginError {
    /// The answer in surface `S`'s shape; `refused` is its own wording of a
    /// refused login.
    pub(crate) fn answer<S: Shape>(self, refused: ApiError) -> ApiError {
        match self {
            LoginError::Refused => refused,
            LoginError::Throttled(seconds) => S::message(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed login attempts. Try again later.",
            )
            .with_retry_after(seconds),
            LoginError::OtpRequired => S::coded(
                StatusCode::UNAUTHORIZED,
                "A one-time code (otp) is required for this account.",
                "otp_required",
            ),
            LoginError::OtpInvalid => S::coded(
                StatusCode::UNAUTHORIZED,
                "The one-time code is invalid or was already used.",
                "otp_invalid",
            ),
            LoginError::Unavailable(_) => S::unavailable(),
        }
    }

    /// Logs an outage (never the credentials) and gives the error back.
    pub(crate) fn logged(self) -> Self {
        if let LoginError::Unavailable(reason) = &self {
            tracing::error!(error = %reason, "login failed on storage");
        }
        self
    }
}

/// Checks the credentials: the password first, then the second factor if
/// the account has one (so a caller without the password learns nothing of
/// it). Failed attempts, wrong codes included, count against the account
/// the login names (or, naming none, against the login); too many lock it
/// for a while, longer each time.
pub(crate) fn check_credentials(
    state: &AppState,
    credentials: &Credentials,
) -> Result<User, LoginError> {
    let mut accounts = Vec::new();
    let outcome = check(state, credentials, &mut accounts);
    let kind = match &outcome {
        Ok(_) => "login_success",
        Err(LoginError::Refused | LoginError::OtpInvalid | LoginError::OtpRequired) => {
            "login_failure"
        }
        Err(LoginError::Throttled(_)) => "login_throttled",
        Err(LoginError::Unavailable(_)) => return outcome,
    };
    let user = match (&outcome, accounts.as_slice()) {
        (Ok(user), _) => Some(user.id),
        (Err(_), [only]) => Some(only.id),
        (Err(_), _) => None,
    };
    // A login that names no account may be a password typed in the wrong
    // box: only a keyed digest of it is kept.
    let login = if accounts.is_empty() {
        state.audit_key.digest(&credentials.login)
    } else {
        format!(
            "{:?}",
            credentials.login.chars().take(160).collect::<String>()
        )
    };
    audit::write(
        state.audit.as_ref(),
        &audit::event(
            kind,
            user,
            credentials.client.clone(),
            Some(format!("login {login}")),
        ),
    );
    outcome
}

/// [`check_credentials`] without the audit; `accounts` gets the accounts
/// the login names.
fn check(
    state: &AppState,
    credentials: &Credentials,
    accounts: &mut Vec<User>,
) -> Result<User, LoginError> {
    let login = credentials.login.as_str();
    *accounts = state
        .accounts
        .login_candidates(login)
        .map_err(|e| LoginError::from(e).logged())?;
    let keys: Vec<LoginKey> = if accounts.is_empty() {
        vec![LoginKey::unknown(login)]
    } else {
        accounts.iter().map(|u| LoginKey::Account(u.id.0)).collect()
    };
    state
        .limits
        .check_account(&keys)
        .map_err(LoginError::Throttled)?;
    let user = state
        .accounts
        .authenticate_among(accounts.clone(), &credentials.password)
        .map_err(|e| {
            if matches!(e, UsersError::InvalidCredentials) {
                state.limits.record_failed_login(&keys);
                state.metrics.login_failed();
            }
            LoginError::from(e).logged()
        })?;
    let own = [LoginKey::Account(user.id.0)];
    state
        .mfa
        .check_login(&user, credentials.otp.as_deref())
        .map_err(|e| {
            if matches!(e, TokensError::OtpInvalid) {
                state.limits.record_failed_login(&own);
                state.metrics.login_failed();
                if state.limits.record_wrong_code(user.id.0) {
                    alert_owner(state, &user);
                }
            }
            LoginError::from(e).logged()
        })?;
    state.limits.record_success(&keys);
    Ok(user)
}

/// Mails the owner that codes are being guessed with their password.
fn alert_owner(state: &AppState, user: &User) {
    tracing::warn!(
        user = user.id.0,
        "repeated wrong one-time codes: alerting the owner"
    );
    if let Err(e) = state.accounts.alert_code_guessing(user) {
        tracing::error!(error = %e, user = user.id.0, "could not queue the code-guessing alert");
    }
}

/// Logs in and opens a JWT session.
pub(crate) fn jwt_login(
    state: &AppState,
    credentials: &Credentials,
) -> Result<TokenPair, LoginError> {
    let user = check_credentials(state, credentials)?;
    state
        .sessions
        .start_jwt_session(&user, credentials.client.clone())
        .map_err(|e| LoginError::from(e).logged())
}

/// The login route of surface `S`: [`jwt_login`] on the blocking pool, a
/// failure answered in `S`'s shape (`refused` words a refused login).
pub(crate) async fn log_in<S: Shape>(
    state: &web::Data<AppState>,
    credentials: Credentials,
    refused: fn() -> ApiError,
) -> Result<TokenPair, ApiError> {
    let state = state.clone().into_inner();
    run::<S, _, _>(move || jwt_login(&state, &credentials))
        .await?
        .map_err(|e| e.answer::<S>(refused()))
}
