//! One module per client contract. The paths of the five surfaces do not
//! collide, so all of them can be mounted at once.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::blocking::blocking;
use crate::body::{read_object, read_object_or_form};
use crate::fields::Fields;
use crate::openapi::ErrorShape;
use crate::query::{page, query_map};
use crate::{ApiError, AppState, HttpSettings, Shape};
use sesame_kernel::Page;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::OpenApi;

mod account_security;
mod cookie_refresh;
mod events;
mod events_messages;
mod login;
mod messages;
mod opaque;
mod ops;
mod passkeys;
mod primary;
mod token_form;

pub use cookie_refresh::MessageShape;
pub use events_messages::FastApi;
pub use messages::MessageFrames;
pub use opaque::Opaque;
pub use primary::Drf;

/// A client contract Sesame serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Surface {
    /// Accounts and JWT, djoser layout (seed 004).
    Primary,
    /// Events, messages and their auth routes, FastAPI style (seed 001).
    EventsMessages,
    /// OAuth2 password form (seed 000).
    TokenForm,
    /// Opaque sliding tokens (seed 002).
    Opaque,
    /// Access JWT plus refresh cookie (seed 003).
    CookieRefresh,
}

impl Surface {
    /// Every surface, in the order the API document lists them.
    pub const ALL: [Surface; 5] = [
        Surface::Primary,
        Surface::EventsMessages,
        Surface::TokenForm,
        Surface::Opaque,
        Surface::CookieRefresh,
    ];

    /// The name used in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Surface::Primary => "primary",
            Surface::EventsMessages => "events_messages",
            Surface::TokenForm => "token_form",
            Surface::Opaque => "opaque",
            Surface::CookieRefresh => "cookie_refresh",
        }
    }

    /// The surface with this configuration name.
    pub fn from_name(name: &str) -> Option<Surface> {
        Self::ALL.into_iter().find(|s| s.name() == name.trim())
    }
}

/// Mounts the operational routes and every enabled surface.
pub fn configure(config: &mut web::ServiceConfig, settings: &HttpSettings) {
    ops::configure(config);
    crate::openapi::configure(config, settings);
    for surface in &settings.surfaces {
        match surface {
            Surface::Primary => {
                // Before primary: `/auth/users/{id}/` would shadow `/auth/users/set_email/`.
                account_security::configure(config);
                passkeys::configure(config);
                primary::configure(config);
            }
            Surface::EventsMessages => {
                events_messages::configure(config);
                events::configure(config);
                messages::configure(config);
            }
            Surface::TokenForm => token_form::configure(config),
            Surface::Opaque => opaque::configure(config),
            Surface::CookieRefresh => cookie_refresh::configure(config),
        }
    }
}

/// The OpenAPI parts of the operational routes and of every enabled
/// surface, each with the tag its operations go under and its error shape.
pub(crate) fn api_parts(settings: &HttpSettings) -> Vec<(&'static str, ErrorShape, OpenApiDoc)> {
    let mut parts = vec![("operations", ErrorShape::None, ops::Api::openapi())];
    for surface in &settings.surfaces {
        let tag = surface.name();
        match surface {
            Surface::Primary => {
                parts.push((tag, ErrorShape::Drf, primary::Api::openapi()));
                let security = account_security::Api::openapi();
                parts.push(("account_security", ErrorShape::Drf, security));
                parts.push(("passkeys", ErrorShape::Drf, passkeys::Api::openapi()));
            }
            Surface::EventsMessages => {
                parts.push((tag, ErrorShape::FastApi, events_messages::Api::openapi()));
                parts.push((tag, ErrorShape::FastApi, events::Api::openapi()));
                parts.push((tag, ErrorShape::FastApi, messages::Api::openapi()));
            }
            Surface::TokenForm => {
                parts.push((tag, ErrorShape::FastApi, token_form::Api::openapi()))
            }
            Surface::Opaque => parts.push((tag, ErrorShape::Opaque, opaque::Api::openapi())),
            Surface::CookieRefresh => {
                parts.push((tag, ErrorShape::Message, cookie_refresh::Api::openapi()))
            }
        }
    }
    parts
}

/// The answer to a path no surface serves.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({"detail": "Not found."}))
}

/// Reads the JSON body into a field reader, in `S`'s error shape.
pub(crate) async fn body_fields<S: Shape>(
    state: &AppState,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<Fields, ApiError> {
    read_object(request, payload, state.settings.max_json_bytes)
        .await
        .map(Fields::new)
        .map_err(S::body_error)
}

/// [`body_fields`], also from a form body (only where a contract asks for one).
pub(crate) async fn form_fields<S: Shape>(
    state: &AppState,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<Fields, ApiError> {
    read_object_or_form(request, payload, state.settings.max_json_bytes)
        .await
        .map(Fields::new)
        .map_err(S::body_error)
}

/// Runs blocking domain work off the async workers, in `S`'s error shape.
pub(crate) async fn run<S: Shape, T, F>(work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    blocking(work).await.ok_or_else(S::unavailable)
}

/// `skip` and `limit` of the request, in `S`'s error shape.
pub(crate) fn page_of<S: Shape>(request: &HttpRequest) -> Result<Page, ApiError> {
    page(&query_map(request)).map_err(|issues| S::invalid(&issues))
}

/// Logs a storage failure (never with secrets) and words it for `S`.
pub(crate) fn storage_failure<S: Shape>(error: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(error = %error, "storage failure");
    S::unavailable()
}
