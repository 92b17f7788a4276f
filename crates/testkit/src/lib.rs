//! In-memory fakes of Sesame's ports and a clock moved by hand, so that each
//! domain crate tests its rules without a database, HTTP, or sleeping.

mod audit;
mod clock;
mod events;
mod messages;
mod mfa;
pub mod smtp;
mod store;
mod throttle;

pub use audit::InMemoryAudit;
pub use clock::FakeClock;
pub use events::InMemoryEvents;
pub use messages::{InMemoryMessages, RecordingNotifier};
pub use mfa::InMemoryMfa;
pub use store::{InMemoryStore, MemoryAvatars, RecordingMailer, StoredEmail};
pub use throttle::CountingThrottle;
