//! Operational routes: liveness, readiness, metrics.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::blocking::blocking;
use crate::AppState;

pub(super) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(crate::metrics::exposition));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ready = state.readiness.clone();
    if blocking(move || ready()).await.unwrap_or(false) {
        HttpResponse::Ok().json(json!({"status": "ready"}))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({"status": "database unreachable"}))
    }
}
