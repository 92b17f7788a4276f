//! Passkeys (API.md "Passkeys"), in the primary surface's shapes: register
//! and list your passkeys, remove one with your password, and log in with
//! one, with or without a username. Options and responses are WebAuthn
//! Level 3 JSON, passed between the browser and [`sesame_tokens::PasskeyService`].

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sesame_tokens::{LoggedIn, NewSession, SessionKind, StoredPasskey, TokensError};
use utoipa::ToSchema;

use super::login::{actor_of, client_actor};
use super::primary::{checked, users_error};
use super::{run, storage_failure, Drf};
use crate::body::read_object;
use crate::client::client_info;
use crate::fields::{Fields, IssueKind};
use crate::openapi::schemas as doc;
use crate::time::rfc3339;
use crate::{ApiError, AppState, Bearer, Shape};

type Authenticated = Bearer<Drf>;

pub(super) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/auth/passkeys/", web::get().to(list_passkeys))
        .route("/auth/passkeys/{id}/", web::delete().to(remove_passkey))
        .route(
            "/auth/passkeys/register/begin/",
            web::post().to(register_begin),
        )
        .route(
            "/auth/passkeys/register/finish/",
            web::post().to(register_finish),
        )
        .route("/auth/passkeys/login/begin/", web::post().to(login_begin))
        .route("/auth/passkeys/login/finish/", web::post().to(login_finish));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    register_begin,
    register_finish,
    list_passkeys,
    remove_passkey,
    login_begin,
    login_finish
))]
pub(super) struct Api;

/// A passkey as the API shows it.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct Passkey {
    id: String,
    /// What the owner named it, or `Passkey`.
    name: String,
    #[schema(format = DateTime)]
    created_at: String,
    /// When it last logged in.
    #[schema(format = DateTime, required = true)]
    last_used_at: Option<String>,
}

/// WebAuthn options, as `PublicKeyCredential.parseCreationOptionsFromJSON`
/// or `parseRequestOptionsFromJSON` read them (binary members unpadded base64url).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct PasskeyOptions {
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    public_key: Value,
}

/// The browser's `credential.toJSON()` after `navigator.credentials.create()`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct PasskeyRegistration {
    #[schema(value_type = Object)]
    credential: Value,
    /// A name to recognise it by (at most 64 characters); default `Passkey`.
    name: Option<String>,
}

/// Who is logging in; without it, a discoverable passkey names its user.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct PasskeyLoginBegin {
    username: Option<String>,
}

/// The browser's `credential.toJSON()` after `navigator.credentials.get()`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct PasskeyLogin {
    #[schema(value_type = Object)]
    credential: Value,
}

/// The caller's current password.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct PasskeyRemoval {
    current_password: String,
}

fn passkey_json(passkey: &StoredPasskey) -> Value {
    json!({
        "id": passkey.id,
        "name": passkey.name,
        "created_at": rfc3339(passkey.created_at),
        "last_used_at": passkey.last_used_at.map(rfc3339),
    })
}

fn no_active_account() -> ApiError {
    Drf::coded(
        StatusCode::UNAUTHORIZED,
        "No active account found with the given credentials",
        "no_active_account",
    )
}

fn field_error(field: &str, message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, json!({ field: [message] }))
}

fn passkey_error(error: TokensError) -> ApiError {
    match error {
        TokensError::PasskeyRejected(reason) => field_error(
            "credential",
            &format!("The passkey response was refused: {reason}."),
        ),
        TokensError::PasskeyExists => {
            field_error("credential", "This passkey is already registered.")
        }
        TokensError::PasskeyNameInvalid => field_error(
            "name",
            "Ensure this field has no more than 64 characters and no control characters.",
        ),
        TokensError::PasskeyNotFound => Drf::message(StatusCode::NOT_FOUND, "Not found."),
        TokensError::LoginRefused => no_active_account(),
        TokensError::Users(e) => users_error(e),
        other => storage_failure::<Drf>(&other),
    }
}

/// The body's fields, and its `credential` object (`None` with the issue
/// recorded when it is missing or not an object).
async fn with_credential(
    state: &AppState,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<(Fields, Value), ApiError> {
    let mut map: Map<String, Value> = read_object(request, payload, state.settings.max_json_bytes)
        .await
        .map_err(Drf::body_error)?;
    let credential = map.remove("credential");
    let mut fields = Fields::new(map);
    let credential = match credential {
        Some(credential @ Value::Object(_)) => credential,
        None => {
            fields.issue("credential", IssueKind::Missing, "This field is required.");
            Value::Null
        }
        Some(_) => {
            fields.issue(
                "credential",
                IssueKind::WrongType,
                "Expected a PublicKeyCredential as JSON (credential.toJSON()).",
            );
            Value::Null
        }
    };
    Ok((fields, credential))
}

/// Begin registering a passkey: creation options for `navigator.credentials.create()`.
#[utoipa::path(
    post,
    path = "/auth/passkeys/register/begin/",
    security(("bearer" = [])),
    responses((status = 200, description = "Creation options, valid for 5 minutes", body = PasskeyOptions))
)]
async fn register_begin(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let passkeys = state.passkeys.clone();
    let options = run::<Drf, _, _>(move || passkeys.begin_registration(&caller.user))
        .await?
        .map_err(passkey_error)?;
    Ok(HttpResponse::Ok().json(options))
}

