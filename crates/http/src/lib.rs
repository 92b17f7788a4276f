//! Sesame's HTTP surfaces. Each module under `surfaces` serves one client
//! contract of the API document at its documented paths, and only translates:
//! requests into domain calls, domain results into that surface's JSON.

mod auth;
mod blocking;
mod body;
mod client;
mod declare;
mod error;
mod error_schemas;
mod guard;
mod hub;
mod issue;
mod limits;
pub mod metrics;
mod openapi;
mod query;
mod revoker;
pub mod routes;
mod shape;
mod socket;
pub mod stall;
mod state;
pub mod surfaces;
mod time;
mod wire;

pub use auth::Bearer;
pub use body::BodyError;
pub use error::ApiError;
pub use guard::credential_guard;
pub use hub::{Hub, Outbound, DEFAULT_MAX_SOCKETS_PER_USER};
pub use limits::{RateLimitSettings, RateLimits};
pub use metrics::Metrics;
pub use revoker::SocketRevoker;
pub use routes::Routes;
pub use shape::{AuthFailure, ErrorShape, Shape};
pub use stall::BodyTimeout;
pub use state::{AppState, HttpSettings};
pub use surfaces::{configure, MessageFrames, Surface};
pub use wire::{Expected, FieldIssue, Location, Problem};
