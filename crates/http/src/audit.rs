//! The audit trail: security events recorded after the requests that cause
//! them, with the caller's account, IP and user agent.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest};
use sesame_kernel::audit::{AuditEvent, AuditLog};
use sesame_kernel::{Clock, SystemClock, UserId};
use sesame_tokens::ClientInfo;

use crate::client::client_info;
use crate::AppState;

/// The account a request acted as, left in the request by the Bearer extractor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject(pub(crate) UserId);

pub use sesame_kernel::audit::{printable, AuditKey};

/// The event a handler says its successful answer stands for, left in the
/// request; it replaces the one [`trail`] would derive from the route.
#[derive(Debug, Clone)]
pub(crate) struct Note {
    pub(crate) kind: &'static str,
    pub(crate) detail: Option<String>,
}

/// A security event of now.
pub(crate) fn event(
    kind: &str,
    user: Option<UserId>,
    client: ClientInfo,
    detail: Option<String>,
) -> AuditEvent {
    AuditEvent {
        kind: kind.to_owned(),
        user_id: user,
        ip: client.ip,
        user_agent: client.user_agent.as_deref().map(printable),
        at: SystemClock.now(),
        detail: detail.as_deref().map(printable),
    }
}

/// Writes an event; blocking, so only off the async workers. A failed write
/// is logged, never returned: what it records already happened.
pub(crate) fn write(log: &dyn AuditLog, event: &AuditEvent) {
    if let Err(e) = log.record(event) {
        tracing::warn!(error = %e, kind = event.kind, "could not record an audit event");
    }
}

/// The event a successful request on this route stands for, if any.
fn event_of(
    method: &Method,
    route: &str,
    request: &HttpRequest,
    subject: Option<UserId>,
) -> Option<(&'static str, Option<String>)> {
    let target = || request.match_info().get("id").map(str::to_owned);
    let kind = match (method.as_str(), route) {
        ("POST", "/auth/users/reset_password_confirm/") => "password_reset",
        ("POST", "/auth/users/reset_username_confirm/") => "username_reset",
        ("POST", "/auth/users/activation/") => "account_activated",
        ("POST", "/auth/users/set_email/") => "email_change_requested",
        ("POST", "/auth/users/set_email_confirm/") => "email_changed",
        ("DELETE", "/auth/users/me/") => "account_deleted",
        ("DELETE", "/auth/delete/{username}") => {
            return Some((
                "account_deleted",
                request
                    .match_info()
                    .get("username")
                    .map(|u| format!("user {u}")),
            ));
        }
        ("PUT" | "PATCH", "/auth/users/{id}/") | ("DELETE", "/auth/users/{id}/") => {
            let target_id = target()?;
            let own = subject.is_some_and(|s| s.0.to_string() == target_id);
            let kind = match (method.as_str(), own) {
                ("DELETE", true) => "account_deleted",
                ("DELETE", false) => "admin_deleted_user",
                (_, false) => "admin_changed_user",
                (_, true) => return None,
            };
            return Some((kind, Some(format!("user {target_id}"))));
        }
        _ => return None,
    };
    Some((kind, None))
}

/// Records the security event of every successful request that is one.
pub async fn trail(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let response = next.call(request).await?;
    if !response.status().is_success() {
        return Ok(response);
    }
    let http_request = response.request();
    let Some(state) = http_request.app_data::<web::Data<AppState>>() else {
        return Ok(response);
    };
    let Some(route) = http_request.match_pattern() else {
        return Ok(response);
    };
    let subject = http_request.extensions().get::<Subject>().map(|s| s.0);
    let note = http_request.extensions().get::<Note>().cloned();
    let noted = note.map(|note| (note.kind, note.detail));
    if let Some((kind, detail)) =
        noted.or_else(|| event_of(http_request.method(), &route, http_request, subject))
    {
        let event = event(
            kind,
            subject,
            client_info(http_request, &state.settings),
            detail,
        );
        let log = state.audit.clone();
        let span = tracing::Span::current();
        actix_web::rt::task::spawn_blocking(move || span.in_scope(|| write(log.as_ref(), &event)));
    }
    Ok(response)
}
