//! Surface `primary`: accounts and JWT in djoser's layout (seed 004), with
//! Django REST framework's error shapes.

use actix_web::http::{Method, StatusCode};
use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use sesame_kernel::audit::Actor;
use sesame_tokens::{Credentials, TokenPair, TokensError};
use sesame_users::{Registration, UsersError};
use utoipa::ToSchema;
use validator::{Validate, ValidationError, ValidationErrors};

use super::login::log_in;
use super::storage_failure;
use crate::body::BodyError;
use crate::client::Client;
use crate::declare::Part;
use crate::error_schemas as doc;
use crate::shape::{AuthFailure, ErrorShape, Shape, Words};
use crate::time::rfc3339;
use crate::wire::{Body, FieldIssue, WHOLE_BODY};
use crate::{ApiError, AppState, Bearer};

mod avatars;
mod flows;
mod users;

/// Django REST framework's error shapes.
pub struct Drf;

impl Drf {
    /// `{"field": ["message"]}` (Drf shows no codes of field errors).
    fn field(field: &str, message: &str) -> ApiError {
        Self::invalid(&[FieldIssue::invalid(field, "invalid", message)])
    }

    fn not_found() -> ApiError {
        Self::message(StatusCode::NOT_FOUND, "Not found.")
    }

    fn no_active_account() -> ApiError {
        Self::coded(
            StatusCode::UNAUTHORIZED,
            "No active account found with the given credentials",
            "no_active_account",
        )
    }
}

impl Shape for Drf {
    const DOCUMENTED: ErrorShape = ErrorShape::Drf;

    fn message(status: StatusCode, message: &str) -> ApiError {
        let code = match status {
            StatusCode::BAD_REQUEST => "invalid",
            StatusCode::UNAUTHORIZED => "not_authenticated",
            StatusCode::FORBIDDEN => "permission_denied",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::TOO_MANY_REQUESTS => "throttled",
            StatusCode::SERVICE_UNAVAILABLE => "service_unavailable",
            _ => "error",
        };
        Self::coded(status, message, code)
    }

    fn coded(status: StatusCode, message: &str, code: &str) -> ApiError {
        let (detail, code) = (message.to_owned(), code.to_owned());
        ApiError::new(status, doc::DrfError { detail, code })
    }

    fn method_not_allowed(method: &Method) -> ApiError {
        Self::coded(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("Method \"{method}\" not allowed."),
            "method_not_allowed",
        )
    }

    /// `{"field": ["message", ...]}`, in Django's words (see [`FieldIssue::message`]).
    fn invalid(issues: &[FieldIssue]) -> ApiError {
        let mut body = BTreeMap::<String, Vec<String>>::new();
        for issue in issues {
            let messages = body.entry(issue.field.clone()).or_default();
            messages.push(issue.message().to_owned());
        }
        ApiError::new(StatusCode::BAD_REQUEST, doc::DrfFieldErrors(body))
    }

    fn unauthorized(failure: AuthFailure) -> ApiError {
        match failure {
            AuthFailure::Missing => Self::coded(
                StatusCode::UNAUTHORIZED,
                "Authentication credentials were not provided.",
                "not_authenticated",
            ),
            AuthFailure::Invalid => Self::coded(
                StatusCode::UNAUTHORIZED,
                "Given token not valid for any token type",
                "token_not_valid",
            ),
        }
        .with_bearer_challenge()
    }

    fn body_error(error: BodyError) -> ApiError {
        match error {
            BodyError::Malformed(reason) => Self::coded(
                StatusCode::BAD_REQUEST,
                &format!("JSON parse error - {reason}"),
                "parse_error",
            ),
            BodyError::TooLarge => {
                Self::message(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
            }
            BodyError::UnsupportedMediaType(content_type) => Self::coded(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!("Unsupported media type \"{content_type}\" in request."),
                "unsupported_media_type",
            ),
            BodyError::NotAnObject => Self::coded(
                StatusCode::BAD_REQUEST,
                "Invalid data. Expected a dictionary, but got a list or a value.",
                "invalid",
            ),
        }
    }
}

/// The routes of this surface, `/auth/users/me/` before `/auth/users/{id}/`.
pub(super) fn part() -> Part {
    Part::new::<Drf>("primary")
        .credential(register)
        .route(users::list_users)
        .credential(jwt_create)
        .credential(jwt_refresh)
        .credential(jwt_verify)
        .credential(flows::activation)
        .credential(flows::resend_activation)
        .credential(flows::reset_password)
        .credential(flows::reset_password_confirm)
        .credential(flows::reset_username)
        .credential(flows::reset_username_confirm)
        .credential(users::set_password)
        .credential(users::set_username)
        .route(users::get_me)
        .credential(users::update_me)
        .credential(users::delete_me)
        .route(users::get_user)
        .credential(users::update_user)
        .credential(users::delete_user)
        .route(avatars::avatar_file)
}

/// A user as this surface shows it. Never carries the password hash.
#[derive(Serialize, ToSchema)]
#[schema(as = primary::User)]
struct User<'a> {
    id: i64,
    username: &'a str,
    #[schema(required = true)]
    email: Option<&'a str>,
    first_name: &'a str,
    last_name: &'a str,
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

impl<'a> From<&'a sesame_users::User> for User<'a> {
    fn from(user: &'a sesame_users::User) -> Self {
        User {
            id: user.id.0,
            username: &user.username,
            email: user.email.as_deref(),
            first_name: &user.first_name,
            last_name: &user.last_name,
            avatar: user
                .avatar
                .as_ref()
                .map(|file| format!("/media/avatars/{file}")),
            is_active: user.is_active,
            date_joined: rfc3339(user.date_joined),
        }
    }
}

