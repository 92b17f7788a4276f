use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, RETRY_AFTER};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::render::{message_page, Message, CSP};

/// What went wrong on a page, each answered with a page of its own.
#[derive(Debug, thiserror::Error)]
pub enum PagesError {
    /// A form came without its CSRF token, or with one that is not this
    /// browser's.
    #[error("the form's CSRF token is missing or wrong")]
    Csrf,
    /// Too many forms from this address: seconds to wait.
    #[error("too many requests; retry in {0} s")]
    Throttled(u64),
    /// Too many wrong passwords for this account: seconds to wait.
    #[error("too many wrong passwords; retry in {0} s")]
    PasswordsThrottled(u64),
    /// A form body that cannot be read.
    #[error("the form could not be read")]
    BadForm,
    /// A request that needs a signed-in browser came without one.
    #[error("not signed in")]
    NotSignedIn,
    /// A passkey response was refused: the words to show.
    #[error("passkey refused: {0}")]
    PasskeyRefused(String),
    /// A passkey did not sign in (unknown, replayed, or an inactive account).
    #[error("the passkey did not sign in")]
    PasskeySignInRefused,
    /// The database (or the blocking pool) is not there.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The key the pages were given is unusable.
    #[error("invalid pages key: {0}")]
    Key(String),
}

impl PagesError {
    /// A title and the words a person reads.
    fn words(&self) -> (&'static str, &str) {
        match self {
            PagesError::Csrf => (
                "Form expired",
                "This form has expired or did not come from this site. Go back, reload the page and try again.",
            ),
            PagesError::Throttled(_) => (
                "Too many requests",
                "Too many requests came from your address. Wait a minute and try again.",
            ),
            PagesError::PasswordsThrottled(_) => (
                "Too many wrong passwords",
                "Too many wrong passwords were entered for this account. Wait a few minutes and try again.",
            ),
            PagesError::BadForm => ("Bad form", "The form could not be read. Reload the page and try again."),
            PagesError::NotSignedIn => ("Signed out", "You are signed out. Sign in again."),
            PagesError::PasskeyRefused(text) => ("Passkey refused", text),
            PagesError::PasskeySignInRefused => (
                "Passkey refused",
                "That passkey did not sign you in. Use another one, or your password.",
            ),
            PagesError::Unavailable(reason) | PagesError::Key(reason) => {
                tracing::error!(reason = %reason, "a page could not be served");
                (
                    "Unavailable",
                    "Sesame cannot do this right now. Try again in a moment.",
                )
            }
        }
    }

    fn with_retry_after(&self, mut response: HttpResponse) -> HttpResponse {
        if let PagesError::Throttled(seconds) | PagesError::PasswordsThrottled(seconds) = self {
            retry_after(&mut response, *seconds);
        }
        response
    }
}

/// Tells the client to wait `seconds` before asking again (a 429's `Retry-After`).
pub(crate) fn retry_after(response: &mut HttpResponse, seconds: u64) {
    response.headers_mut().insert(RETRY_AFTER, seconds.into());
}

impl ResponseError for PagesError {
    fn status_code(&self) -> StatusCode {
        match self {
            PagesError::Csrf => StatusCode::FORBIDDEN,
            PagesError::Throttled(_) | PagesError::PasswordsThrottled(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            PagesError::BadForm | PagesError::PasskeyRefused(_) => StatusCode::BAD_REQUEST,
            PagesError::NotSignedIn | PagesError::PasskeySignInRefused => StatusCode::UNAUTHORIZED,
            PagesError::Unavailable(_) | PagesError::Key(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, text) = self.words();
        let response = message_page(
            self.status_code(),
            &Message {
                title,
                text,
                link: Some(("/account/", "Back to sign in")),
            },
        );
        self.with_retry_after(response)
    }
}

/// A [`PagesError`] answered to the passkey script rather than as a page:
/// `{"error": "<the words a person reads>"}`, with the same status.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub(crate) struct ScriptError(#[from] pub(crate) PagesError);

impl ResponseError for ScriptError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let (_, text) = self.0.words();
        let response = HttpResponse::build(self.status_code())
            .insert_header((CONTENT_SECURITY_POLICY, CSP))
            .insert_header((CACHE_CONTROL, "no-store"))
            .json(json!({ "error": text }));
        self.0.with_retry_after(response)
    }
}
