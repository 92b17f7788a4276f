//! Account security beyond the seeds (API.md), in the primary surface's
//! shapes: see and end your sessions, a second factor (TOTP), an email
//! change that the new address confirms, and the audit log.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sesame_kernel::audit::AuditEntry;
use sesame_kernel::UserId;
use sesame_tokens::{Session, TokensError, TotpSetup};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::login::{actor_of, anonymous_actor};
use super::primary::users_error;
use super::{run, storage_failure, Drf};
use crate::declare::Part;
use crate::openapi::schemas as doc;
use crate::query::{page, query_map};
use crate::time::rfc3339;
use crate::wire::{self, Body, Expected, FieldIssue, Problem};
use crate::{ApiError, AppState, Bearer, Shape};

type Authenticated = Bearer<Drf>;

/// The routes of this surface. `/auth/users/set_email*/` must be matched
/// before primary's `/auth/users/{id}/`.
pub(super) fn part() -> Part {
    Part::new::<Drf>("account_security")
        .route(list_sessions)
        .route(end_session)
        .route(logout_all)
        .credential(totp_setup)
        .credential(totp_confirm)
        .credential(totp_disable)
        .credential(set_email)
        .route(set_email_confirm)
        .route(audit_log)
}

/// The caller's current password.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = account_security::CurrentPassword)]
struct CurrentPassword {
    current_password: String,
}

/// A TOTP code.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = account_security::TotpCode)]
struct TotpCode {
    code: String,
}

/// Turning TOTP off.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = account_security::TotpDisable)]
struct TotpDisable {
    current_password: String,
    /// A TOTP code or an unused recovery code.
    code: String,
}

/// An email change: a link goes to the new address.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = account_security::SetEmail)]
struct SetEmail {
    current_password: String,
    #[schema(format = Email)]
    new_email: String,
}

/// The `uid` and `token` of an emailed link.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = account_security::UidToken)]
struct UidToken {
    /// The user id in unpadded URL-safe base64.
    uid: String,
    /// The single-use token of the link.
    token: String,
}

/// One login of the caller.
#[derive(Serialize, ToSchema)]
#[schema(as = account_security::Session)]
struct SessionView {
    id: String,
    /// `jwt` or `opaque`.
    kind: &'static str,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_used_at: String,
    #[schema(required = true)]
    ip: Option<String>,
    #[schema(required = true)]
    user_agent: Option<String>,
    /// Whether the token of this request belongs to it.
    current: bool,
}

impl SessionView {
    fn of(session: &Session, current: &str) -> Self {
        SessionView {
            id: session.id.clone(),
            kind: session.kind.as_str(),
            created_at: rfc3339(session.created_at),
            last_used_at: rfc3339(session.last_used_at),
            ip: session.client.ip.clone(),
            user_agent: session.client.user_agent.clone(),
            current: session.id == current,
        }
    }
}

/// A TOTP secret, not active until confirmed.
#[derive(Serialize, ToSchema)]
#[schema(as = account_security::TotpSetup)]
struct TotpSecret {
    /// Base32, at least 160 bits.
    secret: String,
    /// `otpauth://totp/Sesame:<username>?secret=<secret>&issuer=Sesame`.
    otpauth_url: String,
}

impl From<TotpSetup> for TotpSecret {
    fn from(setup: TotpSetup) -> Self {
        TotpSecret {
            secret: setup.secret,
            otpauth_url: setup.otpauth_url,
        }
    }
}

/// The recovery codes, shown once.
#[derive(Serialize, ToSchema)]
#[schema(as = account_security::RecoveryCodes)]
struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

/// The filters of the audit log.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditFilter {
    /// Only the events of this user id.
    #[serde(default, deserialize_with = "wire::optional_integer")]
    user: Option<i64>,
    /// Only events of this kind (`login_success`, `login_failure`, `logout`, ...).
    kind: Option<String>,
}

impl AuditFilter {
    /// The filters of a query string; blank values count as absent.
    fn of(query: &HashMap<String, String>) -> Result<Self, FieldIssue> {
        let given: Map<String, Value> = query
            .iter()
            .filter(|(_, value)| !value.trim().is_empty())
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        serde_path_to_error::deserialize(Value::Object(given)).map_err(|error| {
            let field = error.path().to_string();
            FieldIssue::new(&field, Problem::WrongType(Expected::Integer)).in_query()
        })
    }
}

