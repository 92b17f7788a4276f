//! Surface `events_messages`: the FastAPI-style contract of seed 001.
//! This module serves its account rows; events and messages join it later.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use sesame_kernel::UserId;
use sesame_tokens::TokensError;
use sesame_users::{Registration, User, UsersError};

use super::login::{actor_of, log_in};
use super::{body_fields, page_of, run, storage_failure};
use crate::auth::{authenticate, bearer_token};
use crate::body::BodyError;
use crate::client::client_info;
use crate::fields::Fields;
use crate::openapi::schemas as doc;
use crate::shape::{AuthFailure, ErrorShape, Shape};
use crate::wire::{Expected, FieldIssue, Location, Problem};
use crate::{ApiError, AppState, Bearer};
use sesame_tokens::Credentials;

/// FastAPI's error shapes: `{"detail": "..."}`, and 422 with a list of
/// `{loc, msg, type}` for validation errors.
pub struct FastApi;

impl FastApi {
    fn detail(status: StatusCode, detail: &str) -> ApiError {
        ApiError::new(status, json!({ "detail": detail }))
    }
}

impl Shape for FastApi {
    const DOCUMENTED: ErrorShape = ErrorShape::FastApi;

    fn message(status: StatusCode, message: &str) -> ApiError {
        Self::detail(status, message)
    }

    fn invalid(issues: &[FieldIssue]) -> ApiError {
        let detail: Vec<Value> = issues
            .iter()
            .map(|issue| {
                let location = match issue.location {
                    Location::Body => "body",
                    Location::Query => "query",
                };
                let (kind, message) = match &issue.problem {
                    Problem::Missing => ("missing", "Field required".to_owned()),
                    Problem::WrongType(Expected::Integer) if issue.location == Location::Query => (
                        "int_parsing",
                        "Input should be a valid integer, unable to parse string as an integer"
                            .to_owned(),
                    ),
                    Problem::WrongType(Expected::Integer) => {
                        ("int_type", "Input should be a valid integer".to_owned())
                    }
                    Problem::WrongType(Expected::Boolean) => {
                        ("bool_type", "Input should be a valid boolean".to_owned())
                    }
                    Problem::WrongType(Expected::Number) => {
                        ("float_type", "Input should be a valid number".to_owned())
                    }
                    Problem::WrongType(Expected::Object) => {
                        ("dict_type", "Input should be a valid dictionary".to_owned())
                    }
                    Problem::WrongType(Expected::Array) => {
                        ("list_type", "Input should be a valid list".to_owned())
                    }
                    Problem::Null | Problem::WrongType(Expected::String) => {
                        ("string_type", "Input should be a valid string".to_owned())
                    }
                    Problem::Invalid { .. } => {
                        ("value_error", format!("Value error, {}", issue.message()))
                    }
                };
                json!({"type": kind, "loc": [location, issue.field], "msg": message})
            })
            .collect();
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({ "detail": detail }),
        )
    }

    fn unauthorized(failure: AuthFailure) -> ApiError {
        let message = match failure {
            AuthFailure::Missing => "Not authenticated",
            AuthFailure::Invalid => "Could not validate credentials",
        };
        Self::detail(StatusCode::UNAUTHORIZED, message).with_bearer_challenge()
    }

    fn body_error(error: BodyError) -> ApiError {
        match error {
            BodyError::TooLarge => {
                Self::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
            }
            BodyError::UnsupportedMediaType(_) => {
                Self::detail(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type")
            }
            BodyError::Malformed(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"detail": [{"type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error"}]}),
            ),
            BodyError::NotAnObject => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"detail": [{"type": "model_attributes_type", "loc": ["body"], "msg": "Input should be a valid dictionary or object to extract fields from"}]}),
            ),
        }
    }
}

type Authenticated = Bearer<FastApi>;

pub(super) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/register", web::post().to(register))
        .route("/login", web::post().to(login))
        .route("/auth/logout", web::post().to(logout))
        .route("/auth/me", web::get().to(me))
        .route("/users/", web::get().to(list_users))
        .route("/users/{user_id}", web::get().to(get_user));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(register, login, logout, me, list_users, get_user))]
pub(super) struct Api;

fn user_json(user: &User) -> Value {
    json!({"id": user.id.0, "username": user.username, "email": user.email})
}

/// Words an account error in this surface's shape.
pub(crate) fn users_error(error: UsersError) -> ApiError {
    match error {
        UsersError::Invalid(errors)
            if errors
                .iter()
                .any(|e| e.problem == sesame_users::FieldProblem::Taken) =>
        {
            let email_taken = errors
                .iter()
                .any(|e| e.problem == sesame_users::FieldProblem::Taken && e.field == "email");
            taken(email_taken)
        }
        UsersError::Invalid(errors) => {
            FastApi::invalid(&errors.iter().map(FieldIssue::from).collect::<Vec<_>>())
        }
        UsersError::UsernameTaken => taken(false),
        UsersError::EmailTaken => taken(true),
        UsersError::InvalidCredentials | UsersError::AccountInactive => {
            FastApi::detail(StatusCode::UNAUTHORIZED, "Incorrect email or password")
                .with_bearer_challenge()
        }
        UsersError::WrongCurrentPassword => {
            FastApi::detail(StatusCode::BAD_REQUEST, "Incorrect password")
        }
        UsersError::NotFound => FastApi::detail(StatusCode::NOT_FOUND, "User not found"),
        UsersError::Storage(e) => storage_failure::<FastApi>(&e),
    }
}

