//! Passkeys (API.md "Passkeys"), in the primary surface's shapes: register
//! and list your passkeys, remove one with your password, and log in with
//! one, with or without a username. Options and responses are WebAuthn
//! Level 3 JSON, passed between the browser and [`sesame_tokens::PasskeyService`].

use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sesame_tokens::{LoggedIn, NewSession, SessionKind, StoredPasskey, TokensError};
use utoipa::ToSchema;
use validator::Validate;

use super::primary::{done_as, Authenticated, JwtPair};
use super::{run, Drf};
use crate::auth::Authed;
use crate::client::Client;
use crate::declare::Part;
use crate::error_schemas as doc;
use crate::shape::Words;
use crate::time::rfc3339;
use crate::wire::Body;
use crate::{ApiError, AppState, Shape};

/// The routes of this surface; matched before primary's `/auth/users/{id}/`
/// like account_security's, though no path of theirs overlaps.
pub(super) fn part() -> Part {
    Part::new::<Drf>("passkeys")
        .credential(register_begin)
        .credential(register_finish)
        .route(list_passkeys)
        .credential(remove_passkey)
        .credential(login_begin)
        .credential(login_finish)
}

/// A passkey as the API shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = passkeys::Passkey)]
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

impl From<&StoredPasskey> for Passkey {
    fn from(passkey: &StoredPasskey) -> Self {
        Passkey {
            id: passkey.id.clone(),
            name: passkey.name.clone(),
            created_at: rfc3339(passkey.created_at),
            last_used_at: passkey.last_used_at.map(rfc3339),
        }
    }
}

/// WebAuthn options, as `PublicKeyCredential.parseCreationOptionsFromJSON`
/// or `parseRequestOptionsFromJSON` read them (binary members unpadded base64url).
#[derive(Serialize, ToSchema)]
#[schema(as = passkeys::PasskeyOptions)]
struct PasskeyOptions {
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    public_key: Value,
}

impl From<Value> for PasskeyOptions {
    /// The service's `{"publicKey": ...}`.
    fn from(mut options: Value) -> Self {
        PasskeyOptions {
            public_key: options
                .get_mut("publicKey")
                .map(Value::take)
                .unwrap_or_default(),
        }
    }
}

/// The browser's `credential.toJSON()` after `navigator.credentials.create()`.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = passkeys::PasskeyRegistration)]
struct PasskeyRegistration {
    /// A `PublicKeyCredential` with an `AuthenticatorAttestationResponse`.
    #[schema(value_type = Object)]
    credential: Value,
    /// A name to recognise it by (at most 64 characters); default `Passkey`.
    name: Option<String>,
}

/// Who is logging in; without it, a discoverable passkey names its user.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = passkeys::PasskeyLoginBegin)]
struct PasskeyLoginBegin {
    username: Option<String>,
}

/// The browser's `credential.toJSON()` after `navigator.credentials.get()`.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = passkeys::PasskeyLogin)]
struct PasskeyLogin {
    /// A `PublicKeyCredential` with an `AuthenticatorAssertionResponse`.
    #[schema(value_type = Object)]
    credential: Value,
}

/// The caller's current password, which adding or removing a passkey needs.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = passkeys::CurrentPassword)]
struct CurrentPassword {
    current_password: String,
}

/// The caller's current password and, with TOTP on, a code: what adding a
/// passkey needs.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = passkeys::PasskeyRegistrationStart)]
struct PasskeyRegistrationStart {
    current_password: String,
    /// A TOTP code or an unused recovery code, for accounts with TOTP on.
    code: Option<String>,
}

