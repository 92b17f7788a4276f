//! One module per client contract. The paths of the five surfaces do not
//! collide, so all of them can be mounted at once.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::blocking::blocking;
use crate::declare::{Declared, Part};
use crate::query::{self, PageParams};
use crate::routes::is_static;
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

pub use crate::state::Surface;
pub use events_messages::FastApi;
pub use messages::MessageFrames;
pub use primary::Drf;

/// Mounts the operational routes, every enabled surface, and Swagger UI's files.
pub fn configure(config: &mut web::ServiceConfig, settings: &HttpSettings) {
    for route in in_mount_order(parts(settings)) {
        route.mount(config);
    }
    crate::openapi::mount_ui_files(config);
}

/// The routes of `parts`, every static path first, then the patterns, each
/// group in declaration order. actix-web tries routes in the order they are
/// mounted, comparing a static path as a string but running a regular
/// expression for a pattern: so a request for a static path (most of them)
/// runs none, and no pattern can shadow a static path.
pub(crate) fn in_mount_order(parts: Vec<Part>) -> Vec<Declared> {
    let (statics, patterns): (Vec<_>, Vec<_>) = parts
        .into_iter()
        .flat_map(|part| part.routes)
        .partition(|route| is_static(&route.path));
    statics.into_iter().chain(patterns).collect()
}

/// The operational routes and the routes of every enabled surface, as
/// each declares them, in the order they are documented (they are mounted
/// in [`in_mount_order`]).
pub(crate) fn parts(settings: &HttpSettings) -> Vec<Part> {
    let surfaces = settings.surfaces.iter().flat_map(|surface| match surface {
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
    HttpResponse::NotFound().json(crate::error_schemas::FastApiError {
        detail: "Not found.".to_owned(),
    })
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
    query::parse::<PageParams>(request)
        .map(|params| params.page())
        .map_err(|issues| S::invalid(&issues))
}

/// Logs a storage failure (never with secrets) and words it for `S`.
pub(crate) fn storage_failure<S: Shape>(error: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(error = %error, "storage failure");
    S::unavailable()
}
