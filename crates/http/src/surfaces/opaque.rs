//! Surface `opaque`: seed 002, opaque tokens with a sliding idle lifetime and
//! the document's French messages word for word.
//!
//! Two deliberate deviations from the seed: `get` never returns the password
//! or the token, and `delete` needs the user's own token or an admin's.

mod french;

use actix_web::http::StatusCode;
use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use sesame_tokens::{ClientInfo, Credentials, LoginService, Revival, TokensError};
use sesame_users::{Registration, User, UsersError};
use utoipa::ToSchema;
use validator::Validate;

use super::login::refusal;
use super::{run, storage_failure};
use crate::client::Client;
use crate::declare::Part;
use crate::error_schemas as doc;
use crate::shape::Words;
use crate::time::rfc3339;
use crate::wire::{Body, FieldIssue};
use crate::{ApiError, AppState, Bearer, Shape};
use french::BothRequired;
pub use french::Opaque;

const EMPTY_USERNAME: &str = "Le nom d'utilisateur ne peut pas être vide";
const EMPTY_TOKEN: &str = "Le token ne peut pas être vide";
const REQUIRED: &str = "Username et password sont requis";
const REAUTHENTICATED: &str =
    "Authentification réussie & Token de nouveau valide. Veuillez réessayer.";

pub(super) fn part() -> Part {
    Part::new::<Opaque>("opaque")
        .credential(register)
        .route(get_user)
        .route(get_user_empty)
        .route(get_user_empty_bare)
        .route(delete_user)
        .route(delete_user_empty)
        .route(delete_user_empty_bare)
        .route(validate)
        .route(validate_empty)
        .route(validate_empty_bare)
        .credential(re_authenticate)
}

/// A username and a password (seed 002).
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = opaque::NewAccount)]
struct NewAccount {
    /// 1..=150 letters of one script, digits and `@ . + - _`; unique ignoring
    /// case and compatibility forms (NFKC). Empty or blank gets 400.
    #[schema(min_length = 1, max_length = 150, pattern = r"^[\w.@+-]+$")]
    username: String,
    /// 8..=128 characters, not common, not built from the username. Empty gets 400.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
}

/// A user's credentials, to revive their tokens (seed 002).
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = opaque::Reauthentication)]
struct Reauthentication {
    #[schema(min_length = 1)]
    username: String,
    #[schema(min_length = 1)]
    password: String,
    /// A TOTP code or an unused recovery code, for accounts with TOTP on.
    otp: Option<String>,
}

/// An opaque token (at least 128 random bits; valid while used at least hourly).
#[derive(Serialize, ToSchema)]
#[schema(as = opaque::Token)]
struct Token {
    token: String,
}

/// A user as this surface shows it (never the password or the token).
#[derive(Serialize, ToSchema)]
#[schema(as = opaque::User)]
#[serde(rename_all = "camelCase")]
struct PublicUser {
    id: i64,
    username: String,
    #[schema(format = DateTime)]
    creation_date: String,
    #[schema(required = true, format = DateTime)]
    last_login_date: Option<String>,
}

impl From<&User> for PublicUser {
    fn from(user: &User) -> Self {
        PublicUser {
            id: user.id.0,
            username: user.username.clone(),
            creation_date: rfc3339(user.date_joined),
            last_login_date: user.last_login.map(rfc3339),
        }
    }
}

/// A deletion, confirmed in French.
#[derive(Serialize, ToSchema)]
#[schema(as = opaque::Deleted, example = json!({"Succès": "Utilisateur bob supprimé avec succès"}))]
struct Deleted {
    #[serde(rename = "Succès")]
    success: String,
}

impl Words<UsersError> for Opaque {
    fn word(error: UsersError) -> ApiError {
        match error {
            taken if taken.is_taken() => Opaque::message(
                StatusCode::BAD_REQUEST,
                "Le nom d'utilisateur est déjà pris",
            ),
            UsersError::Invalid(errors) => {
                Opaque::invalid(&errors.iter().map(FieldIssue::from).collect::<Vec<_>>())
            }
            // This surface's one refusal of the kind: deleting another's
            // account, or an admin's without the password.
            UsersError::Forbidden => Opaque::message(
                StatusCode::FORBIDDEN,
                "Action non autorisée : seul l'utilisateur lui-même ou un administrateur peut le supprimer, et un compte administrateur se supprime avec son mot de passe (DELETE /auth/users/{id}/)",
            ),
            UsersError::ActivationNeedsEmail => Opaque::message(
                StatusCode::FORBIDDEN,
                "Inscription impossible ici : les comptes doivent être activés par email. Inscrivez-vous avec POST /auth/users/ et une adresse email",
            ),
            UsersError::Storage(e) => storage_failure::<Opaque>(&e),
            _ => Opaque::message(StatusCode::BAD_REQUEST, "Requête refusée"),
        }
    }
}