/// A recorded security event.
#[derive(Serialize, ToSchema)]
#[schema(as = account_security::AuditEntry)]
struct AuditRecord {
    /// Increasing.
    id: i64,
    /// `login_success`, `login_failure`, `logout`, `refresh_reuse`, `password_change`, ...
    kind: String,
    #[schema(required = true)]
    user_id: Option<i64>,
    #[schema(required = true)]
    ip: Option<String>,
    #[schema(required = true)]
    user_agent: Option<String>,
    #[schema(format = DateTime)]
    at: String,
    /// A short detail (the login tried, only as a keyed digest `hmac:…` when it
    /// names no account; the target of an admin change, ...).
    #[schema(required = true)]
    detail: Option<String>,
}

impl From<AuditEntry> for AuditRecord {
    fn from(entry: AuditEntry) -> Self {
        let event = entry.event;
        AuditRecord {
            id: entry.id,
            kind: event.kind,
            user_id: event.user_id.map(|user| user.0),
            ip: event.ip,
            user_agent: event.user_agent,
            at: rfc3339(event.at),
            detail: event.detail,
        }
    }
}

fn tokens_error(error: TokensError) -> ApiError {
    let code = |rule: &'static str, message: &str| {
        Drf::invalid(&[FieldIssue::invalid("code", rule, message)])
    };
    match error {
        TokensError::SessionNotFound => Drf::message(StatusCode::NOT_FOUND, "Not found."),
        TokensError::MfaAlreadyEnabled => Drf::coded(
            StatusCode::CONFLICT,
            "Two-factor authentication is already on.",
            "mfa_enabled",
        ),
        TokensError::MfaNotEnabled => code(
            "mfa_not_enabled",
            "Two-factor authentication is not set up.",
        ),
        TokensError::OtpInvalid | TokensError::OtpRequired => {
            code("invalid_code", "The code is invalid or was already used.")
        }
        TokensError::Users(e) => users_error(e),
        other => storage_failure::<Drf>(&other),
    }
}

/// The caller's live sessions, most recently used first.
#[utoipa::path(
    security(("bearer" = [])),
    responses((status = 200, description = "The sessions", body = [SessionView]))
)]
#[get("/auth/sessions/")]
async fn list_sessions(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let sessions = state.sessions.clone();
    let user = caller.user.id;
    let list = run::<Drf, _, _>(move || sessions.list_sessions(user))
        .await?
        .map_err(tokens_error)?;
    let views: Vec<SessionView> = list
        .iter()
        .map(|session| SessionView::of(session, &caller.session_id))
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

/// End one of the caller's sessions: its tokens fail at once.
#[utoipa::path(
    params(("id" = String, Path, description = "A session id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "Not one of the caller's sessions", body = doc::DrfError),
    )
)]
#[delete("/auth/sessions/{id}/")]
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
    security(("bearer" = [])),
    responses((status = 204, description = "Every session ended"))
)]
#[post("/auth/logout/all/")]
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
    request_body = CurrentPassword,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The secret", body = TotpSecret),
        (status = 400, description = "Wrong password, or bad fields", body = doc::DrfBadRequest),
        (status = 409, description = "TOTP is already on", body = doc::DrfError),
    )
)]
#[post("/auth/mfa/totp/setup/")]
async fn totp_setup(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: Body<CurrentPassword, Drf>,
) -> Result<HttpResponse, ApiError> {
    let CurrentPassword { current_password } = body.into_inner();
    let state = state.into_inner();
    let setup = run::<Drf, _, _>(move || {
        state
            .accounts
            .confirm_password(&caller.user, &current_password)
            .map_err(users_error)?;
        state.mfa.setup(&caller.user).map_err(tokens_error)
    })
    .await??;
    Ok(HttpResponse::Ok().json(TotpSecret::from(setup)))
}

