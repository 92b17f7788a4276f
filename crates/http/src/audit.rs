//! The audit trail: security events recorded after the requests that cause
//! them, with the caller's account, IP and user agent.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest};
use hmac::{Hmac, Mac};
use sesame_kernel::audit::{AuditEvent, AuditLog};
use sesame_kernel::secrets::hex;
use sesame_kernel::{Clock, SystemClock, UserId};
use sesame_tokens::ClientInfo;
use sha2::Sha256;

use crate::client::client_info;
use crate::AppState;

/// The account a request acted as, left in the request by the Bearer extractor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject(pub(crate) UserId);

/// The key that logins naming no account are hashed with before they are
/// recorded, so that repeats can be told apart without keeping the text.
#[derive(Clone)]
pub struct AuditKey([u8; 32]);

impl AuditKey {
    /// The key derived from a server secret (HMAC-SHA256 of a fixed label).
    pub fn derive(secret: &[u8]) -> Self {
        AuditKey(mac(secret, b"sesame audit: unknown logins"))
    }

    /// `login hmac:` and the first 16 hex digits of the keyed digest of
    /// `login`'s identity key.
    pub(crate) fn digest(&self, login: &str) -> String {
        let digest = mac(&self.0, sesame_users::identity_key(login).as_bytes());
        format!("hmac:{}", &hex(&digest)[..16])
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

fn mac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// `text` with every control character written as its escape (`\u{1b}`),
/// so that nothing stored can move a terminal's cursor or fake a line.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

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
        ("POST", "/auth/logout") => "logout",
        ("POST", "/auth/logout/all/") => "logout_all",
        ("DELETE", "/auth/sessions/{id}/") => "session_ended",
        ("POST", "/auth/users/set_password/") => "password_changed",
        ("POST", "/auth/users/set_username/") => "username_changed",
        ("POST", "/auth/users/reset_password_confirm/") => "password_reset",
        ("POST", "/auth/users/reset_username_confirm/") => "username_reset",
        ("POST", "/auth/users/activation/") => "account_activated",
        ("POST", "/auth/users/set_email/") => "email_change_requested",
        ("POST", "/auth/users/set_email_confirm/") => "email_changed",
        ("POST", "/auth/mfa/totp/confirm/") => "mfa_enabled",
        ("DELETE", "/auth/mfa/totp/") => "mfa_disabled",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            printable("a\u{1b}[31mb\nc\td"),
            "a\\u{1b}[31mb\\u{a}c\\u{9}d"
        );
        assert_eq!(printable("Mozilla/5.0 (é)"), "Mozilla/5.0 (é)");
    }

    #[test]
    fn unknown_logins_are_keyed_digests() {
        let key = AuditKey::derive(b"a server secret of some length....");
        let digest = key.digest("hunter2-secret");
        assert!(
            digest.starts_with("hmac:") && digest.len() == 21,
            "{digest}"
        );
        assert!(!digest.contains("hunter2"));
        assert_eq!(digest, key.digest(" HUNTER2-secret "));
        let other = AuditKey::derive(b"another server secret of a length");
        assert_ne!(digest, other.digest("hunter2-secret"));
        assert_eq!(format!("{key:?}"), "AuditKey(..)");
    }
}