impl Words<TokensError> for Opaque {
    fn word(error: TokensError) -> ApiError {
        match error {
            TokensError::InvalidToken => Opaque::message(
                StatusCode::NOT_FOUND,
                "Token inexistant : Ce token n'existe pas dans la base de données",
            ),
            TokensError::TokenExpired
            | TokensError::SessionRevoked
            | TokensError::AccountInactive => {
                Opaque::message(StatusCode::UNAUTHORIZED, french::EXPIRED_TOKEN)
            }
            TokensError::Storage(e) => storage_failure::<Opaque>(&e),
            login => refusal::<Opaque>(
                login,
                Opaque::message(
                    StatusCode::UNAUTHORIZED,
                    "Échec de l'authentification : Nom d'utilisateur ou mot de passe incorrect",
                ),
            ),
        }
    }
}

/// An account error about the user named `username`, who may not exist.
fn about(username: &str) -> impl FnOnce(UsersError) -> ApiError + '_ {
    move |error| match error {
        UsersError::NotFound => Opaque::message(
            StatusCode::NOT_FOUND,
            &format!("L'utilisateur {username} n'existe pas"),
        ),
        other => Opaque::word(other),
    }
}

/// Create an account and get an opaque token.
#[utoipa::path(
    request_body = NewAccount,
    responses(
        (status = 200, description = "Created; the token of a new session", body = Token),
        (status = 400, description = "Username taken, empty username or password, or a weak password", body = doc::OpaqueError),
        (status = 403, description = "Accounts need email activation: register with `POST /auth/users/` and an email", body = doc::OpaqueError),
    )
)]
#[post("/auth/register")]
async fn register(
    state: web::Data<AppState>,
    client: Client,
    body: Body<NewAccount, Opaque>,
) -> Result<HttpResponse, ApiError> {
    let NewAccount { username, password } = body.into_inner();
    // The seed checks the fields one after the other, the username first.
    for (field, value) in [("username", username.trim()), ("password", &password)] {
        if value.is_empty() {
            let message = french::empty(field);
            return Err(Opaque::message(StatusCode::BAD_REQUEST, &message));
        }
    }
    let registration = Registration {
        username,
        password,
        ..Registration::default()
    };
    let (accounts, sessions) = (state.accounts.clone(), state.sessions.clone());
    let client = ClientInfo::from(&client.0);
    // One trip to the blocking pool for both steps.
    let token = run::<Opaque, _, _>(move || {
        let user = accounts.register(registration).map_err(Opaque::word)?;
        sessions
            .start_opaque_session(&user, client, Revival::OnReauthentication)
            .map_err(Opaque::word)
    })
    .await??;
    Ok(HttpResponse::Ok().json(Token { token }))
}

async fn find_user(state: &AppState, username: String) -> Result<User, ApiError> {
    if username.trim().is_empty() {
        return Err(Opaque::message(StatusCode::BAD_REQUEST, EMPTY_USERNAME));
    }
    let accounts = state.accounts.clone();
    let wanted = username.clone();
    run::<Opaque, _, _>(move || accounts.get_by_username(&wanted))
        .await?
        .map_err(about(&username))
}

/// A user's public record.
#[utoipa::path(
    params(("username" = String, Path)),
    responses(
        (status = 200, description = "The user", body = PublicUser),
        (status = 400, description = "Empty username", body = doc::OpaqueError),
        (status = 404, description = "No such user", body = doc::OpaqueError),
    )
)]
#[get("/auth/get/{username}")]
async fn get_user(
    state: web::Data<AppState>,
    username: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = find_user(&state, username.into_inner()).await?;
    Ok(HttpResponse::Ok().json(PublicUser::from(&user)))
}

