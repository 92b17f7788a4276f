//! The JSON the surfaces read and write, described for the OpenAPI document.
//!
//! Handlers read bodies through [`crate::fields::Fields`] and answer with
//! `serde_json::json!`, so these types are never built: they only describe
//! those bodies, and the `#[utoipa::path]` annotations of the handlers refer
//! to them. Keep them in step with the handlers (the black-box tests and
//! the schemathesis run of `scripts/fuzz.sh` check the answers against them).
#![allow(dead_code)]

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

pub use crate::query::PageParams;

// ---------------------------------------------------------------- error shapes

/// Surface `primary` (Django REST framework): an authentication, permission,
/// not-found, throttling or parse error.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"detail": "Not found.", "code": "not_found"}))]
pub struct DrfError {
    /// What went wrong.
    detail: String,
    /// A machine-readable code (`not_authenticated`, `token_not_valid`, `otp_required`, ...).
    code: String,
}

/// Surface `primary` (Django REST framework): the messages of each bad
/// field; `non_field_errors` for cross-field errors.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"username": ["A user with that username already exists."]}))]
pub struct DrfFieldErrors(HashMap<String, Vec<String>>);

/// Surface `primary`: a 400 is either field errors or a parse error.
#[derive(Serialize, ToSchema)]
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
    detail: String,
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
    /// Where the value is: `["body", "title"]`, `["query", "skip"]`, `["path", "event_id"]`.
    loc: Vec<LocationItem>,
    /// What is wrong with it.
    msg: String,
    /// The kind of problem (`missing`, `int_parsing`, `value_error`, ...).
    #[serde(rename = "type")]
    kind: String,
}

/// Surfaces `events_messages` and `token_form` (FastAPI): 422, every bad value.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"detail": [{"type": "missing", "loc": ["body", "title"], "msg": "Field required"}]}))]
pub struct FastApiValidationError {
    /// The bad values.
    detail: Vec<ValidationIssue>,
}

/// Surface `opaque`: the seed's French message.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"Erreur": "L'utilisateur bob n'existe pas"}))]
pub struct OpaqueError {
    /// What went wrong, in French.
    #[serde(rename = "Erreur")]
    erreur: String,
}

/// Surface `cookie_refresh`: an error message.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"message": "Username or password is incorrect"}))]
pub struct MessageError {
    /// What went wrong.
    message: String,
}

// --------------------------------------------------------------------- primary

/// A new account (djoser's `POST /auth/users/`).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"username": "alice", "email": "alice@example.com", "password": "Xk92!dumbo-lamp", "re_password": "Xk92!dumbo-lamp"}))]
pub struct UserCreate {
    /// 1..=150 letters of one script, digits and `@ . + - _`; unique ignoring
    /// case and compatibility forms (NFKC), and not another account's email.
    #[schema(min_length = 1, max_length = 150, pattern = r"^[\w.@+-]+$")]
    username: String,
    /// Deliverable as written (ASCII local part); unique ignoring case and
    /// compatibility forms (NFKC).
    #[schema(format = Email)]
    email: String,
    /// 8..=128 characters; common ones and ones too similar to the username, names or email are refused.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    /// The password again.
    re_password: String,
    #[schema(max_length = 150)]
    first_name: Option<String>,
    #[schema(max_length = 150)]
    last_name: Option<String>,
}

/// A user as surface `primary` shows it.
#[derive(Serialize, ToSchema)]
pub struct User {
    id: i64,
    username: String,
    #[schema(required = true)]
    email: Option<String>,
    first_name: String,
    last_name: String,
    /// A URL path under `/media/avatars/`, or null.
    #[schema(
        required = true,
        example = "/media/avatars/3q2b9x7k1m0p4r6t8v2w5y7z.png"
    )]
    avatar: Option<String>,
    is_active: bool,
    #[schema(format = DateTime)]
    date_joined: String,
}

/// Log in for a JWT pair.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"username": "alice", "password": "Xk92!dumbo-lamp"}))]
pub struct JwtCreate {
    /// A username or an email (`email` may be sent instead).
    username: String,
    /// Accepted in place of `username`.
    email: Option<String>,
    password: String,
    /// A TOTP code or an unused recovery code, for accounts with TOTP on.
    otp: Option<String>,
}

/// An access token and a refresh token.
#[derive(Serialize, ToSchema)]
pub struct JwtPair {
    /// Access JWT (HS256).
    access: String,
    /// Refresh JWT; single use, rotated on every refresh.
    refresh: String,
}

/// A refresh token to exchange.
#[derive(Serialize, ToSchema)]
pub struct JwtRefresh {
    refresh: String,
}

/// A token to check.
#[derive(Serialize, ToSchema)]
pub struct JwtVerify {
    token: String,
}

