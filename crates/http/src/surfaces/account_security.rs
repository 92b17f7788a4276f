//! Account security beyond the seeds (API.md), in the primary surface's
//! shapes: see and end your sessions, a second factor (TOTP), and an email
//! change that the new address confirms.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use sesame_tokens::{Session, TokensError};

use super::login::{actor_of, anonymous_actor};
use super::primary::{checked, fields, users_error};
use super::{page_of, run, storage_failure, Drf};
use crate::fields::{issue, IssueKind};
use crate::openapi::schemas as doc;
use crate::query::query_map;
use crate::time::rfc3339;
use crate::{ApiError, AppState, Bearer, Shape};
use sesame_kernel::UserId;

type Authenticated = Bearer<Drf>;

pub(super) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/auth/sessions/", web::get().to(list_sessions))
        .route("/auth/sessions/{id}/", web::delete().to(end_session))
        .route("/auth/logout/all/", web::post().to(logout_all))
        .route("/auth/mfa/totp/setup/", web::post().to(totp_setup))
        .route("/auth/mfa/totp/confirm/", web::post().to(totp_confirm))
        .route("/auth/mfa/totp/", web::delete().to(totp_disable))
        .route("/auth/audit/", web::get().to(audit_log))
        .route("/auth/users/set_email/", web::post().to(set_email))
        .route(
            "/auth/users/set_email_confirm/",
            web::post().to(set_email_confirm),
        );
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_sessions,
    end_session,
    logout_all,
    totp_setup,
    totp_confirm,
    totp_disable,
    set_email,
    set_email_confirm,
    audit_log
))]
pub(super) struct Api;

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

/// The caller's live sessions, most recently used first.
#[utoipa::path(
    get,
    path = "/auth/sessions/",
    security(("bearer" = [])),
    responses((status = 200, description = "The sessions", body = [doc::Session]))
)]
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

/// End one of the caller's sessions: its tokens fail at once.
#[utoipa::path(
    delete,
    path = "/auth/sessions/{id}/",
    params(("id" = String, Path, description = "A session id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "Not one of the caller's sessions", body = doc::DrfError),
    )
)]
async fn end_session(
    state: web::Data<AppState>,
    request: HttpRequest,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let sessions = state.sessions.clone();
    let user = caller.user.id;
    let actor = actor_of(&request, &state, user);
    run::<Drf, _, _>(move || sessions.end_session(user, &id, &actor))
        .await?
        .map_err(tokens_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// End every session of the caller, this one too.
#[utoipa::path(
    post,
    path = "/auth/logout/all/",
    security(("bearer" = [])),
    responses((status = 204, description = "Every session ended"))
)]
async fn logout_all(
    state: web::Data<AppState>,
    request: HttpRequest,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let sessions = state.sessions.clone();
    let user = caller.user.id;
    let actor = actor_of(&request, &state, user);
    run::<Drf, _, _>(move || sessions.logout_all(user, None, &actor))
        .await?
        .map_err(tokens_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Start TOTP: a new secret, not active until confirmed.
#[utoipa::path(
    post,
    path = "/auth/mfa/totp/setup/",
    request_body = doc::CurrentPassword,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The secret", body = doc::TotpSetup),
        (status = 400, description = "Wrong password, or bad fields", body = doc::DrfBadRequest),
        (status = 409, description = "TOTP is already on", body = doc::DrfError),
    )
)]
async fn totp_setup(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let password = f.required("current_password");
    checked(f)?;
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

/// Turn TOTP on with a first code; answers the recovery codes, once. Every
/// other session of the user ends.
#[utoipa::path(
    post,
    path = "/auth/mfa/totp/confirm/",
    request_body = doc::TotpCode,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "TOTP is on", body = doc::RecoveryCodes),
        (status = 400, description = "Wrong code, no setup started, or bad fields", body = doc::DrfBadRequest),
        (status = 409, description = "TOTP is already on", body = doc::DrfError),
    )
)]
async fn totp_confirm(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let code = f.required("code");
    checked(f)?;
    let mfa = state.mfa.clone();
    let actor = actor_of(&request, &state, caller.user.id);
    let codes = run::<Drf, _, _>(move || {
        mfa.confirm(&caller.user, &code, Some(&caller.session_id), &actor)
    })
    .await?
    .map_err(tokens_error)?;
    Ok(HttpResponse::Ok().json(json!({ "recovery_codes": codes })))
}

