//! The error bodies of the surfaces: the shapes build them, and the
//! OpenAPI document describes them from these same types.

use serde::Serialize;
use std::collections::BTreeMap;

use utoipa::ToSchema;

pub use crate::query::PageParams;

// ---------------------------------------------------------------- error shapes

/// Surface `primary` (Django REST framework): an authentication, permission,
/// not-found, throttling or parse error.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"detail": "Not found.", "code": "not_found"}))]
pub struct DrfError {
    /// What went wrong.
    pub(crate) detail: String,
    /// A machine-readable code (`not_authenticated`, `token_not_valid`, `otp_required`, ...).
    pub(crate) code: String,
}

/// Surface `primary` (Django REST framework): the messages of each bad
/// field; `non_field_errors` for cross-field errors.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"username": ["A user with that username already exists."]}))]
pub struct DrfFieldErrors(pub(crate) BTreeMap<String, Vec<String>>);

/// Surface `primary`: a 400 is either field errors or a parse error.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // Only documents the answer: the shape builds one of its two variants' types.
#[serde(untagged)]
pub enum DrfBadRequest {
    /// Bad fields.
    Fields(DrfFieldErrors),
    /// A body that could not be read.
    Detail(DrfError),
}

/// Surfaces `events_messages` and `token_form` (FastAPI): an error message.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"detail": "Not authenticated"}))]
pub struct FastApiError {
    /// What went wrong.
    pub(crate) detail: String,
}

/// One entry of a FastAPI validation error: a path segment name or a list index.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum LocationItem {
    /// A name (`body`, `query`, `path`, a field).
    Name(String),
    /// An index.
    Index(i64),
}

/// One bad value of a FastAPI validation error.
#[derive(Serialize, ToSchema)]
pub struct ValidationIssue {
    /// The kind of problem (`missing`, `int_parsing`, `value_error`, ...).
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    /// Where the value is: `["body", "title"]`, `["query", "skip"]`, `["path", "event_id"]`.
    pub(crate) loc: Vec<LocationItem>,
    /// What is wrong with it.
    pub(crate) msg: String,
}

impl ValidationIssue {
    /// A problem of `kind` at `loc` (names, or an index for a list).
    pub(crate) fn new(kind: &'static str, loc: &[&str], msg: impl Into<String>) -> Self {
        ValidationIssue {
            kind,
            loc: loc
                .iter()
                .map(|part| LocationItem::Name((*part).to_owned()))
                .collect(),
            msg: msg.into(),
        }
    }
}

/// Surfaces `events_messages` and `token_form` (FastAPI): 422, every bad value.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"detail": [{"type": "missing", "loc": ["body", "title"], "msg": "Field required"}]}))]
pub struct FastApiValidationError {
    /// The bad values.
    pub(crate) detail: Vec<ValidationIssue>,
}

/// Surface `opaque`: the seed's French message.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"Erreur": "L'utilisateur bob n'existe pas"}))]
pub struct OpaqueError {
    /// What went wrong, in French.
    #[serde(rename = "Erreur")]
    pub(crate) erreur: String,
}

/// Surface `cookie_refresh`: an error message.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"message": "Username or password is incorrect"}))]
pub struct MessageError {
    /// What went wrong.
    pub(crate) message: String,
}
