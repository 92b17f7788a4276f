//! Account security beyond the seeds (API.md), in the primary surface's
//! shapes: see and end your sessions, a second factor (TOTP), an email
//! change that the new address confirms, and the audit log.

use actix_web::{delete, get, post, web, HttpResponse};
use serde::Serialize;
use sesame_tokens::Session;
use utoipa::ToSchema;

use super::primary::{done_as, Authenticated};
use super::Drf;
use crate::client::Client;
use crate::declare::Part;
use crate::error_schemas as doc;
use crate::shape::Words;
use crate::time::rfc3339;
use crate::{ApiError, AppState};

mod audit;
mod email;
mod mfa;

/// The routes of this surface. `/auth/users/set_email*/` must be matched
/// before primary's `/auth/users/{id}/`.
pub(super) fn part() -> Part {
    Part::new::<Drf>("account_security")
        .route(list_sessions)
        .route(end_session)
        .route(logout_all)
        .credential(mfa::totp_setup)
        .credential(mfa::totp_confirm)
        .credential(mfa::totp_disable)
        .credential(email::set_email)
        .credential(email::set_email_confirm)
        .route(audit::audit_log)
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

/// The caller's sessions that are not over, most recently used first: seed
/// 002's tokens past their idle time included, which re-authenticate can
/// bring back.
#[utoipa::path(
    security(("bearer" = [])),
    responses((status = 200, description = "The sessions", body = [SessionView]))
)]
#[get("/auth/sessions/")]
async fn list_sessions(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user = caller.user.id;
    let list = Drf::call(&state.sessions, move |s| s.list_sessions(user)).await?;
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
    client: Client,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.user.id;
    done_as(client.acting_as(user), &state.sessions, move |s, actor| {
        s.end_session(user, &id, actor)
    })
    .await
}

/// End every session of the caller, this one too.
#[utoipa::path(
    security(("bearer" = [])),
    responses((status = 204, description = "Every session ended"))
)]
#[post("/auth/logout/all/")]
async fn logout_all(
    state: web::Data<AppState>,
    client: Client,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user = caller.user.id;
    done_as(client.acting_as(user), &state.sessions, move |s, actor| {
        s.logout_all(user, None, actor)
    })
    .await
}
