use actix_web::http::StatusCode;

use crate::body::BodyError;
use crate::fields::FieldIssue;
use crate::ApiError;

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
    fn body_error(error: BodyError) -> ApiError {
        match error {
            BodyError::TooLarge => {
                Self::message(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
            }
            BodyError::Malformed(reason) => Self::message(
                StatusCode::BAD_REQUEST,
                &format!("JSON parse error - {reason}"),
            ),
            BodyError::UnsupportedMediaType(content_type) => Self::message(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!("Unsupported media type \"{content_type}\" in request."),
            ),
            BodyError::NotAnObject => {
                Self::message(StatusCode::BAD_REQUEST, "Expected a JSON object.")
            }
        }
    }

    /// The database or a worker pool is unavailable.
    fn unavailable() -> ApiError {
        Self::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is temporarily unavailable.",
        )
    }
}