fn taken(email: bool) -> ApiError {
    let message = if email {
        "Email already registered"
    } else {
        "Username already registered"
    };
    FastApi::detail(StatusCode::BAD_REQUEST, message)
}

pub(crate) fn tokens_error(error: TokensError) -> ApiError {
    match error {
        TokensError::Storage(e) => storage_failure::<FastApi>(&e),
        TokensError::Signing(e) => storage_failure::<FastApi>(&e),
        TokensError::Users(e) => users_error(e),
        _ => FastApi::unauthorized(AuthFailure::Invalid),
    }
}

async fn fields(
    state: &AppState,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<Fields, ApiError> {
    body_fields::<FastApi>(state, request, payload).await
}

fn checked(fields: Fields) -> Result<(), ApiError> {
    fields.finish().map_err(|issues| FastApi::invalid(&issues))
}

/// Create an account.
#[utoipa::path(
    post,
    path = "/register",
    request_body = doc::FastRegister,
    responses(
        (status = 200, description = "Created", body = doc::PublicUser),
        (status = 400, description = "`Email already registered` or `Username already registered`", body = doc::FastApiError),
        (status = 422, description = "Missing or bad fields, or a weak password", body = doc::FastApiValidationError),
    )
)]
async fn register(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let registration = Registration {
        username: f.required("username"),
        email: Some(f.required("email")),
        password: f.required("password"),
        ..Registration::default()
    };
    checked(f)?;
    let accounts = state.accounts.clone();
    let user = run::<FastApi, _, _>(move || accounts.register(registration))
        .await?
        .map_err(users_error)?;
    Ok(HttpResponse::Ok().json(user_json(&user)))
}

/// Log in for an access token.
#[utoipa::path(
    post,
    path = "/login",
    request_body = doc::FastLogin,
    responses(
        (status = 200, description = "Logged in", body = doc::AccessToken),
        (status = 401, description = "`Incorrect email or password`, or a one-time code (`otp`) is missing or wrong", body = doc::FastApiError),
        (status = 422, description = "Missing or bad fields", body = doc::FastApiValidationError),
    )
)]
async fn login(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let login = if f.has("email") || !f.has("username") {
        f.required("email")
    } else {
        f.required("username")
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
    let pair = log_in::<FastApi>(&state, credentials, client, || {
        FastApi::detail(StatusCode::UNAUTHORIZED, "Incorrect email or password")
            .with_bearer_challenge()
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({"access_token": pair.access, "token_type": "bearer"})))
}

/// End the session of the token: it stops working at once.
#[utoipa::path(
    post,
    path = "/auth/logout",
    security(("bearer" = [])),
    responses((status = 200, description = "`Successfully logged out`", body = doc::Detail))
)]
async fn logout(
    state: web::Data<AppState>,
    request: HttpRequest,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let sessions = state.sessions.clone();
    let actor = actor_of(&request, &state, caller.user.id);
    let session_id = caller.session_id;
    run::<FastApi, _, _>(move || sessions.logout(&session_id, &actor))
        .await?
        .map_err(tokens_error)?;
    Ok(HttpResponse::Ok().json(json!({"detail": "Successfully logged out"})))
}

/// The caller.
#[utoipa::path(
    get,
    path = "/auth/me",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = doc::PublicUser))
)]
async fn me(caller: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(user_json(&caller.user))
}

/// The user directory needs a token unless it is configured public.
async fn directory_access(
    state: &web::Data<AppState>,
    request: &HttpRequest,
) -> Result<(), ApiError> {
    if state.settings.public_directory {
        return Ok(());
    }
    let token = bearer_token(request).ok_or_else(|| FastApi::unauthorized(AuthFailure::Missing))?;
    authenticate::<FastApi>(state, token).await.map(|_| ())
}

/// The user directory (public when `[users] public_directory` is on).
#[utoipa::path(
    get,
    path = "/users/",
    params(doc::PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of users", body = [doc::PublicUser]),
        (status = 422, description = "Bad `skip` or `limit`", body = doc::FastApiValidationError),
    )
)]
async fn list_users(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    directory_access(&state, &request).await?;
    let page = page_of::<FastApi>(&request)?;
    let accounts = state.accounts.clone();
    let users = run::<FastApi, _, _>(move || accounts.directory(page))
        .await?
        .map_err(users_error)?;
    Ok(HttpResponse::Ok().json(users.iter().map(user_json).collect::<Vec<_>>()))
}

/// One user (public when `[users] public_directory` is on).
#[utoipa::path(
    get,
    path = "/users/{user_id}",
    params(("user_id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = doc::PublicUser),
        (status = 404, description = "`User not found`", body = doc::FastApiError),
        (status = 422, description = "`user_id` is not an integer", body = doc::FastApiValidationError),
    )
)]
async fn get_user(
    state: web::Data<AppState>,
    request: HttpRequest,
    user_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    directory_access(&state, &request).await?;
    let id = user_id.parse::<i64>().map(UserId).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [{"type": "int_parsing", "loc": ["path", "user_id"], "msg": "Input should be a valid integer, unable to parse string as an integer"}]}),
        )
    })?;
    let accounts = state.accounts.clone();
    let user = run::<FastApi, _, _>(move || accounts.get(id))
        .await?
        .map_err(users_error)?;
    Ok(HttpResponse::Ok().json(user_json(&user)))
}
