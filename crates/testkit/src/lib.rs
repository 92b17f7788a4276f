//! In-memory fakes of Sesame's ports and a clock moved by hand, so that each
//! domain crate tests its rules without a database, HTTP, or sleeping.

mod clock;
mod store;

pub use clock::FakeClock;
pub use store::InMemoryStore;
