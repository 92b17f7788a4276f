use actix_web::http::{Method, StatusCode};

use crate::blocking::blocking;
use crate::body::BodyError;
use crate::issue::FieldIssue;
use crate::ApiError;

/// How the operations of one part of the OpenAPI document word their errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorShape {
    /// `{"detail", "code"}` and field errors (surface `primary`).
    Drf,
    /// `{"detail"}` and 422 validation lists (`events_messages`, `token_form`).
    FastApi,
    /// `{"Erreur"}` (`opaque`).
    Opaque,
    /// `{"message"}` (`cookie_refresh`).
    Message,
    /// The operational routes: nothing shared.
    None,
}

impl ErrorShape {
    /// The schema of a plain error message.
    pub(crate) fn error(self) -> Option<&'static str> {
        match self {
            ErrorShape::Drf => Some("DrfError"),
            ErrorShape::FastApi => Some("FastApiError"),
            ErrorShape::Opaque => Some("OpaqueError"),
            ErrorShape::Message => Some("MessageError"),
            ErrorShape::None => None,
        }
    }

    /// The status and schema of a bad `skip` or `limit`.
    pub(crate) fn bad_page(self) -> Option<(&'static str, &'static str)> {
        match self {
            ErrorShape::Drf => Some(("400", "DrfFieldErrors")),
            other => other.unreadable_body(),
        }
    }

    /// The status and schema of a body that is not a JSON object (or form).
    pub(crate) fn unreadable_body(self) -> Option<(&'static str, &'static str)> {
        match self {
            ErrorShape::Drf => Some(("400", "DrfBadRequest")),
            ErrorShape::FastApi => Some(("422", "FastApiValidationError")),
            ErrorShape::Opaque => Some(("400", "OpaqueError")),
            ErrorShape::Message => Some(("400", "MessageError")),
            ErrorShape::None => None,
        }
    }
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A token that is invalid, expired or revoked.
    Invalid,
}

/// How one surface words its errors. Every surface has its own error shape;
/// the shared machinery (body reading, the Bearer extractor) asks the
/// surface's `Shape` to word what went wrong.
pub trait Shape: 'static {
    /// The error schemas the OpenAPI document shows for this surface.
    const DOCUMENTED: ErrorShape;

    /// An error that is just a message.
    fn message(status: StatusCode, message: &str) -> ApiError;

    /// An error with a machine-readable code, for surfaces whose shape has
    /// one; the others show only the message.
    fn coded(status: StatusCode, message: &str, _code: &str) -> ApiError {
        Self::message(status, message)
    }

    /// Bad input fields.
    fn invalid(issues: &[FieldIssue]) -> ApiError;

    /// A refused bearer token.
    fn unauthorized(failure: AuthFailure) -> ApiError;

    /// A body that could not be read.
    fn body_error(error: BodyError) -> ApiError;

    /// The database or a worker pool is unavailable.
    fn unavailable() -> ApiError {
        Self::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is temporarily unavailable.",
        )
    }

    /// An answer made outside the handlers (429, 405, 408): `english` with
    /// a machine `code`; a surface that speaks French says `french`.
    fn refusal(status: StatusCode, english: &str, _french: &str, code: &str) -> ApiError {
        Self::coded(status, english, code)
    }

    /// A path asked with a method it does not serve.
    fn method_not_allowed(method: &Method) -> ApiError {
        Self::refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
            &format!("Méthode {method} non autorisée"),
            "method_not_allowed",
        )
    }
}

/// How a surface words the errors of one domain error type `E`.
pub(crate) trait Words<E: Send + 'static>: Shape {
    /// `error` in this surface's shape and words.
    fn word(error: E) -> ApiError;

    /// Runs `work` with a clone of `service` on the blocking pool, never on
    /// an async worker; its error in this surface's words.
    async fn call<Service, T>(
        service: &Service,
        work: impl FnOnce(&Service) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        Service: Clone + Send + 'static,
        T: Send + 'static,
    {
        let service = service.clone();
        blocking(move || work(&service))
            .await
            .ok_or_else(Self::unavailable)?
            .map_err(Self::word)
    }
}
