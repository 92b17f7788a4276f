//! Surface `cookie_refresh` answers `{"message": "..."}` in the seed's plain
//! English: `Username or password is incorrect`.

use crate::error_schemas as doc;
use actix_web::http::StatusCode;

use crate::body::BodyError;
use crate::issue::capitalized;
use crate::shape::{AuthFailure, ErrorShape, Shape};
use crate::wire::{Expected, FieldIssue, Problem};
use crate::ApiError;

/// `{"message": "..."}`.
pub struct MessageShape;

impl Shape for MessageShape {
    const DOCUMENTED: ErrorShape = ErrorShape::Message;

    fn message(status: StatusCode, message: &str) -> ApiError {
        ApiError::new(
            status,
            doc::MessageError {
                message: message.to_owned(),
            },
        )
    }

    fn invalid(issues: &[FieldIssue]) -> ApiError {
        let sentences: Vec<String> = issues.iter().map(sentence).collect();
        Self::message(StatusCode::BAD_REQUEST, &sentences.join("; "))
    }

    fn unauthorized(_: AuthFailure) -> ApiError {
        Self::message(StatusCode::UNAUTHORIZED, "Invalid or expired token").with_bearer_challenge()
    }

    fn body_error(error: BodyError) -> ApiError {
        match error {
            BodyError::TooLarge => {
                Self::message(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large")
            }
            BodyError::UnsupportedMediaType(_) => Self::message(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Request body must be JSON",
            ),
            _ => Self::message(
                StatusCode::BAD_REQUEST,
                "Request body must be a JSON object",
            ),
        }
    }
}

/// One issue as a sentence about its field: `Username is required`.
fn sentence(issue: &FieldIssue) -> String {
    let param = |name: &str| issue.param(name).unwrap_or("?").to_owned();
    let code = match &issue.problem {
        Problem::Missing => "required",
        Problem::Null => "null",
        Problem::WrongType(expected) => {
            return format!("{} must be {}", subject(&issue.field), kind(*expected))
        }
        Problem::Invalid { code, .. } => code,
    };
    let predicate = match code {
        "required" => "is required".to_owned(),
        "null" => "may not be null".to_owned(),
        "blank" => "may not be blank".to_owned(),
        "max_length" | "password_too_long" => {
            format!("must be at most {} characters long", param("max"))
        }
        "password_too_short" => format!("must be at least {} characters long", param("min")),
        "invalid_username" => {
            "may contain only letters, digits and the characters @ . + - _".to_owned()
        }
        "mixed_scripts" => "may not mix alphabets".to_owned(),
        "invalid_email" | "email" => "is not a valid email address".to_owned(),
        "taken" => "is already taken".to_owned(),
        "password_too_similar" => format!(
            "is too similar to the {}",
            param("attribute").replace('_', " ")
        ),
        "password_too_common" => "is too common".to_owned(),
        "password_entirely_numeric" => "may not be entirely numeric".to_owned(),
        // A rule this surface has no words of its own for.
        _ => return format!("{}: {}", issue.field, issue.message()),
    };
    format!("{} {predicate}", subject(&issue.field))
}

/// `first_name` → `First name`.
fn subject(field: &str) -> String {
    capitalized(&field.replace('_', " "))
}

fn kind(expected: Expected) -> &'static str {
    match expected {
        Expected::String => "a string",
        Expected::Integer => "an integer",
        Expected::Number => "a number",
        Expected::Boolean => "true or false",
        Expected::Object => "an object",
        Expected::Array => "a list",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesame_users::FieldError;

    #[test]
    fn issues_read_as_sentences() {
        let short = FieldError::new("password", "This password is too short.")
            .coded("password_too_short")
            .param("min", 8);
        let unknown = FieldIssue::invalid("first_name", "new_rule", "Something is off.");
        let said: Vec<String> = [
            FieldIssue::new("username", Problem::WrongType(Expected::String)),
            FieldIssue::new("email", Problem::Missing),
            FieldIssue::from(&short),
            unknown,
        ]
        .iter()
        .map(sentence)
        .collect();
        assert_eq!(
            said,
            [
                "Username must be a string",
                "Email is required",
                "Password must be at least 8 characters long",
                "first_name: Something is off.",
            ]
        );
    }
}