/// Begin registering a passkey, confirmed with the caller's password (and,
/// with TOTP on, a code): creation options for `navigator.credentials.create()`.
#[utoipa::path(
    request_body = PasskeyRegistrationStart,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Creation options, valid for 5 minutes", body = PasskeyOptions),
        (status = 400, description = "Wrong password, a missing or wrong code, 20 passkeys already, or bad fields", body = doc::DrfBadRequest),
    )
)]
#[post("/auth/passkeys/register/begin/")]
async fn register_begin(
    state: web::Data<AppState>,
    Authed(caller, body): Authed<Drf, Body<PasskeyRegistrationStart, Drf>>,
) -> Result<HttpResponse, ApiError> {
    let PasskeyRegistrationStart {
        current_password,
        code,
    } = body.into_inner();
    let options = Drf::call(&state.passkeys, move |p| {
        p.begin_registration(&caller.user, &current_password, code.as_deref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(PasskeyOptions::from(options)))
}

/// Finish registering a passkey with the browser's response.
#[utoipa::path(
    request_body = PasskeyRegistration,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The passkey", body = Passkey),
        (status = 400, description = "A bad, replayed or lapsed response, another origin or relying party id, a passkey already registered, or bad fields", body = doc::DrfBadRequest),
    )
)]
#[post("/auth/passkeys/register/finish/")]
async fn register_finish(
    state: web::Data<AppState>,
    client: Client,
    Authed(caller, body): Authed<Drf, Body<PasskeyRegistration, Drf>>,
) -> Result<HttpResponse, ApiError> {
    let PasskeyRegistration { credential, name } = body.into_inner();
    let actor = client.acting_as(caller.user.id);
    let passkey = Drf::call(&state.passkeys, move |p| {
        p.finish_registration(&caller.user, &credential, name.as_deref(), &actor)
    })
    .await?;
    Ok(HttpResponse::Created().json(Passkey::from(&passkey)))
}

/// The caller's passkeys, oldest first.
#[utoipa::path(
    security(("bearer" = [])),
    responses((status = 200, description = "The passkeys", body = [Passkey]))
)]
#[get("/auth/passkeys/")]
async fn list_passkeys(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let list = Drf::call(&state.passkeys, move |p| p.list(caller.user.id)).await?;
    Ok(HttpResponse::Ok().json(list.iter().map(Passkey::from).collect::<Vec<_>>()))
}

/// Remove one of the caller's passkeys; needs the current password.
#[utoipa::path(
    params(("id" = String, Path, description = "A passkey id")),
    request_body = CurrentPassword,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Wrong password, or bad fields", body = doc::DrfBadRequest),
        (status = 404, description = "Not one of the caller's passkeys", body = doc::DrfError),
    )
)]
#[delete("/auth/passkeys/{id}/")]
async fn remove_passkey(
    state: web::Data<AppState>,
    client: Client,
    id: web::Path<String>,
    Authed(caller, body): Authed<Drf, Body<CurrentPassword, Drf>>,
) -> Result<HttpResponse, ApiError> {
    let CurrentPassword { current_password } = body.into_inner();
    let actor = client.acting_as(caller.user.id);
    done_as(actor, &state.passkeys, move |p, actor| {
        p.remove(&caller.user, &id, &current_password, actor)
    })
    .await
}

/// Begin a passkey login: request options for `navigator.credentials.get()`.
#[utoipa::path(
    request_body = PasskeyLoginBegin,
    responses((status = 200, description = "Request options, valid for 5 minutes (the same shape for a name that names no account)", body = PasskeyOptions))
)]
#[post("/auth/passkeys/login/begin/")]
async fn login_begin(
    state: web::Data<AppState>,
    body: Body<PasskeyLoginBegin, Drf>,
) -> Result<HttpResponse, ApiError> {
    let username = body
        .into_inner()
        .username
        .filter(|name| !name.trim().is_empty());
    let options = Drf::call(&state.passkeys, move |p| p.begin_login(username.as_deref())).await?;
    Ok(HttpResponse::Ok().json(PasskeyOptions::from(options)))
}

/// Log in with a passkey: a JWT pair, as `/auth/jwt/create/` gives.
#[utoipa::path(
    request_body = PasskeyLogin,
    responses(
        (status = 200, description = "Logged in", body = JwtPair),
        (status = 400, description = "Not an authentication response, or bad fields", body = doc::DrfBadRequest),
        (status = 401, description = "`no_active_account`: a bad, replayed or lapsed response, an unknown passkey, or an inactive account", body = doc::DrfError),
    )
)]
#[post("/auth/passkeys/login/finish/")]
async fn login_finish(
    state: web::Data<AppState>,
    client: Client,
    body: Body<PasskeyLogin, Drf>,
) -> Result<HttpResponse, ApiError> {
    let PasskeyLogin { credential } = body.into_inner();
    let actor = client.anonymous();
    let passkeys = state.passkeys.clone();
    let logged_in =
        run::<Drf, _, _>(move || passkeys.finish_login(&credential, &actor, SessionKind::Jwt))
            .await?
            .map_err(|e| {
                if matches!(e, TokensError::LoginRefused) {
                    state.metrics.login_failed();
                }
                Drf::word(e)
            })?;
    let LoggedIn {
        session: NewSession::Jwt(pair),
        ..
    } = logged_in
    else {
        return Err(Drf::unavailable());
    };
    Ok(HttpResponse::Ok().json(JwtPair::from(pair)))
}