/// Turn TOTP off.
#[utoipa::path(
    delete,
    path = "/auth/mfa/totp/",
    request_body = doc::TotpDisable,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "TOTP is off"),
        (status = 400, description = "Wrong password or code, TOTP not on, or bad fields", body = doc::DrfBadRequest),
    )
)]
async fn totp_disable(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let password = f.required("current_password");
    let code = f.required("code");
    checked(f)?;
    let actor = actor_of(&request, &state, caller.user.id);
    let state = state.into_inner();
    run::<Drf, _, _>(move || {
        state
            .accounts
            .confirm_password(&caller.user, &password)
            .map_err(users_error)?;
        state
            .mfa
            .disable(&caller.user, &code, &actor)
            .map_err(tokens_error)
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Change the email: a link goes to the new address, a notice to the old.
#[utoipa::path(
    post,
    path = "/auth/users/set_email/",
    request_body = doc::SetEmail,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The link was sent"),
        (status = 400, description = "Wrong password, a bad or taken address, or bad fields", body = doc::DrfBadRequest),
    )
)]
async fn set_email(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let password = f.required("current_password");
    let new_email = f.required("new_email");
    checked(f)?;
    let actor = actor_of(&request, &state, caller.user.id);
    let accounts = state.accounts.clone();
    run::<Drf, _, _>(move || {
        accounts.request_email_change(&caller.user, &password, &new_email, &actor)
    })
    .await?
    .map_err(users_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Confirm an email change from the link sent to the new address.
#[utoipa::path(
    post,
    path = "/auth/users/set_email_confirm/",
    request_body = doc::UidToken,
    responses(
        (status = 204, description = "The email changed"),
        (status = 400, description = "Invalid, expired or used link, or bad fields", body = doc::DrfBadRequest),
    )
)]
async fn set_email_confirm(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let uid = f.required("uid");
    let token = f.required("token");
    checked(f)?;
    let actor = anonymous_actor(&request, &state);
    let accounts = state.accounts.clone();
    run::<Drf, _, _>(move || accounts.confirm_email_change(&uid, &token, &actor))
        .await?
        .map_err(users_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /auth/audit/`: admins only; paged, newest first, `user` and `kind` filters.
#[utoipa::path(
    get,
    path = "/auth/audit/",
    params(doc::PageParams, doc::AuditFilterParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of security events, newest first", body = [doc::AuditEntry]),
        (status = 400, description = "Bad `skip`, `limit` or `user`", body = doc::DrfFieldErrors),
        (status = 403, description = "Not an admin", body = doc::DrfError),
    )
)]
async fn audit_log(
    state: web::Data<AppState>,
    request: HttpRequest,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    if !caller.user.is_staff {
        return Err(Drf::coded(
            StatusCode::FORBIDDEN,
            "You do not have permission to perform this action.",
            "permission_denied",
        ));
    }
    let page = page_of::<Drf>(&request)?;
    let query = query_map(&request);
    let user = match query
        .get("user")
        .map(|u| u.trim())
        .filter(|u| !u.is_empty())
    {
        Some(raw) => Some(raw.parse::<i64>().map(UserId).map_err(|_| {
            Drf::invalid(&[issue(
                "user",
                IssueKind::NotInteger,
                "A valid integer is required.",
            )
            .in_query()])
        })?),
        None => None,
    };
    let kind = query.get("kind").filter(|k| !k.trim().is_empty()).cloned();
    let log = state.audit.clone();
    let entries = run::<Drf, _, _>(move || log.entries(user, kind.as_deref(), page))
        .await?
        .map_err(|e| storage_failure::<Drf>(&e))?;
    Ok(HttpResponse::Ok().json(
        entries
            .iter()
            .map(|entry| {
                json!({
                    "id": entry.id,
                    "kind": entry.event.kind,
                    "user_id": entry.event.user_id.map(|u| u.0),
                    "ip": entry.event.ip,
                    "user_agent": entry.event.user_agent,
                    "at": rfc3339(entry.event.at),
                    "detail": entry.event.detail,
                })
            })
            .collect::<Vec<_>>(),
    ))
}
