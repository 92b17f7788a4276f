//! Operational routes: liveness, readiness, metrics.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::blocking::blocking;
use crate::openapi::schemas as doc;
use crate::AppState;

pub(super) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(crate::metrics::exposition));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz, readyz))]
pub(super) struct Api;

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
