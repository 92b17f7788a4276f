//! Surface `opaque`: seed 002, opaque tokens with a sliding idle lifetime and
//! the document's French messages word for word.
//!
//! Two deliberate deviations from the seed: `get` never returns the password
//! or the token, and `delete` needs the user's own token or an admin's.

use actix_web::http::header::ContentType;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use sesame_tokens::TokensError;
use sesame_users::{FieldProblem, Registration, User, UsersError};

use super::login::{actor_of, client_actor, login_service, refusal};
use super::{body_fields, run, storage_failure};
use crate::auth::{authenticate, bearer_token};
use crate::body::BodyError;
use crate::client::client_info;
use crate::fields::Fields;
use crate::openapi::{empty_parameter_route, schemas as doc};
use crate::shape::{AuthFailure, ErrorShape, Shape};
use crate::time::rfc3339;
use crate::wire::FieldIssue;
use crate::{ApiError, AppState};
use sesame_tokens::Credentials;

/// `{"Erreur": "..."}`.
pub struct Opaque;

impl Opaque {
    fn error(status: StatusCode, message: &str) -> ApiError {
        ApiError::new(status, json!({ "Erreur": message }))
    }
}

impl Shape for Opaque {
    const DOCUMENTED: ErrorShape = ErrorShape::Opaque;

    fn message(status: StatusCode, message: &str) -> ApiError {
        Self::error(status, message)
    }

    fn invalid(issues: &[FieldIssue]) -> ApiError {
        let message = issues
            .iter()
            .map(|issue| format!("'{}' : {}", capitalized(&issue.field), issue.message()))
            .collect::<Vec<_>>()
            .join(" ; ");
        Self::error(StatusCode::BAD_REQUEST, &message)
    }

    fn refusal(status: StatusCode, _english: &str, french: &str, _code: &str) -> ApiError {
        Self::error(status, french)
    }

    fn unauthorized(failure: AuthFailure) -> ApiError {
        let message = match failure {
            AuthFailure::Missing => {
                "Authentification requise : fournissez le token de l'utilisateur"
            }
            AuthFailure::Invalid => "Token expiré : Veuillez vous authentifier à nouveau",
        };
        Self::error(StatusCode::UNAUTHORIZED, message).with_bearer_challenge()
    }

    fn body_error(error: BodyError) -> ApiError {
        match error {
            BodyError::TooLarge => Self::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Corps de la requête trop volumineux",
            ),
            BodyError::UnsupportedMediaType(_) => Self::error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Type de contenu non pris en charge : JSON attendu",
            ),
            _ => Self::error(
                StatusCode::BAD_REQUEST,
                "Corps de la requête invalide : JSON attendu",
            ),
        }
    }
}

fn capitalized(field: &str) -> String {
    let mut chars = field.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

const ACTIVATION_REQUIRED: &str = "Inscription impossible ici : les comptes doivent être activés par email. Inscrivez-vous avec POST /auth/users/ et une adresse email";
const EMPTY_USERNAME: &str = "Le nom d'utilisateur ne peut pas être vide";
const EMPTY_TOKEN: &str = "Le token ne peut pas être vide";
const UNKNOWN_TOKEN: &str = "Token inexistant : Ce token n'existe pas dans la base de données";
const EXPIRED_TOKEN: &str = "Token expiré : Veuillez vous authentifier à nouveau";
const REAUTHENTICATED: &str =
    "Authentification réussie & Token de nouveau valide. Veuillez réessayer.";

fn unknown_user(username: &str) -> ApiError {
    Opaque::error(
        StatusCode::NOT_FOUND,
        &format!("L'utilisateur {username} n'existe pas"),
    )
}

pub(super) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/auth/register", web::post().to(register))
        .route("/auth/get/{username}", web::get().to(get_user))
        .route("/auth/get/", web::get().to(empty_username))
        .route("/auth/get", web::get().to(empty_username))
        .route("/auth/delete/{username}", web::delete().to(delete_user))
        .route("/auth/delete/", web::delete().to(empty_username))
        .route("/auth/delete", web::delete().to(empty_username))
        .route("/auth/validate/{token}", web::get().to(validate))
        .route("/auth/validate/", web::get().to(empty_token))
        .route("/auth/validate", web::get().to(empty_token))
        .route("/auth/re-authenticate", web::post().to(re_authenticate));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(register, get_user, delete_user, validate, re_authenticate),
    modifiers(&EmptyParameterRoutes)
)]
pub(super) struct Api;

/// The routes with an empty username or token: always 400.
struct EmptyParameterRoutes;

