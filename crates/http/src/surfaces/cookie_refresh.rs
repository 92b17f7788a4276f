//! Surface `cookie_refresh`: seed 003. The access JWT travels in the body,
//! the refresh token in an HttpOnly, SameSite=Strict cookie scoped to
//! `/auth/refresh`. The seed gave no paths; these are Sesame's.

mod words;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{delete, post, web, HttpRequest, HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use sesame_kernel::secrets::token_hash;
use sesame_tokens::{Credentials, TokenPair, TokensError};
use sesame_users::{Registration, User, UsersError};
use utoipa::ToSchema;
use validator::{Validate, ValidationError, ValidationErrors};

use super::login::{log_in, refused_registration};
use super::{run, storage_failure};
use crate::client::Client;
use crate::declare::Part;
use crate::error_schemas as doc;
use crate::shape::Words;
use crate::wire::Body;
use crate::{ApiError, AppState, Shape};
pub use words::MessageShape;

/// The refresh cookie's name.
pub const REFRESH_COOKIE: &str = "refresh_token";
const REFRESH_PATH: &str = "/auth/refresh";
/// With Secure cookies, the digest of the refresh cookie this browser was
/// given, in a cookie no sibling subdomain can set or shadow (`__Host-`
/// needs `Path=/`, so the refresh cookie itself cannot have the prefix).
/// A refresh cookie a sibling planted, alone or beside the browser's own,
/// matches no binding and is passed over.
const BINDING_COOKIE: &str = "__Host-refresh_binding";

pub(super) fn part() -> Part {
    Part::new::<MessageShape>("cookie_refresh")
        .credential(signup)
        .credential(login)
        .credential(refresh)
        .route(logout)
}

/// A new account (seed 003).
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = cookie_refresh::Signup)]
struct Signup {
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

impl From<Signup> for Registration {
    fn from(body: Signup) -> Self {
        Registration {
            first_name: body.firstname.unwrap_or_default(),
            last_name: body.lastname.unwrap_or_default(),
            email: Some(body.email),
            username: body.username,
            password: body.password,
        }
    }
}

/// A created account (seed 003).
#[derive(Serialize, ToSchema)]
#[schema(as = cookie_refresh::User)]
struct CreatedUser {
    id: i64,
    firstname: String,
    lastname: String,
    #[schema(required = true)]
    email: Option<String>,
    username: String,
}

impl From<&User> for CreatedUser {
    fn from(user: &User) -> Self {
        CreatedUser {
            id: user.id.0,
            firstname: user.first_name.clone(),
            lastname: user.last_name.clone(),
            email: user.email.clone(),
            username: user.username.clone(),
        }
    }
}

/// Log in (seed 003): `login`, or else `username`, or else `email`, is
/// the username or email address.
#[derive(Deserialize, ToSchema)]
#[schema(as = cookie_refresh::Login)]
struct Login {
    /// A username or an email address.
    login: Option<String>,
    /// Read when `login` is absent.
    username: Option<String>,
    /// Read when `login` and `username` are absent.
    email: Option<String>,
    password: String,
    /// A TOTP code or an unused recovery code, for accounts with TOTP on.
    otp: Option<String>,
}

impl Login {
    fn login(&self) -> Option<&String> {
        self.login
            .as_ref()
            .or(self.username.as_ref())
            .or(self.email.as_ref())
    }
}

impl From<Login> for Credentials {
    fn from(body: Login) -> Self {
        Credentials {
            login: body.login().cloned().unwrap_or_default(),
            password: body.password,
            otp: body.otp,
        }
    }
}

impl Validate for Login {
    fn validate(&self) -> Result<(), ValidationErrors> {
        if self.login().is_some() {
            return Ok(());
        }
        let mut errors = ValidationErrors::new();
        errors.add("login", ValidationError::new("required"));
        Err(errors)
    }
}

impl Words<UsersError> for MessageShape {
    fn word(error: UsersError) -> ApiError {
        let taken = MessageShape::message(StatusCode::CONFLICT, "Username or email already taken");
        refused_registration::<MessageShape>(error, taken)
    }
}

/// An access JWT.
#[derive(Serialize, ToSchema)]
#[schema(as = cookie_refresh::AccessToken)]
struct AccessToken {
    token: String,
}

/// Create an account.
#[utoipa::path(
    request_body = Signup,
    responses(
        (status = 201, description = "Created", body = CreatedUser),
        (status = 400, description = "Missing or bad fields, or a weak password", body = doc::MessageError),
        (status = 409, description = "`Username or email already taken`", body = doc::MessageError),
    )
)]
#[post("/auth/signup")]
async fn signup(
    state: web::Data<AppState>,
    body: Body<Signup, MessageShape>,
) -> Result<HttpResponse, ApiError> {
    let registration = Registration::from(body.into_inner());
    let user = MessageShape::call(&state.accounts, move |a| a.register(registration)).await?;
    Ok(HttpResponse::Created().json(CreatedUser::from(&user)))
}