/// An empty object.
#[derive(Serialize, ToSchema)]
pub struct Empty {}

fn null_only() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Null)
        .build()
}

/// Profile changes, as JSON. Other fields (id, password) are ignored.
#[derive(Serialize, ToSchema)]
pub struct ProfileUpdate {
    first_name: Option<String>,
    last_name: Option<String>,
    /// A new address of one's own account needs `current_password` and
    /// changes only once the link mailed to it is used; an admin changes
    /// another account's at once.
    email: Option<String>,
    /// The caller's password: needed to change one's own email.
    current_password: Option<String>,
    /// Admins, of other accounts only (read-only for anyone else);
    /// `false` ends every session of the account.
    is_active: Option<bool>,
    /// Admins, of other accounts only (read-only for anyone else).
    is_staff: Option<bool>,
    /// Only `null`, which removes the avatar; upload one with `multipart/form-data`.
    #[schema(schema_with = null_only)]
    avatar: Option<()>,
}

/// Profile changes with an avatar upload, as `multipart/form-data`.
#[derive(Serialize, ToSchema)]
pub struct ProfileForm {
    first_name: Option<String>,
    last_name: Option<String>,
    /// As in the JSON body.
    email: Option<String>,
    /// As in the JSON body.
    current_password: Option<String>,
    /// As in the JSON body.
    is_active: Option<bool>,
    /// As in the JSON body.
    is_staff: Option<bool>,
    /// PNG, JPEG, WebP or GIF (told by content), 2 MiB at most; an empty text field removes it.
    #[schema(value_type = Option<String>, format = Binary)]
    avatar: Option<Vec<u8>>,
}

/// The caller's current password.
#[derive(Serialize, ToSchema)]
pub struct CurrentPassword {
    current_password: String,
}

/// A password change.
#[derive(Serialize, ToSchema)]
pub struct SetPassword {
    current_password: String,
    /// 8..=128 characters, not common, not built from the username or email.
    #[schema(min_length = 8, max_length = 128)]
    new_password: String,
    re_new_password: String,
}

/// A username change.
#[derive(Serialize, ToSchema)]
pub struct SetUsername {
    current_password: String,
    /// 1..=150 letters of one script, digits and `@ . + - _`; unique ignoring
    /// case and compatibility forms (NFKC), and not another account's email.
    #[schema(min_length = 1, max_length = 150, pattern = r"^[\w.@+-]+$")]
    new_username: String,
    re_new_username: Option<String>,
}

/// The `uid` and `token` of an emailed link.
#[derive(Serialize, ToSchema)]
pub struct UidToken {
    /// The user id in unpadded URL-safe base64.
    uid: String,
    /// The single-use token of the link.
    token: String,
}

/// An address to send an email flow's link to.
#[derive(Serialize, ToSchema)]
pub struct EmailAddress {
    email: String,
}

/// A password reset from an emailed link.
#[derive(Serialize, ToSchema)]
pub struct ResetPasswordConfirm {
    uid: String,
    token: String,
    /// 8..=128 characters, not common, not built from the username or email.
    #[schema(min_length = 8, max_length = 128)]
    new_password: String,
    re_new_password: String,
}

/// A username reset from an emailed link.
#[derive(Serialize, ToSchema)]
pub struct ResetUsernameConfirm {
    uid: String,
    token: String,
    /// 1..=150 letters of one script, digits and `@ . + - _`; unique ignoring
    /// case and compatibility forms (NFKC), and not another account's email.
    #[schema(min_length = 1, max_length = 150, pattern = r"^[\w.@+-]+$")]
    new_username: String,
    re_new_username: Option<String>,
}

// ------------------------------------------------------------------ token_form

/// A username and a password (seed 000).
#[derive(Serialize, ToSchema)]
pub struct UsernamePassword {
    /// 1..=150 letters of one script, digits and `@ . + - _`; unique ignoring
    /// case and compatibility forms (NFKC), and not another account's email.
    #[schema(min_length = 1, max_length = 150, pattern = r"^[\w.@+-]+$")]
    username: String,
    /// 8..=128 characters, not common, not built from the username.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
}

/// The OAuth2 password grant, as JSON or as a form.
#[derive(Serialize, ToSchema)]
pub struct TokenRequest {
    username: String,
    password: String,
    /// A TOTP code or an unused recovery code, for accounts with TOTP on.
    otp: Option<String>,
}

/// A created account (seed 000).
#[derive(Serialize, ToSchema)]
pub struct CreatedUser {
    id: i64,
    username: String,
}

/// The caller (seed 000).
#[derive(Serialize, ToSchema)]
pub struct CurrentUser {
    #[serde(rename = "User")]
    user: CreatedUser,
}