/// A new account (djoser's `POST /auth/users/`).
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = primary::UserCreate, example = json!({"username": "alice", "email": "alice@example.com", "password": "Xk92!dumbo-lamp", "re_password": "Xk92!dumbo-lamp"}))]
struct UserCreate {
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

/// Log in for a JWT pair: `username`, or `email` in its place.
#[derive(Deserialize, ToSchema)]
#[schema(as = primary::JwtCreate, example = json!({"username": "alice", "password": "Xk92!dumbo-lamp"}))]
struct JwtCreate {
    /// A username or an email.
    username: Option<String>,
    /// Accepted in place of `username`.
    email: Option<String>,
    password: String,
    /// A TOTP code or an unused recovery code, for accounts with TOTP on.
    otp: Option<String>,
}

impl From<JwtCreate> for Credentials {
    fn from(body: JwtCreate) -> Self {
        Credentials {
            login: body.username.or(body.email).unwrap_or_default(),
            password: body.password,
            otp: body.otp,
        }
    }
}

impl Validate for JwtCreate {
    fn validate(&self) -> Result<(), ValidationErrors> {
        if self.username.is_some() || self.email.is_some() {
            return Ok(());
        }
        let mut errors = ValidationErrors::new();
        let missing =
            ValidationError::new("required").with_message("This field is required.".into());
        errors.add("username", missing);
        Err(errors)
    }
}

/// An access token and a refresh token.
#[derive(Serialize, ToSchema)]
#[schema(as = primary::JwtPair)]
pub(super) struct JwtPair {
    /// Access JWT.
    access: String,
    /// Refresh JWT; single use, rotated on every refresh.
    refresh: String,
}

impl From<TokenPair> for JwtPair {
    fn from(pair: TokenPair) -> Self {
        JwtPair {
            access: pair.access,
            refresh: pair.refresh,
        }
    }
}

/// A refresh token to exchange.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = primary::JwtRefresh)]
struct JwtRefresh {
    refresh: String,
}

/// A token to check.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = primary::JwtVerify)]
struct JwtVerify {
    token: String,
}

/// An empty object.
#[derive(Serialize, ToSchema)]
#[schema(as = primary::Empty)]
struct Empty {}

impl Words<UsersError> for Drf {
    fn word(error: UsersError) -> ApiError {
        match error {
            UsersError::Invalid(errors) => {
                Drf::invalid(&errors.iter().map(FieldIssue::from).collect::<Vec<_>>())
            }
            UsersError::UsernameTaken => {
                Drf::field("username", "A user with that username already exists.")
            }
            UsersError::EmailTaken => Drf::field("email", "A user with that email already exists."),
            UsersError::InvalidCredentials | UsersError::AccountInactive => {
                Drf::no_active_account()
            }
            UsersError::WrongCurrentPassword => Drf::field("current_password", "Invalid password."),
            UsersError::ConfirmationThrottled(seconds) => {
                super::login::confirmations_throttled::<Drf>(seconds)
            }
            UsersError::NotFound => Drf::not_found(),
            UsersError::Forbidden => Drf::message(
                StatusCode::FORBIDDEN,
                "You do not have permission to perform this action.",
            ),
            // Never met here: this surface's registration requires an email.
            UsersError::ActivationNeedsEmail => Drf::field("email", "This field is required."),
            UsersError::Storage(e) => storage_failure::<Drf>(&e),
        }
    }
}

impl Words<TokensError> for Drf {
    fn word(error: TokensError) -> ApiError {
        match error {
            TokensError::InvalidToken
            | TokensError::TokenExpired
            | TokensError::SessionRevoked
            | TokensError::RefreshReused
            | TokensError::AccountInactive => Drf::coded(
                StatusCode::UNAUTHORIZED,
                "Token is invalid or expired",
                "token_not_valid",
            ),
            TokensError::LoginRefused => Drf::no_active_account(),
            TokensError::SessionNotFound | TokensError::PasskeyNotFound => Drf::not_found(),
            TokensError::MfaAlreadyEnabled => Drf::coded(
                StatusCode::CONFLICT,
                "Two-factor authentication is already on.",
                "mfa_enabled",
            ),
            TokensError::MfaNotEnabled => {
                Drf::field("code", "Two-factor authentication is not set up.")
            }
            TokensError::OtpInvalid => {
                Drf::field("code", "The code is invalid or was already used.")
            }
            TokensError::OtpRequired => Drf::field(
                "code",
                "Two-factor authentication is on: a code is required.",
            ),
            TokensError::PasskeyRejected(reason) => Drf::field(
                "credential",
                &format!("The passkey response was refused: {reason}."),
            ),
            TokensError::PasskeyExists => {
                Drf::field("credential", "This passkey is already registered.")
            }
            TokensError::TooManyPasskeys(max) => Drf::field(
                WHOLE_BODY,
                &format!("An account holds at most {max} passkeys; remove one first."),
            ),
            TokensError::PasskeyNameInvalid => Drf::field(
                "name",
                "Ensure this field has no more than 64 characters and no control characters.",
            ),
            TokensError::Users(e) => Drf::word(e),
            other => storage_failure::<Drf>(&other),
        }
    }
}

/// Work on `service` done as `actor`, who the audit log names: 204 once done.
pub(super) async fn done_as<Service, T, E>(
    actor: Actor,
    service: &Service,
    work: impl FnOnce(&Service, &Actor) -> Result<T, E> + Send + 'static,
) -> Result<HttpResponse, ApiError>
where
    Drf: Words<E>,
    Service: Clone + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    Drf::call(service, move |s| work(s, &actor)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// djoser's `re_*` fields: when sent, the same value again.
fn same_again(value: &str, again: Option<&str>, what: &str) -> Result<(), ApiError> {
    match again {
        Some(again) if again != value => Err(Drf::field(
            WHOLE_BODY,
            &format!("The two {what} fields didn't match."),
        )),
        _ => Ok(()),
    }
}

/// Create an account (inactive until activated when activation is required).
#[utoipa::path(
    request_body = UserCreate,
    responses(
        (status = 201, description = "Created", body = User),
        (status = 400, description = "Bad, missing or taken fields, a weak password, or passwords that differ", body = doc::DrfBadRequest),
    )
)]
#[post("/auth/users/")]
async fn register(
    state: web::Data<AppState>,
    body: Body<UserCreate, Drf>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    same_again(&body.password, Some(&body.re_password), "password")?;
    let registration = Registration {
        username: body.username,
        email: Some(body.email),
        password: body.password,
        first_name: body.first_name.unwrap_or_default(),
        last_name: body.last_name.unwrap_or_default(),
    };
    let user = Drf::call(&state.accounts, move |accounts| {
        accounts.register(registration)
    })
    .await?;
    Ok(HttpResponse::Created().json(User::from(&user)))
}

