//! The middleware that applies the per-IP limit to credential routes and
//! answers 429 in the shape of the surface the path belongs to.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};

use crate::client::client_ip;
use crate::declare::Answers;
use crate::surfaces::Drf;
use crate::{AppState, Routes};

/// Counts credential requests per client IP; over the limit, answers 429.
/// The path is the one the router matches: percent-decoded by actix's own
/// `Url`, so `/auth/%6Cogin` counts as `/auth/login`.
pub async fn credential_guard(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = request.match_info().as_str();
    let routes = request.app_data::<web::Data<Routes>>();
    let credential = routes.is_some_and(|routes| routes.is_credential(request.method(), path));
    if credential {
        if let Some(state) = request.app_data::<web::Data<AppState>>() {
            if let Some(ip) = client_ip(request.request(), &state.settings) {
                if let Err(wait) = state.limits.check_ip(ip) {
                    let answers = routes.map_or_else(Answers::of::<Drf>, |r| r.answers(path));
                    let response = (answers.refusal)(
                        StatusCode::TOO_MANY_REQUESTS,
                        "Too many requests. Try again later.",
                        "Trop de tentatives : réessayez plus tard",
                        "throttled",
                    )
                    .with_retry_after(wait)
                    .error_response();
                    return Ok(request.into_response(response));
                }
            }
        }
    }
    next.call(request)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}
