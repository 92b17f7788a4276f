//! Surface `cookie_refresh`: seed 003. The access JWT travels in the body,
//! the refresh token in an HttpOnly, SameSite=Strict cookie scoped to
//! `/auth/refresh`. The seed gave no paths; these are Sesame's.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use sesame_tokens::{TokenPair, TokensError};
use sesame_users::{FieldProblem, Registration, UsersError};

use super::login::log_in;
use super::{body_fields, run, storage_failure};
use crate::body::BodyError;
use crate::client::client_info;
use crate::fields::Fields;
use crate::openapi::schemas as doc;
use crate::shape::{AuthFailure, ErrorShape, Shape};
use crate::wire::FieldIssue;
use crate::{ApiError, AppState};
use sesame_tokens::Credentials;

/// `{"message": "..."}`.
pub struct MessageShape;

impl Shape for MessageShape {
    const DOCUMENTED: ErrorShape = ErrorShape::Message;

    fn message(status: StatusCode, message: &str) -> ApiError {
        ApiError::new(status, json!({ "message": message }))
    }

    fn invalid(issues: &[FieldIssue]) -> ApiError {
        let message = issues
            .iter()
            .map(|issue| format!("{}: {}", issue.field, issue.message()))
            .collect::<Vec<_>>()
            .join("; ");
        Self::message(StatusCode::BAD_REQUEST, &message)
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

/// The refresh cookie's name.
pub const REFRESH_COOKIE: &str = "refresh_token";
const REFRESH_PATH: &str = "/auth/refresh";

pub(super) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/auth/signup", web::post().to(signup))
        .route("/auth/login", web::post().to(login))
        .route("/auth/refresh", web::post().to(refresh));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(signup, login, refresh))]
pub(super) struct Api;

async fn fields(
    state: &AppState,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<Fields, ApiError> {
    body_fields::<MessageShape>(state, request, payload).await
}

fn checked(fields: Fields) -> Result<(), ApiError> {
    fields
        .finish()
        .map_err(|issues| MessageShape::invalid(&issues))
}

/// Create an account.
#[utoipa::path(
    post,
    path = "/auth/signup",
    request_body = doc::Signup,
    responses(
        (status = 201, description = "Created", body = doc::SignupUser),
        (status = 400, description = "Missing or bad fields, or a weak password", body = doc::MessageError),
        (status = 409, description = "`Username or email already taken`", body = doc::MessageError),
    )
)]
async fn signup(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let registration = Registration {
        first_name: f.optional("firstname").unwrap_or_default(),
        last_name: f.optional("lastname").unwrap_or_default(),
        email: Some(f.required("email")),
        username: f.required("username"),
        password: f.required("password"),
    };
    checked(f)?;
    let accounts = state.accounts.clone();
    let user = run::<MessageShape, _, _>(move || accounts.register(registration))
        .await?
        .map_err(|error| match error {
            UsersError::Invalid(errors)
                if errors.iter().any(|e| e.problem == FieldProblem::Taken) =>
            {
                MessageShape::message(StatusCode::CONFLICT, "Username or email already taken")
            }
            UsersError::Invalid(errors) => {
                MessageShape::invalid(&errors.iter().map(FieldIssue::from).collect::<Vec<_>>())
            }
            other => storage_failure::<MessageShape>(&other),
        })?;
    Ok(HttpResponse::Created().json(json!({
        "id": user.id.0,
        "firstname": user.first_name,
        "lastname": user.last_name,
        "email": user.email,
        "username": user.username,
    })))
}

fn refresh_cookie(state: &AppState, value: String, max_age: i64) -> Cookie<'static> {
    Cookie::build(REFRESH_COOKIE, value)
        .path(REFRESH_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.settings.secure_cookies)
        .max_age(CookieDuration::seconds(max_age))
        .finish()
}

fn token_answer(state: &AppState, pair: TokenPair) -> HttpResponse {
    let max_age = state.sessions.settings().refresh_ttl.num_seconds();
    HttpResponse::Ok()
        .cookie(refresh_cookie(state, pair.refresh, max_age))
        .json(json!({ "token": pair.access }))
}

/// Log in: the access JWT in the body, the refresh token in a cookie.
#[utoipa::path(
    post,
    path = "/auth/login",
    request_body = doc::CookieLogin,
    responses(
        (status = 200, description = "Logged in", body = doc::AccessJwt, headers(
            ("Set-Cookie" = String, description = "`refresh_token`: HttpOnly, SameSite=Strict, Path=/auth/refresh")
        )),
        (status = 400, description = "Missing or bad fields", body = doc::MessageError),
        (status = 401, description = "`Username or password is incorrect`, or a one-time code (`otp`) is missing or wrong", body = doc::MessageError),
    )
)]
async fn login(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let login = match ["login", "username", "email"]
        .into_iter()
        .find(|k| f.has(k))
    {
        Some(key) => f.required(key),
        None => f.required("login"),
    };
    let password = f.required("password");
    let otp = f.optional("otp");
    checked(f)?;
    let credentials = Credentials {
        login,
        password,
        otp,
    };
    let client = client_info(&request, &state.settings);
    let pair = log_in::<MessageShape>(&state, credentials, client, || {
        MessageShape::message(
            StatusCode::UNAUTHORIZED,
            "Username or password is incorrect",
        )
    })
    .await?;
    Ok(token_answer(&state, pair))
}

/// Exchanges the refresh cookie for a new access token and a rotated cookie.
/// A cookie used twice revokes its session.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    params(("refresh_token" = Option<String>, Cookie, description = "Set by `/auth/login`")),
    responses(
        (status = 200, description = "A new access token; the cookie is rotated", body = doc::AccessJwt, headers(
            ("Set-Cookie" = String, description = "The rotated `refresh_token`")
        )),
        (status = 401, description = "No cookie, or an invalid, expired, revoked or reused one (the cookie is cleared)", body = doc::MessageError),
    )
)]
async fn refresh(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let refused = |message: &str| {
        let mut response = HttpResponse::Unauthorized().json(json!({ "message": message }));
        let _ = response.add_removal_cookie(&refresh_cookie(&state, String::new(), 0));
        response
    };
    let Some(cookie) = request.cookie(REFRESH_COOKIE) else {
        return Ok(refused("Refresh token missing"));
    };
    let token = cookie.value().to_owned();
    let sessions = state.sessions.clone();
    match run::<MessageShape, _, _>(move || sessions.refresh(&token)).await? {
        Ok(pair) => Ok(token_answer(&state, pair)),
        Err(TokensError::Storage(e)) => Err(storage_failure::<MessageShape>(&e)),
        Err(_) => Ok(refused("Invalid or expired refresh token")),
    }
}
