//! Direct messages between users: sending, inboxes, read receipts, and the
//! [`MessageNotifier`] port through which stored messages reach the
//! recipients' live connections (WebSockets, in Sesame's HTTP crate).

#![deny(missing_docs)]

mod error;
mod message;
mod ports;
mod service;

pub use error::MessagingError;
pub use message::{Message, MessageEvent, NewMessage};
pub use ports::{MessageNotifier, MessageRepository};
pub use service::MessagingService;
