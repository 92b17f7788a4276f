//! One module per client contract. The paths of the five surfaces do not
//! collide, so all of them can be mounted at once.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde_json::json;

use crate::blocking::blocking;
use crate::declare::Part;
use crate::query::Paged;
use crate::{ApiError, HttpSettings, Shape};
use sesame_kernel::Page;

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
    crate::openapi::configure(config, settings);
    for part in parts(settings) {
        part.mount(config);
    }
}

/// The operational routes and the routes of every enabled surface, as
/// each declares them, in the order they are matched.
pub(crate) fn parts(settings: &HttpSettings) -> Vec<Part> {
    let surfaces = settings.surfaces.iter().flat_map(|surface| match surface {
        // Before primary's: `/auth/users/{id}/` would shadow `/auth/users/set_email/`.
        Surface::Primary => vec![account_security::part(), passkeys::part(), primary::part()],
        Surface::EventsMessages => vec![events_messages::part(), events::part(), messages::part()],
        Surface::TokenForm => vec![token_form::part()],
        Surface::Opaque => vec![opaque::part()],
        Surface::CookieRefresh => vec![cookie_refresh::part()],
    });
    std::iter::once(ops::part()).chain(surfaces).collect()
}

/// The answer to a path no surface serves.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({"detail": "Not found."}))
}

/// Runs blocking domain work off the async workers, in `S`'s error shape.
pub(crate) async fn run<S: Shape, T, F>(work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    blocking(work).await.ok_or_else(S::unavailable)
}

/// `skip` and `limit` of the request, in `S`'s error shape (the
/// [`Paged`] extractor, for handlers that read the request themselves).
pub(crate) fn page_of<S: Shape>(request: &HttpRequest) -> Result<Page, ApiError> {
    Paged::<S>::from_request(request, &mut Payload::None)
        .into_inner()
        .map(|paged| paged.page())
}

/// Logs a storage failure (never with secrets) and words it for `S`.
pub(crate) fn storage_failure<S: Shape>(error: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(error = %error, "storage failure");
    S::unavailable()
}
