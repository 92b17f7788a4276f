//! The adapter of the domain's login ([`sesame_tokens::LoginService`]):
//! every surface's login route goes through [`log_in`], which answers a
//! refusal in the surface's shape and words; and [`refused_registration`],
//! the wording of a refused registration the seeds' surfaces share.

use sesame_tokens::{Credentials, NewSession, SessionKind, TokenPair, TokensError};
use sesame_users::UsersError;

use actix_web::http::StatusCode;
use actix_web::web;

use super::{run, storage_failure};
use crate::client::Client;
use crate::issue::FieldIssue;
use crate::{ApiError, AppState, Shape};

/// A failed login in surface `S`'s shape; `refused` is its own wording of a
/// refused login. An outage is logged (never the credentials).
pub(crate) fn refusal<S: Shape>(error: TokensError, refused: ApiError) -> ApiError {
    match error {
        TokensError::LoginRefused => refused,
        TokensError::LoginThrottled(seconds) => S::coded(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed login attempts. Try again later.",
            "throttled",
        )
        .with_retry_after(seconds),
        TokensError::OtpRequired => S::coded(
            StatusCode::UNAUTHORIZED,
            "A one-time code (otp) is required for this account.",
            "otp_required",
        ),
        TokensError::OtpInvalid => S::coded(
            StatusCode::UNAUTHORIZED,
            "The one-time code is invalid or was already used.",
            "otp_invalid",
        ),
        other => {
            tracing::error!(error = %other, "login failed on storage");
            S::unavailable()
        }
    }
}

/// Too many wrong passwords (or codes) confirming changes to one account,
/// in surface `S`'s shape: refused like a locked login, until `seconds` pass.
pub(crate) fn confirmations_throttled<S: Shape>(seconds: u64) -> ApiError {
    S::coded(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many wrong passwords or codes. Try again later.",
        "throttled",
    )
    .with_retry_after(seconds)
}

/// The login route of surface `S`: the domain's login opening a JWT
/// session, on the blocking pool, a failure answered in `S`'s shape
/// (`refused` words a refused login).
pub(crate) async fn log_in<S: Shape>(
    state: &web::Data<AppState>,
    credentials: Credentials,
    client: Client,
    refused: fn() -> ApiError,
) -> Result<TokenPair, ApiError> {
    let login = state.login.clone();
    let actor = client.anonymous();
    let logged_in = run::<S, _, _>(move || login.log_in(&credentials, &actor, SessionKind::Jwt))
        .await?
        .map_err(|e| refusal::<S>(e, refused()))?;
    match logged_in.session {
        NewSession::Jwt(pair) => Ok(pair),
        NewSession::Opaque(_) => Err(S::unavailable()),
    }
}

/// A refused registration in surface `S`'s shape: `taken` answers a username
/// or email another account has; other bad fields are `S`'s field errors.
pub(crate) fn refused_registration<S: Shape>(error: UsersError, taken: ApiError) -> ApiError {
    match error {
        error if error.is_taken() => taken,
        UsersError::Invalid(errors) => {
            S::invalid(&errors.iter().map(FieldIssue::from).collect::<Vec<_>>())
        }
        UsersError::ActivationNeedsEmail => S::message(
            StatusCode::FORBIDDEN,
            "Accounts need email activation, and this route takes no email: register with POST /auth/users/ and an email address.",
        ),
        other => storage_failure::<S>(&other),
    }
}