/// Only the user themselves (their token, of any kind) or an admin may
/// delete; an admin's account (one's own too) only through the primary
/// surface, with the password.
#[utoipa::path(
    params(("username" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 400, description = "Empty username", body = doc::OpaqueError),
        (status = 403, description = "Neither that user's token nor an admin's; or an admin's account (one's own too), which `DELETE /auth/users/{id}/` deletes with the admin's password", body = doc::OpaqueError),
        (status = 404, description = "No such user", body = doc::OpaqueError),
    )
)]
#[delete("/auth/delete/{username}")]
async fn delete_user(
    state: web::Data<AppState>,
    client: Client,
    caller: Bearer<Opaque>,
    username: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let target = find_user(&state, username.into_inner()).await?;
    let actor = client.acting_as(caller.user.id);
    let (accounts, id) = (state.accounts.clone(), target.id);
    run::<Opaque, _, _>(move || accounts.delete_as(&caller.user, id, &actor))
        .await?
        .map_err(about(&target.username))?;
    Ok(HttpResponse::Ok().json(Deleted {
        success: format!("Utilisateur {} supprimé avec succès", target.username),
    }))
}

/// Answers the token's username as plain text, and restarts its idle clock.
#[utoipa::path(
    params(("token" = String, Path, description = "An opaque token")),
    responses(
        (status = 200, description = "The token's username", body = String, content_type = "text/plain"),
        (status = 400, description = "Empty token", body = doc::OpaqueError),
        (status = 401, description = "Expired (unused for too long) or revoked", body = doc::OpaqueError),
        (status = 404, description = "Unknown token", body = doc::OpaqueError),
    )
)]
#[get("/auth/validate/{token}")]
async fn validate(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<String, ApiError> {
    let token = token.into_inner();
    if token.trim().is_empty() {
        return Err(Opaque::message(StatusCode::BAD_REQUEST, EMPTY_TOKEN));
    }
    let authenticated = Opaque::call(&state.sessions, move |s| s.validate_opaque(&token)).await?;
    Ok(authenticated.user.username)
}

/// Checks the password and makes the user's opaque tokens valid again.
#[utoipa::path(
    request_body = Reauthentication,
    responses(
        (status = 200, description = "`Authentification réussie & Token de nouveau valide. Veuillez réessayer.`", body = String, content_type = "text/plain"),
        (status = 400, description = "Username or password missing", body = doc::OpaqueError),
        (status = 401, description = "Wrong password, or a one-time code (`otp`) is missing or wrong", body = doc::OpaqueError),
        (status = 404, description = "No such user", body = doc::OpaqueError),
    )
)]
#[post("/auth/re-authenticate")]
async fn re_authenticate(
    state: web::Data<AppState>,
    client: Client,
    body: Body<Reauthentication, BothRequired>,
) -> Result<&'static str, ApiError> {
    let Reauthentication {
        username,
        password,
        otp,
    } = body.into_inner();
    if username.trim().is_empty() || password.is_empty() {
        return Err(Opaque::message(StatusCode::BAD_REQUEST, REQUIRED));
    }
    let user = find_user(&state, username).await?;
    let credentials = Credentials {
        login: user.username,
        password,
        otp,
    };
    let actor = client.anonymous();
    let sessions = state.sessions.clone();
    let revive = move |login: &LoginService| {
        let user = login.check(&credentials, &actor)?;
        sessions.revive_opaque_sessions(user.id)
    };
    Opaque::call(&state.login, revive).await?;
    Ok(REAUTHENTICATED)
}

/// Declares the forms of a route with its path parameter left empty
/// (`/auth/get/` and `/auth/get` beside `/auth/get/{username}`): each
/// always answers 400 with the seed's words for the empty parameter.
macro_rules! empty_parameter {
    ($($name:ident: $method:ident $path:literal => $message:expr;)+) => {$(
        /// The same route with the path parameter left empty.
        #[utoipa::path(responses((
            status = 400,
            description = format!("Always: `{}`", $message),
            body = doc::OpaqueError,
        )))]
        #[$method($path)]
        async fn $name() -> Result<HttpResponse, ApiError> {
            Err(Opaque::message(StatusCode::BAD_REQUEST, $message))
        }
    )+};
}

empty_parameter! {
    get_user_empty: get "/auth/get/" => EMPTY_USERNAME;
    get_user_empty_bare: get "/auth/get" => EMPTY_USERNAME;
    delete_user_empty: delete "/auth/delete/" => EMPTY_USERNAME;
    delete_user_empty_bare: delete "/auth/delete" => EMPTY_USERNAME;
    validate_empty: get "/auth/validate/" => EMPTY_TOKEN;
    validate_empty_bare: get "/auth/validate" => EMPTY_TOKEN;
}