/// Turn TOTP on with a first code; answers the recovery codes, once. Every
/// other session of the user ends.
#[utoipa::path(
    request_body = TotpCode,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "TOTP is on", body = RecoveryCodes),
        (status = 400, description = "Wrong code, no setup started, or bad fields", body = doc::DrfBadRequest),
        (status = 409, description = "TOTP is already on", body = doc::DrfError),
    )
)]
#[post("/auth/mfa/totp/confirm/")]
async fn totp_confirm(
    state: web::Data<AppState>,
    request: HttpRequest,
    caller: Authenticated,
    body: Body<TotpCode, Drf>,
) -> Result<HttpResponse, ApiError> {
    let TotpCode { code } = body.into_inner();
    let mfa = state.mfa.clone();
    let actor = actor_of(&request, &state, caller.user.id);
    let recovery_codes = run::<Drf, _, _>(move || {
        mfa.confirm(&caller.user, &code, Some(&caller.session_id), &actor)
    })
    .await?
    .map_err(tokens_error)?;
    Ok(HttpResponse::Ok().json(RecoveryCodes { recovery_codes }))
}

/// Turn TOTP off.
#[utoipa::path(
    request_body = TotpDisable,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "TOTP is off"),
        (status = 400, description = "Wrong password or code, TOTP not on, or bad fields", body = doc::DrfBadRequest),
    )
)]
#[delete("/auth/mfa/totp/")]
async fn totp_disable(
    state: web::Data<AppState>,
    request: HttpRequest,
    caller: Authenticated,
    body: Body<TotpDisable, Drf>,
) -> Result<HttpResponse, ApiError> {
    let TotpDisable {
        current_password,
        code,
    } = body.into_inner();
    let actor = actor_of(&request, &state, caller.user.id);
    let state = state.into_inner();
    run::<Drf, _, _>(move || {
        state
            .accounts
            .confirm_password(&caller.user, &current_password)
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
    request_body = SetEmail,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The link was sent"),
        (status = 400, description = "Wrong password, a bad or taken address, or bad fields", body = doc::DrfBadRequest),
    )
)]
#[post("/auth/users/set_email/")]
async fn set_email(
    state: web::Data<AppState>,
    request: HttpRequest,
    caller: Authenticated,
    body: Body<SetEmail, Drf>,
) -> Result<HttpResponse, ApiError> {
    let SetEmail {
        current_password,
        new_email,
    } = body.into_inner();
    let actor = actor_of(&request, &state, caller.user.id);
    let accounts = state.accounts.clone();
    run::<Drf, _, _>(move || {
        accounts.request_email_change(&caller.user, &current_password, &new_email, &actor)
    })
    .await?
    .map_err(users_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Confirm an email change from the link sent to the new address.
#[utoipa::path(
    request_body = UidToken,
    responses(
        (status = 204, description = "The email changed"),
        (status = 400, description = "Invalid, expired or used link, or bad fields", body = doc::DrfBadRequest),
    )
)]
#[post("/auth/users/set_email_confirm/")]
async fn set_email_confirm(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: Body<UidToken, Drf>,
) -> Result<HttpResponse, ApiError> {
    let UidToken { uid, token } = body.into_inner();
    let actor = anonymous_actor(&request, &state);
    let accounts = state.accounts.clone();
    run::<Drf, _, _>(move || accounts.confirm_email_change(&uid, &token, &actor))
        .await?
        .map_err(users_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Admins only; paged, newest first, `user` and `kind` filters.
#[utoipa::path(
    params(doc::PageParams, AuditFilter),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of security events, newest first", body = [AuditRecord]),
        (status = 400, description = "Bad `skip`, `limit` or `user`", body = doc::DrfFieldErrors),
        (status = 403, description = "Not an admin", body = doc::DrfError),
    )
)]
#[get("/auth/audit/")]
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
    let query = query_map(&request);
    let (page, filter) = match (page(&query), AuditFilter::of(&query)) {
        (Ok(page), Ok(filter)) => (page, filter),
        (page, filter) => {
            let mut issues = page.err().unwrap_or_default();
            issues.extend(filter.err());
            return Err(Drf::invalid(&issues));
        }
    };
    let AuditFilter { user, kind } = filter;
    let log = state.audit.clone();
    let entries = run::<Drf, _, _>(move || log.entries(user.map(UserId), kind.as_deref(), page))
        .await?
        .map_err(|e| storage_failure::<Drf>(&e))?;
    let records: Vec<AuditRecord> = entries.into_iter().map(AuditRecord::from).collect();
    Ok(HttpResponse::Ok().json(records))
}
