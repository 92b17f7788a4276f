//! Account security beyond the seeds (API.md), in the primary surface's
//! shapes: see and end your sessions, and a second factor (TOTP).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use sesame_tokens::{Session, TokensError};

use super::primary::users_error;
use super::{body_fields, run, storage_failure, Drf};
use crate::fields::Fields;
use crate::time::rfc3339;
use crate::{ApiError, AppState, Bearer, Shape};

type Authenticated = Bearer<Drf>;

pub(super) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/auth/sessions/", web::get().to(list_sessions))
        .route("/auth/sessions/{id}/", web::delete().to(end_session))
        .route("/auth/logout/all/", web::post().to(logout_all))
        .route("/auth/mfa/totp/setup/", web::post().to(totp_setup))
        .route("/auth/mfa/totp/confirm/", web::post().to(totp_confirm))
        .route("/auth/mfa/totp/", web::delete().to(totp_disable));
}

fn session_json(session: &Session, current: &str) -> serde_json::Value {
    json!({
        "id": session.id,
        "kind": session.kind.as_str(),
        "created_at": rfc3339(session.created_at),
        "last_used_at": rfc3339(session.last_used_at),
        "ip": session.client.ip,
        "user_agent": session.client.user_agent,
        "current": session.id == current,
    })
}

fn tokens_error(error: TokensError) -> ApiError {
    let field = |name: &str, message: &str| {
        ApiError::new(StatusCode::BAD_REQUEST, json!({ name: [message] }))
    };
    match error {
        TokensError::SessionNotFound => Drf::message(StatusCode::NOT_FOUND, "Not found."),
        TokensError::MfaAlreadyEnabled => Drf::coded(
            StatusCode::CONFLICT,
            "Two-factor authentication is already on.",
            "mfa_enabled",
        ),
        TokensError::MfaNotEnabled => field("code", "Two-factor authentication is not set up."),
        TokensError::OtpInvalid | TokensError::OtpRequired => {
            field("code", "The code is invalid or was already used.")
        }
        TokensError::Users(e) => users_error(e),
        other => storage_failure::<Drf>(&other),
    }
}

async fn fields(
    state: &AppState,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<Fields, ApiError> {
    body_fields::<Drf>(state, request, payload).await
}

async fn list_sessions(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let sessions = state.sessions.clone();
    let user = caller.user.id;
    let list = run::<Drf, _, _>(move || sessions.list_sessions(user))
        .await?
        .map_err(tokens_error)?;
    Ok(HttpResponse::Ok().json(
        list.iter()
            .map(|s| session_json(s, &caller.session_id))
            .collect::<Vec<_>>(),
    ))
}

async fn end_session(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let sessions = state.sessions.clone();
    let user = caller.user.id;
    let ended = id.clone();
    run::<Drf, _, _>(move || sessions.end_session(user, &ended))
        .await?
        .map_err(tokens_error)?;
    state.hub.close_session(&id);
    Ok(HttpResponse::NoContent().finish())
}

async fn logout_all(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let sessions = state.sessions.clone();
    let user = caller.user.id;
    run::<Drf, _, _>(move || sessions.logout_all(user, None))
        .await?
        .map_err(tokens_error)?;
    state.hub.close_user(user);
    Ok(HttpResponse::NoContent().finish())
}

async fn totp_setup(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let password = f.required("current_password");
    f.finish().map_err(|issues| Drf::invalid(&issues))?;
    let state = state.into_inner();
    let setup = run::<Drf, _, _>(move || {
        state
            .accounts
            .confirm_password(&caller.user, &password)
            .map_err(users_error)?;
        state.mfa.setup(&caller.user).map_err(tokens_error)
    })
    .await??;
    Ok(HttpResponse::Ok().json(json!({
        "secret": setup.secret,
        "otpauth_url": setup.otpauth_url,
    })))
}

async fn totp_confirm(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let code = f.required("code");
    f.finish().map_err(|issues| Drf::invalid(&issues))?;
    let mfa = state.mfa.clone();
    let codes = run::<Drf, _, _>(move || mfa.confirm(&caller.user, &code))
        .await?
        .map_err(tokens_error)?;
    Ok(HttpResponse::Ok().json(json!({ "recovery_codes": codes })))
}

async fn totp_disable(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let password = f.required("current_password");
    let code = f.required("code");
    f.finish().map_err(|issues| Drf::invalid(&issues))?;
    let state = state.into_inner();
    run::<Drf, _, _>(move || {
        state
            .accounts
            .confirm_password(&caller.user, &password)
            .map_err(users_error)?;
        state.mfa.disable(&caller.user, &code).map_err(tokens_error)
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}
