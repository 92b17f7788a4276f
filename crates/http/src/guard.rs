//! The middleware that applies the per-IP limit to credential routes and
//! answers 429 in the shape of the surface the path belongs to.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};

use crate::client::client_ip;
use crate::openapi::ErrorShape;
use crate::surfaces::{Drf, FastApi};
use crate::surfaces::{MessageShape, Opaque};
use crate::{ApiError, AppState, Routes, Shape};

/// Paths where credentials are checked, tokens issued or email flows started.
const CREDENTIAL_PATHS: [&str; 26] = [
    "/auth/users/",
    "/auth/jwt/create/",
    "/auth/jwt/refresh/",
    "/auth/jwt/verify/",
    "/auth/users/activation/",
    "/auth/users/resend_activation/",
    "/auth/users/reset_password/",
    "/auth/users/reset_password_confirm/",
    "/auth/users/reset_username/",
    "/auth/users/reset_username_confirm/",
    "/auth/users/set_password/",
    "/auth/users/set_username/",
    "/auth/users/set_email/",
    "/register",
    "/login",
    "/auth/",
    "/auth/token",
    "/auth/register",
    "/auth/re-authenticate",
    "/auth/signup",
    "/auth/login",
    "/auth/refresh",
    "/auth/passkeys/register/begin/",
    "/auth/passkeys/register/finish/",
    "/auth/passkeys/login/begin/",
    "/auth/passkeys/login/finish/",
];

pub(crate) fn is_credential_route(method: &Method, path: &str) -> bool {
    (method == Method::POST && CREDENTIAL_PATHS.contains(&path)) || path.starts_with("/auth/mfa/")
}

/// A 429 worded by the surface that serves `path` (as [`Routes`] knows it;
/// primary's shape for a path it does not know).
fn too_many(routes: Option<&Routes>, path: &str, retry_after: u64) -> ApiError {
    let message = "Too many requests. Try again later.";
    let status = StatusCode::TOO_MANY_REQUESTS;
    let shape = routes.map_or(ErrorShape::None, |routes| routes.shape(path));
    let error = match shape {
        ErrorShape::FastApi => FastApi::message(status, message),
        ErrorShape::Opaque => Opaque::message(status, "Trop de tentatives : réessayez plus tard"),
        ErrorShape::Message => MessageShape::message(status, message),
        ErrorShape::Drf | ErrorShape::None => Drf::message(status, message),
    };
    error.with_retry_after(retry_after)
}

/// Counts credential requests per client IP; over the limit, answers 429.
/// The path is the one the router matches: percent-decoded by actix's own
/// `Url`, so `/auth/%6Cogin` counts as `/auth/login`.
pub async fn credential_guard(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = request.match_info().as_str();
    if is_credential_route(request.method(), path) {
        if let Some(state) = request.app_data::<web::Data<AppState>>() {
            if let Some(ip) = client_ip(request.request(), &state.settings) {
                if let Err(wait) = state.limits.check_ip(ip) {
                    let routes = request.app_data::<web::Data<Routes>>();
                    let response =
                        too_many(routes.map(|r| r.as_ref()), path, wait).error_response();
                    return Ok(request.into_response(response));
                }
            }
        }
    }
    next.call(request)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}