/// Finish registering a passkey with the browser's response.
#[utoipa::path(
    post,
    path = "/auth/passkeys/register/finish/",
    request_body = PasskeyRegistration,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The passkey", body = Passkey),
        (status = 400, description = "A bad, replayed or lapsed response, another origin or relying party id, a passkey already registered, or bad fields", body = doc::DrfBadRequest),
    )
)]
async fn register_finish(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (mut f, credential) = with_credential(&state, &request, payload).await?;
    let name = f.optional("name");
    checked(f)?;
    let actor = actor_of(&request, &state, caller.user.id);
    let passkeys = state.passkeys.clone();
    let passkey = run::<Drf, _, _>(move || {
        passkeys.finish_registration(&caller.user, &credential, name.as_deref(), &actor)
    })
    .await?
    .map_err(passkey_error)?;
    Ok(HttpResponse::Created().json(passkey_json(&passkey)))
}

/// The caller's passkeys, oldest first.
#[utoipa::path(
    get,
    path = "/auth/passkeys/",
    security(("bearer" = [])),
    responses((status = 200, description = "The passkeys", body = [Passkey]))
)]
async fn list_passkeys(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let passkeys = state.passkeys.clone();
    let list = run::<Drf, _, _>(move || passkeys.list(caller.user.id))
        .await?
        .map_err(passkey_error)?;
    Ok(HttpResponse::Ok().json(list.iter().map(passkey_json).collect::<Vec<_>>()))
}

/// Remove one of the caller's passkeys; needs the current password.
#[utoipa::path(
    delete,
    path = "/auth/passkeys/{id}/",
    params(("id" = String, Path, description = "A passkey id")),
    request_body = PasskeyRemoval,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Wrong password, or bad fields", body = doc::DrfBadRequest),
        (status = 404, description = "Not one of the caller's passkeys", body = doc::DrfError),
    )
)]
async fn remove_passkey(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let mut f = super::body_fields::<Drf>(&state, &request, payload).await?;
    let password = f.required("current_password");
    checked(f)?;
    let id = id.into_inner();
    let actor = actor_of(&request, &state, caller.user.id);
    let passkeys = state.passkeys.clone();
    run::<Drf, _, _>(move || passkeys.remove(&caller.user, &id, &password, &actor))
        .await?
        .map_err(passkey_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Begin a passkey login: request options for `navigator.credentials.get()`.
#[utoipa::path(
    post,
    path = "/auth/passkeys/login/begin/",
    request_body = PasskeyLoginBegin,
    responses(
        (status = 200, description = "Request options, valid for 5 minutes (the same shape for a name that names no account)", body = PasskeyOptions),
        (status = 400, description = "Bad fields", body = doc::DrfBadRequest),
    )
)]
async fn login_begin(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut f = super::body_fields::<Drf>(&state, &request, payload).await?;
    let username = f.optional("username").filter(|u| !u.trim().is_empty());
    checked(f)?;
    let passkeys = state.passkeys.clone();
    let options = run::<Drf, _, _>(move || passkeys.begin_login(username.as_deref()))
        .await?
        .map_err(passkey_error)?;
    Ok(HttpResponse::Ok().json(options))
}

/// Log in with a passkey: a JWT pair, as `/auth/jwt/create/` gives.
#[utoipa::path(
    post,
    path = "/auth/passkeys/login/finish/",
    request_body = PasskeyLogin,
    responses(
        (status = 200, description = "Logged in", body = doc::JwtPair),
        (status = 400, description = "Not an authentication response, or bad fields", body = doc::DrfBadRequest),
        (status = 401, description = "`no_active_account`: a bad, replayed or lapsed response, an unknown passkey, or an inactive account", body = doc::DrfError),
    )
)]
async fn login_finish(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (f, credential) = with_credential(&state, &request, payload).await?;
    checked(f)?;
    let actor = client_actor(client_info(&request, &state.settings));
    let passkeys = state.passkeys.clone();
    let logged_in =
        run::<Drf, _, _>(move || passkeys.finish_login(&credential, &actor, SessionKind::Jwt))
            .await?
            .map_err(|e| {
                if matches!(e, TokensError::LoginRefused) {
                    state.metrics.login_failed();
                }
                passkey_error(e)
            })?;
    match logged_in {
        LoggedIn {
            session: NewSession::Jwt(pair),
            ..
        } => Ok(HttpResponse::Ok().json(json!({"access": pair.access, "refresh": pair.refresh}))),
        LoggedIn { .. } => Err(Drf::unavailable()),
    }
}