impl utoipa::Modify for EmptyParameterRoutes {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::HttpMethod::{Delete, Get};
        for (method, path, id, message) in [
            (Get, "/auth/get/", "get_user_empty", EMPTY_USERNAME),
            (Get, "/auth/get", "get_user_empty_bare", EMPTY_USERNAME),
            (Delete, "/auth/delete/", "delete_user_empty", EMPTY_USERNAME),
            (
                Delete,
                "/auth/delete",
                "delete_user_empty_bare",
                EMPTY_USERNAME,
            ),
            (Get, "/auth/validate/", "validate_empty", EMPTY_TOKEN),
            (Get, "/auth/validate", "validate_empty_bare", EMPTY_TOKEN),
        ] {
            empty_parameter_route(api, method, path, id, message, "OpaqueError");
        }
    }
}

async fn fields(
    state: &AppState,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<Fields, ApiError> {
    body_fields::<Opaque>(state, request, payload).await
}

/// A string field; absent, `null` or not a string all read as empty.
fn text(fields: &mut Fields, name: &str) -> String {
    fields.optional(name).unwrap_or_default()
}

fn user_json(user: &User) -> serde_json::Value {
    json!({
        "id": user.id.0,
        "username": user.username,
        "creationDate": rfc3339(user.date_joined),
        "lastLoginDate": user.last_login.map(rfc3339),
    })
}

fn users_error(error: UsersError) -> ApiError {
    match error {
        UsersError::Storage(e) => storage_failure::<Opaque>(&e),
        other => Opaque::error(StatusCode::BAD_REQUEST, &other.to_string()),
    }
}

/// Create an account and get an opaque token.
#[utoipa::path(
    post,
    path = "/auth/register",
    request_body = doc::OpaqueCredentials,
    responses(
        (status = 200, description = "Created; the token of a new session", body = doc::OpaqueToken),
        (status = 400, description = "Username taken, empty username or password, or a weak password", body = doc::OpaqueError),
        (status = 403, description = "Accounts need email activation: register with `POST /auth/users/` and an email", body = doc::OpaqueError),
    )
)]
async fn register(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if state.accounts.settings().require_activation {
        return Err(Opaque::error(StatusCode::FORBIDDEN, ACTIVATION_REQUIRED));
    }
    let mut f = fields(&state, &request, payload).await?;
    let username = text(&mut f, "username");
    let password = text(&mut f, "password");
    if username.trim().is_empty() {
        return Err(Opaque::error(
            StatusCode::BAD_REQUEST,
            "'Username' ne peut pas être vide",
        ));
    }
    if password.is_empty() {
        return Err(Opaque::error(
            StatusCode::BAD_REQUEST,
            "'Password' ne peut pas être vide",
        ));
    }
    let client = client_info(&request, &state.settings);
    let state = state.into_inner();
    let token = run::<Opaque, _, _>(move || {
        let registration = Registration {
            username,
            password,
            ..Registration::default()
        };
        let user = state.accounts.register(registration).map_err(|e| match e {
            UsersError::Invalid(errors)
                if errors.iter().any(|e| e.problem == FieldProblem::Taken) =>
            {
                Opaque::error(
                    StatusCode::BAD_REQUEST,
                    "Le nom d'utilisateur est déjà pris",
                )
            }
            UsersError::Invalid(errors) => {
                Opaque::invalid(&errors.iter().map(FieldIssue::from).collect::<Vec<_>>())
            }
            other => users_error(other),
        })?;
        state
            .sessions
            .start_opaque_session(&user, client)
            .map_err(|e| storage_failure::<Opaque>(&e))
    })
    .await??;
    Ok(HttpResponse::Ok().json(json!({ "token": token })))
}

async fn empty_username() -> Result<HttpResponse, ApiError> {
    Err(Opaque::error(StatusCode::BAD_REQUEST, EMPTY_USERNAME))
}

async fn empty_token() -> Result<HttpResponse, ApiError> {
    Err(Opaque::error(StatusCode::BAD_REQUEST, EMPTY_TOKEN))
}

async fn find_user(state: &AppState, username: String) -> Result<User, ApiError> {
    if username.trim().is_empty() {
        return Err(Opaque::error(StatusCode::BAD_REQUEST, EMPTY_USERNAME));
    }
    let accounts = state.accounts.clone();
    let wanted = username.clone();
    match run::<Opaque, _, _>(move || accounts.get_by_username(&wanted)).await? {
        Ok(user) => Ok(user),
        Err(UsersError::NotFound) => Err(unknown_user(&username)),
        Err(other) => Err(users_error(other)),
    }
}

/// A user's public record.
#[utoipa::path(
    get,
    path = "/auth/get/{username}",
    params(("username" = String, Path)),
    responses(
        (status = 200, description = "The user", body = doc::OpaqueUser),
        (status = 400, description = "Empty username", body = doc::OpaqueError),
        (status = 404, description = "No such user", body = doc::OpaqueError),
    )
)]
async fn get_user(
    state: web::Data<AppState>,
    username: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = find_user(&state, username.into_inner()).await?;
    Ok(HttpResponse::Ok().json(user_json(&user)))
}

