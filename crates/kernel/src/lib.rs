//! Shared building blocks of Sesame's domain crates: identifiers, the clock,
//! paging, and helpers for random secrets.

#![deny(missing_docs)]

pub mod audit;
mod changes;
mod clock;
mod ids;
mod page;
pub mod secrets;
mod text;

pub use audit::Actor;
pub use changes::{ChangeObserver, OutsideChanges};
pub use clock::{is_storable, Clock, SystemClock, Timestamp};
pub use ids::UserId;
pub use page::Page;
pub use text::is_blank;

/// A failure of the storage behind a port (database down, constraint the domain
/// did not expect, ...). Domain crates wrap it in their own error enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError(pub String);

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "storage failure: {}", self.0)
    }
}

impl std::error::Error for StorageError {}
