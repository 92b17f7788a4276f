//! Operational routes: liveness, readiness, metrics, the JWK Set.

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::blocking::blocking;
use crate::openapi::schemas as doc;
use crate::AppState;

pub(super) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(crate::metrics::exposition))
        .route("/.well-known/jwks.json", web::get().to(jwks));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz, readyz, jwks))]
pub(super) struct Api;

/// The public keys that verify every JWT Sesame issues, for other services
/// (served from memory; a key rotation or retirement shows at once).
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    responses((
        status = 200,
        description = "RFC 7517 JWK Set; `Cache-Control: public, max-age=300`",
        body = doc::JwkSet
    ))
)]
async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/json")
        .body(state.sessions.keys().jwks().to_string())
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    responses((status = 200, description = "`ok`", body = doc::Status))
)]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: the database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, description = "`ready`", body = doc::Status),
        (status = 503, description = "`database unreachable`", body = doc::Status),
    )
)]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ready = state.readiness.clone();
    if blocking(move || ready()).await.unwrap_or(false) {
        HttpResponse::Ok().json(json!({"status": "ready"}))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({"status": "database unreachable"}))
    }
}