/// A browser request from another origin that CORS does not allow: refused
/// before the refresh cookie is set or read, or a sibling subdomain
/// (`evil.example.com`) could log the browser into an account of its
/// choosing.
fn refused_cross_origin(state: &AppState, request: &HttpRequest) -> Result<(), ApiError> {
    let headers = request.headers();
    let origin = headers.get("origin").and_then(|o| o.to_str().ok());
    let cross = sesame_kernel::audit::cross_origin(
        headers.get("sec-fetch-site").map(|site| site.as_bytes()),
        origin,
        state.settings.public_origin.as_deref(),
        crate::client::host(request),
    );
    let allowed = || {
        let allowed = &state.settings.cors_allowed_origins;
        origin.is_some_and(|o| allowed.iter().any(|a| a == o))
    };
    if cross && !allowed() {
        return Err(MessageShape::message(
            StatusCode::FORBIDDEN,
            "Cross-origin requests may not use the refresh cookie",
        ));
    }
    Ok(())
}

fn refresh_cookie(state: &AppState, value: String, max_age: i64) -> Cookie<'static> {
    cookie(state, REFRESH_COOKIE, REFRESH_PATH, value, max_age)
}

fn binding_cookie(state: &AppState, refresh_token: &str, max_age: i64) -> Cookie<'static> {
    cookie(
        state,
        BINDING_COOKIE,
        "/",
        token_hash(refresh_token),
        max_age,
    )
}

fn cookie(
    state: &AppState,
    name: &'static str,
    path: &'static str,
    value: String,
    max_age: i64,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.settings.secure_cookies)
        .max_age(CookieDuration::seconds(max_age))
        .finish()
}

fn token_answer(state: &AppState, pair: TokenPair) -> HttpResponse {
    let max_age = state.sessions.settings().refresh_ttl.num_seconds();
    let mut answer = HttpResponse::Ok();
    if state.settings.secure_cookies {
        answer.cookie(binding_cookie(state, &pair.refresh, max_age));
    }
    answer
        .cookie(refresh_cookie(state, pair.refresh, max_age))
        .json(AccessToken { token: pair.access })
}

/// The refresh token the browser sent: with Secure cookies, the one whose
/// digest its binding cookie holds. Names are compared as sent, never
/// percent-decoded (`__Host%2D…` is another cookie to the browser).
fn sent_refresh_token(state: &AppState, request: &HttpRequest) -> Option<String> {
    let cookies = request.cookies_raw().ok()?;
    let mut sent = (cookies.iter()).filter(|cookie| cookie.name() == REFRESH_COOKIE);
    if !state.settings.secure_cookies {
        return sent.next().map(|cookie| cookie.value().to_owned());
    }
    let binding = cookies
        .iter()
        .find(|cookie| cookie.name() == BINDING_COOKIE)?;
    sent.find(|cookie| token_hash(cookie.value()) == binding.value())
        .map(|cookie| cookie.value().to_owned())
}

