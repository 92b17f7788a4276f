//! Surface `token_form`: seed 000, a FastAPI app with the OAuth2 password form.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use sesame_users::{FieldProblem, Registration, UsersError};

use super::events_messages::FastApi;
use super::login::log_in;
use super::{body_fields, form_fields, run, storage_failure};
use crate::body::BodyError;
use crate::client::client_info;
use crate::fields::{FieldIssue, Fields};
use crate::openapi::schemas as doc;
use crate::shape::{AuthFailure, Shape};
use crate::{ApiError, AppState, Bearer};
use sesame_tokens::Credentials;

/// FastAPI's shapes, with the seed's own words for a refused token.
pub struct TokenForm;

impl Shape for TokenForm {
    fn message(status: StatusCode, message: &str) -> ApiError {
        FastApi::message(status, message)
    }

    fn invalid(issues: &[FieldIssue]) -> ApiError {
        FastApi::invalid(issues)
    }

    fn unauthorized(_: AuthFailure) -> ApiError {
        FastApi::message(StatusCode::UNAUTHORIZED, "Authentication Failed.").with_bearer_challenge()
    }

    fn body_error(error: BodyError) -> ApiError {
        FastApi::body_error(error)
    }
}

pub(super) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/auth/", web::post().to(create_user))
        .route("/auth/token", web::post().to(token))
        .route("/", web::get().to(current_user));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(create_user, token, current_user))]
pub(super) struct Api;

async fn fields(
    state: &AppState,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<Fields, ApiError> {
    body_fields::<TokenForm>(state, request, payload).await
}

fn checked(fields: Fields) -> Result<(), ApiError> {
    fields
        .finish()
        .map_err(|issues| TokenForm::invalid(&issues))
}

/// Create an account.
#[utoipa::path(
    post,
    path = "/auth/",
    request_body = doc::UsernamePassword,
    responses(
        (status = 201, description = "Created", body = doc::CreatedUser),
        (status = 400, description = "`Username already registered`", body = doc::FastApiError),
        (status = 403, description = "Accounts need email activation: register with `POST /auth/users/` and an email", body = doc::FastApiError),
        (status = 422, description = "Missing or bad fields, or a weak password", body = doc::FastApiValidationError),
    )
)]
async fn create_user(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if state.accounts.settings().require_activation {
        return Err(TokenForm::message(
            StatusCode::FORBIDDEN,
            "Accounts need email activation, and this route takes no email: register with POST /auth/users/ and an email address.",
        ));
    }
    let mut f = fields(&state, &request, payload).await?;
    let registration = Registration {
        username: f.required("username"),
        password: f.required("password"),
        ..Registration::default()
    };
    checked(f)?;
    let accounts = state.accounts.clone();
    let user = run::<TokenForm, _, _>(move || accounts.register(registration))
        .await?
        .map_err(|error| match error {
            UsersError::Invalid(errors)
                if errors.iter().any(|e| e.problem == FieldProblem::Taken) =>
            {
                TokenForm::message(StatusCode::BAD_REQUEST, "Username already registered")
            }
            UsersError::Invalid(errors) => {
                TokenForm::invalid(&errors.iter().map(FieldIssue::from).collect::<Vec<_>>())
            }
            other => storage_failure::<TokenForm>(&other),
        })?;
    Ok(HttpResponse::Created().json(json!({"id": user.id.0, "username": user.username})))
}

/// The OAuth2 password grant: form fields (or JSON) `username` and `password`.
#[utoipa::path(
    post,
    path = "/auth/token",
    request_body(content(
        (doc::TokenRequest = "application/x-www-form-urlencoded"),
        (doc::TokenRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "Logged in", body = doc::AccessToken),
        (status = 401, description = "`Could not validate user.`, or a one-time code (`otp`) is missing or wrong", body = doc::FastApiError),
        (status = 422, description = "Missing or bad fields", body = doc::FastApiValidationError),
    )
)]
async fn token(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut f = form_fields::<TokenForm>(&state, &request, payload).await?;
    let username = f.required("username");
    let password = f.required("password");
    let otp = f.optional("otp");
    checked(f)?;
    let credentials = Credentials {
        login: username,
        password,
        otp,
    };
    let client = client_info(&request, &state.settings);
    let pair = log_in::<TokenForm>(&state, credentials, client, || {
        TokenForm::message(StatusCode::UNAUTHORIZED, "Could not validate user.")
            .with_bearer_challenge()
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({"access_token": pair.access, "token_type": "bearer"})))
}

/// The caller.
#[utoipa::path(
    get,
    path = "/",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = doc::CurrentUser))
)]
async fn current_user(caller: Bearer<TokenForm>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "User": {"username": caller.user.username, "id": caller.user.id.0}
    }))
}
