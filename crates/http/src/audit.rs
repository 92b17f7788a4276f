//! The audit log's keys and text rules, as the surfaces use them. The events
//! themselves are recorded by the domain services that make the changes.

pub use sesame_kernel::audit::{printable, AuditKey};
