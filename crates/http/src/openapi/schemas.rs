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
use utoipa::{IntoParams, ToSchema};

/// `skip` and `limit`, on every list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items to pass over (default 0).
    #[param(minimum = 0)]
    skip: Option<i64>,
    /// Items to return (default 100; clamped to 1..=100).
    #[param(minimum = 0)]
    limit: Option<i64>,
}

/// The filters of the event list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilterParams {
    /// Events on or after this date (ISO 8601; without an offset, UTC).
    #[param(format = DateTime)]
    from: Option<String>,
    /// Events on or before this date.
    #[param(format = DateTime)]
    to: Option<String>,
    /// Text the title contains (case-insensitive).
    q: Option<String>,
}

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

// ------------------------------------------------------------ account_security

/// The caller's current password.
#[derive(Serialize, ToSchema)]
pub struct CurrentPassword {
    current_password: String,
}

/// An email change: a link goes to the new address.
#[derive(Serialize, ToSchema)]
pub struct SetEmail {
    current_password: String,
    #[schema(format = Email)]
    new_email: String,
}

/// The `uid` and `token` of an emailed link.
#[derive(Serialize, ToSchema)]
pub struct UidToken {
    /// The user id in unpadded URL-safe base64.
    uid: String,
    /// The single-use token of the link.
    token: String,
}

/// One login of the caller.
#[derive(Serialize, ToSchema)]
pub struct Session {
    id: String,
    /// `jwt` or `opaque`.
    kind: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_used_at: String,
    #[schema(required = true)]
    ip: Option<String>,
    #[schema(required = true)]
    user_agent: Option<String>,
    /// Whether the token of this request belongs to it.
    current: bool,
}

/// A TOTP secret, not active until confirmed.
#[derive(Serialize, ToSchema)]
pub struct TotpSetup {
    /// Base32, at least 160 bits.
    secret: String,
    /// `otpauth://totp/Sesame:<username>?secret=<secret>&issuer=Sesame`.
    otpauth_url: String,
}

/// A TOTP code (or, to turn TOTP off, an unused recovery code).
#[derive(Serialize, ToSchema)]
pub struct TotpCode {
    code: String,
}

/// Turning TOTP off.
#[derive(Serialize, ToSchema)]
pub struct TotpDisable {
    current_password: String,
    /// A TOTP code or an unused recovery code.
    code: String,
}

/// The filters of the audit log.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilterParams {
    /// Only the events of this user id.
    user: Option<i64>,
    /// Only events of this kind (`login_success`, `login_failure`, `logout`, ...).
    kind: Option<String>,
}

/// A recorded security event.
#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    /// Increasing.
    id: i64,
    /// `login_success`, `login_failure`, `logout`, `refresh_reuse`, `password_change`, ...
    kind: String,
    #[schema(required = true)]
    user_id: Option<i64>,
    #[schema(required = true)]
    ip: Option<String>,
    #[schema(required = true)]
    user_agent: Option<String>,
    #[schema(format = DateTime)]
    at: String,
    /// A short detail (the login tried, only as a keyed digest `hmac:…` when it
    /// names no account; the target of an admin change, ...).
    #[schema(required = true)]
    detail: Option<String>,
}

/// The recovery codes, shown once.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

// ------------------------------------------------------------- events_messages

/// A new account (seed 001).
#[derive(Serialize, ToSchema)]
pub struct FastRegister {
    /// 1..=150 letters of one script, digits and `@ . + - _`; unique ignoring
    /// case and compatibility forms (NFKC), and not another account's email.
    #[schema(min_length = 1, max_length = 150, pattern = r"^[\w.@+-]+$")]
    username: String,
    #[schema(format = Email)]
    email: String,
    /// 8..=128 characters, not common, not built from the username or email.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
}

/// A user as surface `events_messages` shows it.
#[derive(Serialize, ToSchema)]
pub struct PublicUser {
    id: i64,
    username: String,
    #[schema(required = true)]
    email: Option<String>,
}

/// Log in (seed 001).
#[derive(Serialize, ToSchema)]
pub struct FastLogin {
    /// An email or a username (`username` may be sent instead).
    email: String,
    /// Accepted in place of `email`.
    username: Option<String>,
    password: String,
    /// A TOTP code or an unused recovery code, for accounts with TOTP on.
    otp: Option<String>,
}

/// An access token, OAuth2 style.
#[derive(Serialize, ToSchema)]
pub struct AccessToken {
    access_token: String,
    /// Always `bearer`.
    token_type: String,
}

/// A confirmation.
#[derive(Serialize, ToSchema)]
pub struct Detail {
    detail: String,
}

/// An event.
#[derive(Serialize, ToSchema)]
pub struct Event {
    id: i64,
    title: String,
    description: String,
    #[schema(format = DateTime)]
    date: String,
    location: String,
    organizer_id: i64,
    /// Null: unlimited.
    #[schema(required = true)]
    capacity: Option<i64>,
    attendees_count: i64,
}

