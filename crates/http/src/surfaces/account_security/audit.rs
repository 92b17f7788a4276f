//! The audit log, for admins.

use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use sesame_kernel::audit::AuditEntry;
use sesame_kernel::UserId;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::Authenticated;
use crate::error_schemas as doc;
use crate::query::Listing;
use crate::shape::Words;
use crate::surfaces::Drf;
use crate::time::rfc3339;
use crate::wire;
use crate::{ApiError, AppState};

/// The filters of the audit log.
#[derive(Deserialize, Validate, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditFilter {
    /// Only the events of this user id.
    #[serde(default, deserialize_with = "wire::optional_integer")]
    user: Option<i64>,
    /// Only events of this kind (`login_success`, `login_failure`, `logout`, ...).
    kind: Option<String>,
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
pub(super) async fn audit_log(
    state: web::Data<AppState>,
    caller: Authenticated,
    listing: Result<Listing<AuditFilter, Drf>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    // As in DRF, a caller who may not read the log is told so before
    // anything about the query.
    state
        .accounts
        .may_read_audit(&caller.user)
        .map_err(Drf::word)?;
    let Listing {
        page,
        filter: AuditFilter { user, kind },
        ..
    } = listing?;
    let entries = Drf::call(&state.accounts, move |accounts| {
        accounts.audit_entries(&caller.user, user.map(UserId), kind.as_deref(), page)
    })
    .await?;
    let records: Vec<AuditRecord> = entries.into_iter().map(AuditRecord::from).collect();
    Ok(HttpResponse::Ok().json(records))
}
