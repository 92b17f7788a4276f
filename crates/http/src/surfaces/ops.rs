//! Operational routes: liveness, readiness, metrics, the JWK Set, and the
//! OpenAPI document with its UI.

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::FastApi;
use crate::blocking::blocking;
use crate::declare::Part;
use crate::shape::ErrorShape;
use crate::AppState;

/// The operational routes document no error shape; the few errors made for
/// them (a refused method) read `{"detail": ...}`, as a path no surface
/// serves does.
pub(super) fn part() -> Part {
    let part = Part::new::<FastApi>("operations")
        .route(healthz)
        .route(readyz)
        .route(metrics)
        .route(jwks)
        .route(crate::openapi::openapi_document)
        .route(crate::openapi::docs);
    Part {
        shape: ErrorShape::None,
        ..part
    }
}

/// A health answer.
#[derive(Serialize, ToSchema)]
#[schema(as = ops::Status)]
struct Status {
    /// `ok`, `ready`, `database unreachable` or `cannot sign tokens`.
    status: &'static str,
}

/// The public keys that verify Sesame's JWTs (RFC 7517 JWK Set). The body is
/// serialised once per key change by the tokens crate; this only describes it.
#[derive(ToSchema)]
#[schema(as = ops::JwkSet)]
#[allow(dead_code)]
struct JwkSet {
    /// One JWK per asymmetric key that still verifies: `kid`, `alg`,
    /// `use: "sig"`, `kty` and its public members only. Empty under HS256.
    #[schema(value_type = Vec<Object>)]
    keys: Vec<serde_json::Value>,
}

/// The public keys that verify every JWT Sesame issues, for other services
/// (served from memory; a key rotation or retirement shows at once).
#[utoipa::path(responses((
    status = 200,
    description = "RFC 7517 JWK Set; `Cache-Control: public, max-age=300`",
    body = JwkSet
)))]
#[get("/.well-known/jwks.json")]
async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/json")
        .body(state.sessions.keys().jwks().to_string())
}

/// Liveness: the process answers.
#[utoipa::path(responses((status = 200, description = "`ok`", body = Status)))]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// Readiness: the database answers, and the instance can sign tokens (its
/// signing key was not retired by a key set it cannot open).
#[utoipa::path(responses(
    (status = 200, description = "`ready`", body = Status),
    (status = 503, description = "`database unreachable` or `cannot sign tokens`", body = Status),
))]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ready = state.readiness.clone();
    let status = if !blocking(move || ready()).await.unwrap_or(false) {
        "database unreachable"
    } else if !state.sessions.keys().can_sign() {
        "cannot sign tokens"
    } else {
        return HttpResponse::Ok().json(Status { status: "ready" });
    };
    HttpResponse::ServiceUnavailable().json(Status { status })
}

/// Prometheus metrics: requests by route and status with latencies, failed
/// logins, open WebSockets, database pool usage.
#[utoipa::path(responses((
    status = 200,
    description = "OpenMetrics text exposition format",
    content_type = "application/openmetrics-text"
)))]
#[get("/metrics")]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let text = state
        .metrics
        .render(state.hub.connection_count(), (state.pool_usage)());
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text)
}
