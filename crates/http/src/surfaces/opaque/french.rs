//! Surface `opaque` words everything in French, the seed's words where it
//! has some.

use crate::error_schemas as doc;
use actix_web::http::StatusCode;

use crate::body::BodyError;
use crate::issue::capitalized;
use crate::shape::{AuthFailure, ErrorShape, Shape};
use crate::wire::{Expected, FieldIssue, Problem};
use crate::ApiError;

pub(super) const EXPIRED_TOKEN: &str = "Token expiré : Veuillez vous authentifier à nouveau";

/// `{"Erreur": "..."}`.
pub struct Opaque;

impl Shape for Opaque {
    const DOCUMENTED: ErrorShape = ErrorShape::Opaque;

    fn message(status: StatusCode, message: &str) -> ApiError {
        ApiError::new(
            status,
            doc::OpaqueError {
                erreur: message.to_owned(),
            },
        )
    }

    fn coded(status: StatusCode, message: &str, code: &str) -> ApiError {
        let french = match code {
            "otp_required" => "Code à usage unique (otp) requis pour ce compte",
            "otp_invalid" => "Code à usage unique invalide ou déjà utilisé",
            "throttled" => "Trop de tentatives : réessayez plus tard",
            _ => message,
        };
        Self::message(status, french)
    }

    fn invalid(issues: &[FieldIssue]) -> ApiError {
        Self::message(StatusCode::BAD_REQUEST, &sentences(issues, empty))
    }

    fn refusal(status: StatusCode, _english: &str, french: &str, _code: &str) -> ApiError {
        Self::message(status, french)
    }

    fn unauthorized(failure: AuthFailure) -> ApiError {
        let message = match failure {
            AuthFailure::Missing => {
                "Authentification requise : fournissez le token de l'utilisateur"
            }
            AuthFailure::Invalid => EXPIRED_TOKEN,
        };
        Self::message(StatusCode::UNAUTHORIZED, message).with_bearer_challenge()
    }

    fn body_error(error: BodyError) -> ApiError {
        match error {
            BodyError::TooLarge => Self::message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Corps de la requête trop volumineux",
            ),
            BodyError::UnsupportedMediaType(_) => Self::message(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Type de contenu non pris en charge : JSON attendu",
            ),
            _ => Self::message(
                StatusCode::BAD_REQUEST,
                "Corps de la requête invalide : JSON attendu",
            ),
        }
    }

    fn unavailable() -> ApiError {
        Self::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service momentanément indisponible : réessayez plus tard",
        )
    }
}

/// The body of `/auth/re-authenticate`, whose seed names both fields in one
/// message when either is missing: `Username et password sont requis`.
pub(super) struct BothRequired;

impl Shape for BothRequired {
    const DOCUMENTED: ErrorShape = ErrorShape::Opaque;

    fn message(status: StatusCode, message: &str) -> ApiError {
        Opaque::message(status, message)
    }

    fn invalid(issues: &[FieldIssue]) -> ApiError {
        let required = |_: &str| super::REQUIRED.to_owned();
        Opaque::message(StatusCode::BAD_REQUEST, &sentences(issues, required))
    }

    fn unauthorized(failure: AuthFailure) -> ApiError {
        Opaque::unauthorized(failure)
    }

    fn body_error(error: BodyError) -> ApiError {
        Opaque::body_error(error)
    }

    fn unavailable() -> ApiError {
        Opaque::unavailable()
    }
}

/// The seed's words for an empty field: `'Username' ne peut pas être vide`.
pub(super) fn empty(field: &str) -> String {
    format!("{} ne peut pas être vide", quoted(field))
}

/// Every issue in a sentence of its own, each said once; `missing` words
/// a field that is absent or `null`.
fn sentences(issues: &[FieldIssue], missing: impl Fn(&str) -> String) -> String {
    let mut said: Vec<String> = Vec::new();
    for issue in issues {
        let sentence = match issue.problem {
            Problem::Missing | Problem::Null => missing(&issue.field),
            _ => format!("{} {}", quoted(&issue.field), predicate(issue)),
        };
        if !said.contains(&sentence) {
            said.push(sentence);
        }
    }
    said.join(" ; ")
}

/// `'Username'`, as the seed names a field.
fn quoted(field: &str) -> String {
    format!("'{}'", capitalized(field))
}

/// What is wrong with a field, said of it.
fn predicate(issue: &FieldIssue) -> String {
    let param = |name: &str| issue.param(name).unwrap_or("?").to_owned();
    let code = match &issue.problem {
        Problem::Missing | Problem::Null => "blank",
        Problem::WrongType(expected) => return format!("doit être {}", kind(*expected)),
        Problem::Invalid { code, .. } => code,
    };
    match code {
        "blank" => "ne peut pas être vide".to_owned(),
        "max_length" | "password_too_long" => {
            format!("ne doit pas dépasser {} caractères", param("max"))
        }
        "password_too_short" => format!("doit contenir au moins {} caractères", param("min")),
        "invalid_username" => {
            "ne peut contenir que des lettres, des chiffres et les caractères @ . + - _".to_owned()
        }
        "mixed_scripts" => "ne doit pas mélanger plusieurs alphabets".to_owned(),
        "invalid_email" | "email" => "n'est pas une adresse email valide".to_owned(),
        "taken" => "est déjà pris".to_owned(),
        "password_too_similar" => {
            format!("ressemble trop {}", attribute(&param("attribute")))
        }
        "password_too_common" => "est trop courant".to_owned(),
        "password_entirely_numeric" => "ne peut pas être entièrement numérique".to_owned(),
        "weak_password" => "est trop faible".to_owned(),
        _ => "n'est pas valide".to_owned(),
    }
}

fn kind(expected: Expected) -> &'static str {
    match expected {
        Expected::String => "une chaîne de caractères",
        Expected::Integer => "un nombre entier",
        Expected::Number => "un nombre",
        Expected::Boolean => "un booléen",
        Expected::Object => "un objet",
        Expected::Array => "une liste",
    }
}

fn attribute(name: &str) -> &'static str {
    match name {
        "username" => "au nom d'utilisateur",
        "email" => "à l'adresse email",
        "first_name" => "au prénom",
        "last_name" => "au nom de famille",
        _ => "aux informations du compte",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesame_users::FieldError;

    fn invalid(field: &str, code: &'static str, params: &[(&'static str, &str)]) -> FieldIssue {
        let error = FieldError::new(field, "English").coded(code);
        FieldIssue::from(
            &params
                .iter()
                .fold(error, |e, (name, value)| e.param(name, value)),
        )
    }

    #[test]
    fn every_issue_is_said_in_french_once() {
        let issues = [
            FieldIssue::new("username", Problem::WrongType(Expected::String)),
            FieldIssue::new("password", Problem::Missing),
            invalid("password", "password_too_short", &[("min", "8")]),
            invalid(
                "password",
                "password_too_similar",
                &[("attribute", "username")],
            ),
            invalid("username", "something_new", &[]),
        ];
        assert_eq!(
            sentences(&issues, empty),
            "'Username' doit être une chaîne de caractères ; \
             'Password' ne peut pas être vide ; \
             'Password' doit contenir au moins 8 caractères ; \
             'Password' ressemble trop au nom d'utilisateur ; \
             'Username' n'est pas valide"
        );
        let missing = [
            FieldIssue::new("username", Problem::Missing),
            FieldIssue::new("password", Problem::Null),
        ];
        assert_eq!(sentences(&missing, |_| "Les deux".to_owned()), "Les deux");
    }
}