/// A whole event (POST, PUT).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"title": "Rust meetup", "description": "Talks", "date": "2030-03-14T18:00:00Z", "location": "Lyon", "capacity": 40}))]
pub struct EventInput {
    /// 1..=200 characters once trimmed, unique (case-insensitive).
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    #[schema(max_length = 5000)]
    description: Option<String>,
    /// ISO 8601 (years 1 to 9999); without an offset, UTC.
    #[schema(format = DateTime)]
    date: String,
    #[schema(max_length = 300)]
    location: Option<String>,
    /// Null or absent: unlimited.
    #[schema(minimum = 1)]
    capacity: Option<i64>,
}

/// Some fields of an event (PATCH).
#[derive(Serialize, ToSchema)]
pub struct EventPatch {
    #[schema(min_length = 1, max_length = 200)]
    title: Option<String>,
    #[schema(max_length = 5000)]
    description: Option<String>,
    #[schema(format = DateTime)]
    date: Option<String>,
    #[schema(max_length = 300)]
    location: Option<String>,
    /// Null: unlimited.
    #[schema(minimum = 1)]
    capacity: Option<i64>,
}

/// Someone who attends an event.
#[derive(Serialize, ToSchema)]
pub struct Attendee {
    id: i64,
    username: String,
}

/// A message.
#[derive(Serialize, ToSchema)]
pub struct Message {
    id: i64,
    content: String,
    #[schema(format = DateTime)]
    created_at: String,
    sender_id: i64,
    receiver_id: i64,
    is_read: bool,
}

/// A message to send.
#[derive(Serialize, ToSchema)]
pub struct MessageInput {
    /// 1..=5000 characters once trimmed.
    #[schema(min_length = 1, max_length = 5000)]
    content: String,
    receiver_id: i64,
}

/// How many received messages are unread.
#[derive(Serialize, ToSchema)]
pub struct UnreadCount {
    count: i64,
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

// ---------------------------------------------------------------------- opaque

/// A username and a password (seed 002); empty ones get 400.
#[derive(Serialize, ToSchema)]
pub struct OpaqueCredentials {
    username: String,
    password: String,
    /// A TOTP code or an unused recovery code, for accounts with TOTP on
    /// (`/auth/re-authenticate` only).
    otp: Option<String>,
}

/// An opaque token (at least 128 random bits; valid while used at least hourly).
#[derive(Serialize, ToSchema)]
pub struct OpaqueToken {
    token: String,
}

/// A user as surface `opaque` shows it (never the password or the token).
#[derive(Serialize, ToSchema)]
pub struct OpaqueUser {
    id: i64,
    username: String,
    #[serde(rename = "creationDate")]
    #[schema(format = DateTime)]
    creation_date: String,
    #[serde(rename = "lastLoginDate")]
    #[schema(required = true, format = DateTime)]
    last_login_date: Option<String>,
}

/// A deletion, confirmed in French.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"Succès": "Utilisateur bob supprimé avec succès"}))]
pub struct OpaqueDeleted {
    #[serde(rename = "Succès")]
    succes: String,
}

// -------------------------------------------------------------- cookie_refresh

/// A new account (seed 003).
#[derive(Serialize, ToSchema)]
pub struct Signup {
    #[schema(max_length = 150)]
    firstname: Option<String>,
    #[schema(max_length = 150)]
    lastname: Option<String>,
    #[schema(format = Email)]
    email: String,
    /// 1..=150 letters of one script, digits and `@ . + - _`; unique ignoring
    /// case and compatibility forms (NFKC), and not another account's email.
    #[schema(min_length = 1, max_length = 150, pattern = r"^[\w.@+-]+$")]
    username: String,
    /// 8..=128 characters, not common, not built from the username or email.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
}

/// A created account (seed 003).
#[derive(Serialize, ToSchema)]
pub struct SignupUser {
    id: i64,
    firstname: String,
    lastname: String,
    #[schema(required = true)]
    email: Option<String>,
    username: String,
}

/// Log in (seed 003).
#[derive(Serialize, ToSchema)]
pub struct CookieLogin {
    /// A username or an email (`username` or `email` may be sent instead).
    login: String,
    password: String,
    /// A TOTP code or an unused recovery code, for accounts with TOTP on.
    otp: Option<String>,
}

/// An access JWT.
#[derive(Serialize, ToSchema)]
pub struct AccessJwt {
    token: String,
}

// ------------------------------------------------------------------ operations

/// The public keys that verify Sesame's JWTs (RFC 7517 JWK Set).
#[derive(Serialize, ToSchema)]
pub struct JwkSet {
    /// One JWK per asymmetric key that still verifies: `kid`, `alg`,
    /// `use: "sig"`, `kty` and its public members only. Empty under HS256.
    #[schema(value_type = Vec<Object>)]
    keys: Vec<serde_json::Value>,
}

/// A health answer.
#[derive(Serialize, ToSchema)]
pub struct Status {
    /// `ok`, `ready` or `database unreachable`.
    status: String,
}