/// Only the user themselves (their token, of any kind) or an admin may delete.
#[utoipa::path(
    delete,
    path = "/auth/delete/{username}",
    params(("username" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted", body = doc::OpaqueDeleted),
        (status = 400, description = "Empty username", body = doc::OpaqueError),
        (status = 403, description = "Neither that user's token nor an admin's", body = doc::OpaqueError),
        (status = 404, description = "No such user", body = doc::OpaqueError),
    )
)]
async fn delete_user(
    state: web::Data<AppState>,
    request: HttpRequest,
    username: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let username = username.into_inner();
    if username.trim().is_empty() {
        return Err(Opaque::error(StatusCode::BAD_REQUEST, EMPTY_USERNAME));
    }
    let token = bearer_token(&request).ok_or_else(|| Opaque::unauthorized(AuthFailure::Missing))?;
    let caller = authenticate::<Opaque>(&state, token).await?;
    let target = find_user(&state, username).await?;
    if caller.user.id != target.id && !caller.user.is_staff {
        return Err(Opaque::error(
            StatusCode::FORBIDDEN,
            "Action non autorisée : seul l'utilisateur lui-même ou un administrateur peut le supprimer",
        ));
    }
    let actor = actor_of(&request, &state, caller.user.id);
    let accounts = state.accounts.clone();
    let id = target.id;
    run::<Opaque, _, _>(move || accounts.delete_unchecked(id, &actor))
        .await?
        .map_err(users_error)?;
    Ok(HttpResponse::Ok().json(json!({
        "Succès": format!("Utilisateur {} supprimé avec succès", target.username)
    })))
}

/// Answers the token's username as plain text, and restarts its idle clock.
#[utoipa::path(
    get,
    path = "/auth/validate/{token}",
    params(("token" = String, Path, description = "An opaque token")),
    responses(
        (status = 200, description = "The token's username", body = String, content_type = "text/plain"),
        (status = 400, description = "Empty token", body = doc::OpaqueError),
        (status = 401, description = "Expired (unused for too long) or revoked", body = doc::OpaqueError),
        (status = 404, description = "Unknown token", body = doc::OpaqueError),
    )
)]
async fn validate(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token = token.into_inner();
    if token.trim().is_empty() {
        return Err(Opaque::error(StatusCode::BAD_REQUEST, EMPTY_TOKEN));
    }
    let sessions = state.sessions.clone();
    match run::<Opaque, _, _>(move || sessions.validate_opaque(&token)).await? {
        Ok(authenticated) => Ok(HttpResponse::Ok()
            .content_type(ContentType::plaintext())
            .body(authenticated.user.username)),
        Err(TokensError::InvalidToken) => Err(Opaque::error(StatusCode::NOT_FOUND, UNKNOWN_TOKEN)),
        Err(TokensError::Storage(e)) => Err(storage_failure::<Opaque>(&e)),
        Err(_) => Err(Opaque::error(StatusCode::UNAUTHORIZED, EXPIRED_TOKEN)),
    }
}

/// Checks the password and makes the user's opaque tokens valid again.
#[utoipa::path(
    post,
    path = "/auth/re-authenticate",
    request_body = doc::OpaqueCredentials,
    responses(
        (status = 200, description = "`Authentification réussie & Token de nouveau valide. Veuillez réessayer.`", body = String, content_type = "text/plain"),
        (status = 400, description = "Username or password missing", body = doc::OpaqueError),
        (status = 401, description = "Wrong password, or a one-time code (`otp`) is missing or wrong", body = doc::OpaqueError),
        (status = 404, description = "No such user", body = doc::OpaqueError),
    )
)]
async fn re_authenticate(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let username = text(&mut f, "username");
    let password = text(&mut f, "password");
    let otp = f.optional("otp");
    if username.trim().is_empty() || password.is_empty() {
        return Err(Opaque::error(
            StatusCode::BAD_REQUEST,
            "Username et password sont requis",
        ));
    }
    let user = find_user(&state, username.clone()).await?;
    let actor = client_actor(client_info(&request, &state.settings));
    let login = login_service(&state);
    let state = state.into_inner();
    run::<Opaque, _, _>(move || {
        let credentials = Credentials {
            login: user.username.clone(),
            password,
            otp,
        };
        let user = login.check(&credentials, &actor).map_err(|e| {
            refusal::<Opaque>(
                e,
                Opaque::error(
                    StatusCode::UNAUTHORIZED,
                    "Échec de l'authentification : Nom d'utilisateur ou mot de passe incorrect",
                ),
            )
        })?;
        state
            .sessions
            .revive_opaque_sessions(user.id)
            .map_err(|e| storage_failure::<Opaque>(&e))
    })
    .await??;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body(REAUTHENTICATED))
}
