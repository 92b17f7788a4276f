//! In-memory fakes of Sesame's ports and a clock moved by hand, so that each
//! domain crate tests its rules without a database, HTTP, or sleeping.

mod audit;
mod browser;
mod clock;
mod events;
mod hasher;
mod messages;
mod mfa;
mod passkeys;
pub mod smtp;
mod store;
mod throttle;

pub use audit::InMemoryAudit;
pub use browser::SoftBrowser;
pub use clock::FakeClock;
pub use events::InMemoryEvents;
pub use hasher::ChangedWhileVerifying;
pub use messages::{InMemoryMessages, RecordingNotifier};
pub use mfa::{CodesMeanwhile, InMemoryMfa, Meanwhile};
pub use passkeys::InMemoryPasskeys;
pub use store::{InMemoryStore, MemoryAvatars, RecordingMailer, StoredEmail};
pub use throttle::CountingThrottle;
