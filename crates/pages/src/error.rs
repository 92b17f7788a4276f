use actix_web::http::header::RETRY_AFTER;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::render::{message_page, Message};

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
    /// A form body that cannot be read.
    #[error("the form could not be read")]
    BadForm,
    /// The database (or the blocking pool) is not there.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The key the pages were given is unusable.
    #[error("invalid pages key: {0}")]
    Key(String),
}

impl ResponseError for PagesError {
    fn status_code(&self) -> StatusCode {
        match self {
            PagesError::Csrf => StatusCode::FORBIDDEN,
            PagesError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            PagesError::BadForm => StatusCode::BAD_REQUEST,
            PagesError::Unavailable(_) | PagesError::Key(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, text) = match self {
            PagesError::Csrf => (
                "Form expired",
                "This form has expired or did not come from this site. Go back, reload the page and try again.",
            ),
            PagesError::Throttled(_) => (
                "Too many requests",
                "Too many requests came from your address. Wait a minute and try again.",
            ),
            PagesError::BadForm => ("Bad form", "The form could not be read. Reload the page and try again."),
            PagesError::Unavailable(reason) | PagesError::Key(reason) => {
                tracing::error!(reason = %reason, "a page could not be served");
                (
                    "Unavailable",
                    "Sesame cannot do this right now. Try again in a moment.",
                )
            }
        };
        let mut response = message_page(
            self.status_code(),
            &Message {
                title,
                text,
                link: Some(("/account/", "Back to sign in")),
            },
        );
        if let PagesError::Throttled(seconds) = self {
            if let Ok(value) = seconds.to_string().parse() {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
        }
        response
    }
}