/// Log in for a JWT pair.
#[utoipa::path(
    request_body = JwtCreate,
    responses(
        (status = 200, description = "Logged in", body = JwtPair),
        (status = 401, description = "`No active account found with the given credentials`, or `otp_required` / `otp_invalid`", body = doc::DrfError),
    )
)]
#[post("/auth/jwt/create/")]
async fn jwt_create(
    state: web::Data<AppState>,
    client: Client,
    body: Body<JwtCreate, Drf>,
) -> Result<HttpResponse, ApiError> {
    let credentials = body.into_inner().into();
    let pair = log_in::<Drf>(&state, credentials, client, Drf::no_active_account).await?;
    Ok(HttpResponse::Ok().json(JwtPair::from(pair)))
}

/// Exchange a refresh token for a new pair; a reused one revokes its session.
#[utoipa::path(
    request_body = JwtRefresh,
    responses(
        (status = 200, description = "A new pair (the refresh token is rotated)", body = JwtPair),
        (status = 401, description = "`token_not_valid`", body = doc::DrfError),
    )
)]
#[post("/auth/jwt/refresh/")]
async fn jwt_refresh(
    state: web::Data<AppState>,
    body: Body<JwtRefresh, Drf>,
) -> Result<HttpResponse, ApiError> {
    let JwtRefresh { refresh } = body.into_inner();
    let pair = Drf::call(&state.sessions, move |s| s.refresh(&refresh)).await?;
    Ok(HttpResponse::Ok().json(JwtPair::from(pair)))
}

/// Check a token.
#[utoipa::path(
    request_body = JwtVerify,
    responses(
        (status = 200, description = "Valid", body = Empty),
        (status = 401, description = "`Token is invalid or expired` (`token_not_valid`)", body = doc::DrfError),
    )
)]
#[post("/auth/jwt/verify/")]
async fn jwt_verify(
    state: web::Data<AppState>,
    body: Body<JwtVerify, Drf>,
) -> Result<HttpResponse, ApiError> {
    let JwtVerify { token } = body.into_inner();
    Drf::call(&state.sessions, move |s| s.verify(&token)).await?;
    Ok(HttpResponse::Ok().json(Empty {}))
}

pub(super) type Authenticated = Bearer<Drf>;
