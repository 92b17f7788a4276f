//! Surface `token_form`: seed 000, a FastAPI app with the OAuth2 password form.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use sesame_tokens::Credentials;
use sesame_users::{Registration, User, UsersError};
use utoipa::ToSchema;
use validator::Validate;

use super::events_messages::FastApi;
use super::login::{log_in, refused_registration};
use crate::body::BodyError;
use crate::client::Client;
use crate::declare::Part;
use crate::error_schemas as doc;
use crate::shape::{AuthFailure, ErrorShape, Shape, Words};
use crate::wire::{Body, FieldIssue, FormOrJson};
use crate::{ApiError, AppState, Bearer};

/// FastAPI's shapes, with the seed's own words for a refused token.
pub struct TokenForm;

impl Shape for TokenForm {
    const DOCUMENTED: ErrorShape = ErrorShape::FastApi;

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

impl Words<UsersError> for TokenForm {
    fn word(error: UsersError) -> ApiError {
        let taken = TokenForm::message(StatusCode::BAD_REQUEST, "Username already registered");
        refused_registration::<TokenForm>(error, taken)
    }
}

pub(super) fn part() -> Part {
    Part::new::<TokenForm>("token_form")
        .credential(create_user)
        .credential(token)
        .route(current_user)
}

/// A username and a password (seed 000).
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = token_form::UsernamePassword)]
struct UsernamePassword {
    /// 1..=150 letters of one script, digits and `@ . + - _`; unique ignoring
    /// case and compatibility forms (NFKC), and not another account's email.
    #[schema(min_length = 1, max_length = 150, pattern = r"^[\w.@+-]+$")]
    username: String,
    /// 8..=128 characters, not common, not built from the username.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
}

/// The OAuth2 password grant, as JSON or as a form.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = token_form::TokenRequest)]
struct TokenRequest {
    username: String,
    password: String,
    /// A TOTP code or an unused recovery code, for accounts with TOTP on.
    otp: Option<String>,
}

impl From<TokenRequest> for Credentials {
    fn from(body: TokenRequest) -> Self {
        Credentials {
            login: body.username,
            password: body.password,
            otp: body.otp,
        }
    }
}

/// A created account (seed 000).
#[derive(Serialize, ToSchema)]
#[schema(as = token_form::CreatedUser)]
struct CreatedUser {
    id: i64,
    username: String,
}

impl From<&User> for CreatedUser {
    fn from(user: &User) -> Self {
        CreatedUser {
            id: user.id.0,
            username: user.username.clone(),
        }
    }
}

/// The caller (seed 000).
#[derive(Serialize, ToSchema)]
#[schema(as = token_form::CurrentUser)]
struct CurrentUser {
    #[serde(rename = "User")]
    user: CreatedUser,
}

/// An access token, OAuth2 style.
#[derive(Serialize, ToSchema)]
#[schema(as = token_form::AccessToken)]
struct AccessToken {
    access_token: String,
    /// Always `bearer`.
    token_type: &'static str,
}

/// Create an account.
#[utoipa::path(
    request_body = UsernamePassword,
    responses(
        (status = 201, description = "Created", body = CreatedUser),
        (status = 400, description = "`Username already registered`", body = doc::FastApiError),
        (status = 403, description = "Accounts need email activation: register with `POST /auth/users/` and an email", body = doc::FastApiError),
        (status = 422, description = "Missing or bad fields, or a weak password", body = doc::FastApiValidationError),
    )
)]
#[post("/auth/")]
async fn create_user(
    state: web::Data<AppState>,
    body: Body<UsernamePassword, TokenForm>,
) -> Result<HttpResponse, ApiError> {
    let UsernamePassword { username, password } = body.into_inner();
    let registration = Registration {
        username,
        password,
        ..Registration::default()
    };
    let user = TokenForm::call(&state.accounts, move |a| a.register(registration)).await?;
    Ok(HttpResponse::Created().json(CreatedUser::from(&user)))
}

/// The OAuth2 password grant: form fields (or JSON) `username` and `password`.
#[utoipa::path(
    request_body(content(
        (TokenRequest = "application/x-www-form-urlencoded"),
        (TokenRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "Logged in", body = AccessToken),
        (status = 401, description = "`Could not validate user.`, or a one-time code (`otp`) is missing or wrong", body = doc::FastApiError),
    )
)]
#[post("/auth/token")]
async fn token(
    state: web::Data<AppState>,
    client: Client,
    body: FormOrJson<TokenRequest, TokenForm>,
) -> Result<HttpResponse, ApiError> {
    let pair = log_in::<TokenForm>(&state, body.into_inner().into(), client, || {
        TokenForm::message(StatusCode::UNAUTHORIZED, "Could not validate user.")
            .with_bearer_challenge()
    })
    .await?;
    Ok(HttpResponse::Ok().json(AccessToken {
        access_token: pair.access,
        token_type: "bearer",
    }))
}

/// The caller.
#[utoipa::path(
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = CurrentUser))
)]
#[get("/")]
async fn current_user(caller: Bearer<TokenForm>) -> HttpResponse {
    HttpResponse::Ok().json(CurrentUser {
        user: CreatedUser::from(&caller.user),
    })
}