/// `response`, telling the browser to drop the refresh cookie (and its binding).
fn without_cookies(state: &AppState, mut response: HttpResponse) -> HttpResponse {
    let _ = response.add_removal_cookie(&refresh_cookie(state, String::new(), 0));
    if state.settings.secure_cookies {
        let _ = response.add_removal_cookie(&binding_cookie(state, "", 0));
    }
    response
}

/// Log in: the access JWT in the body, the refresh token in a cookie.
#[utoipa::path(
    request_body = Login,
    responses(
        (status = 200, description = "Logged in", body = AccessToken, headers(
            ("Set-Cookie" = String, description = "`refresh_token`: HttpOnly, SameSite=Strict, Path=/auth/refresh; with Secure cookies also `__Host-refresh_binding`, its digest")
        )),
        (status = 401, description = "`Username or password is incorrect`, or a one-time code (`otp`) is missing or wrong", body = doc::MessageError),
        (status = 403, description = "A browser request from an origin CORS does not allow", body = doc::MessageError),
    )
)]
#[post("/auth/login")]
async fn login(
    state: web::Data<AppState>,
    request: HttpRequest,
    client: Client,
    body: Body<Login, MessageShape>,
) -> Result<HttpResponse, ApiError> {
    refused_cross_origin(&state, &request)?;
    let pair = log_in::<MessageShape>(&state, body.into_inner().into(), client, || {
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
    params(("refresh_token" = Option<String>, Cookie, description = "Set by `/auth/login`")),
    responses(
        (status = 200, description = "A new access token; the cookie is rotated", body = AccessToken, headers(
            ("Set-Cookie" = String, description = "The rotated `refresh_token`")
        )),
        (status = 401, description = "No cookie, or an invalid, expired, revoked or reused one (the cookie is cleared)", body = doc::MessageError),
        (status = 403, description = "A browser request from an origin CORS does not allow", body = doc::MessageError),
    )
)]
#[post("/auth/refresh")]
async fn refresh(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    refused_cross_origin(&state, &request)?;
    let refused = |message: &str| {
        let response = MessageShape::message(StatusCode::UNAUTHORIZED, message).error_response();
        without_cookies(&state, response)
    };
    let Some(token) = sent_refresh_token(&state, &request) else {
        return Ok(refused("Refresh token missing"));
    };
    let sessions = state.sessions.clone();
    match run::<MessageShape, _, _>(move || sessions.refresh(&token)).await? {
        Ok(pair) => Ok(token_answer(&state, pair)),
        Err(TokensError::Storage(e)) => Err(storage_failure::<MessageShape>(&e)),
        Err(_) => Ok(refused("Invalid or expired refresh token")),
    }
}

/// Log out: ends the session of the refresh cookie, and clears the cookie,
/// which the browser's script cannot reach. The same answer when there is
/// no cookie, or no cookie `/auth/refresh` would use (with Secure cookies,
/// one without its binding), or its session is over already.
#[utoipa::path(
    params(("refresh_token" = Option<String>, Cookie, description = "Set by `/auth/login`")),
    responses(
        (status = 204, description = "The session the cookie proves, if any, is over; the cookie is cleared", headers(
            ("Set-Cookie" = String, description = "Removes `refresh_token`")
        )),
        (status = 403, description = "A browser request from an origin CORS does not allow", body = doc::MessageError),
    )
)]
#[delete("/auth/refresh")]
async fn logout(
    state: web::Data<AppState>,
    request: HttpRequest,
    client: Client,
) -> Result<HttpResponse, ApiError> {
    refused_cross_origin(&state, &request)?;
    if let Some(token) = sent_refresh_token(&state, &request) {
        let sessions = state.sessions.clone();
        let actor = client.anonymous();
        let ended = run::<MessageShape, _, _>(move || sessions.end_refreshable(&token, &actor));
        if let Err(TokensError::Storage(e)) = ended.await? {
            return Err(storage_failure::<MessageShape>(&e));
        }
    }
    Ok(without_cookies(&state, HttpResponse::NoContent().finish()))
}
