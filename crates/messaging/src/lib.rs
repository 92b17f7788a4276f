//! Direct messages between users, for programs that bring their own storage
//! and their own live connections.
//!
//! A user sends a message to another; the receiver lists what they
//! received, marks messages read, and counts the unread ones. Every stored
//! message, and every first read of one, is pushed through the
//! [`MessageNotifier`] port to whoever listens: in Sesame, the WebSockets of
//! the receiver (and the read receipt to the sender's), across instances on
//! PostgreSQL.
//!
//! # What is in it
//!
//! - **The service**: [`MessagingService`]: send, received, sent, mark read,
//!   count unread.
//! - **Value types**: [`Message`], [`NewMessage`] (what the service hands to
//!   storage, content already checked and trimmed: 1..=[`MAX_CONTENT_CHARS`]
//!   characters), [`MessageEvent`] (what listeners hear, and who: its
//!   [`audience`](MessageEvent::audience)).
//! - **Ports** to implement: [`MessageRepository`] (where messages live),
//!   [`MessageNotifier`] (best effort: it cannot fail the send), the
//!   `sesame-users` [`UserRepository`](sesame_users::UserRepository) (a
//!   message to an unknown account is refused), and the `sesame-kernel`
//!   [`Clock`](sesame_kernel::Clock).
//! - **Errors**: every fallible call returns [`MessagingError`].
//!
//! # Example: send a message
//!
//! Messages live in a vector here, and the "live connection" is a list of
//! what was heard. `MemoryUsers` is the in-memory `UserRepository` written
//! out on the `sesame-users` crate page (hidden here). The
//! `console_messages` example of this crate (`cargo run -p
//! sesame-messaging --example console_messages`) prints each event as a
//! socket would receive it.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! use sesame_kernel::{Page, StorageError, SystemClock, Timestamp, UserId};
//! use sesame_messaging::{
//!     Message, MessageEvent, MessageNotifier, MessageRepository, MessagingError,
//!     MessagingService, NewMessage,
//! };
//! use sesame_users::{
//!     AccountService, AccountSettings, BcryptHasher, NewUser, ProfileChanges, ProfileUpdated,
//!     Registration, User, UserRepository, Username, UsersError,
//! };
//!
//! /// Messages in memory: the storage this program brings.
//! #[derive(Default)]
//! struct MemoryMessages(Mutex<Vec<Message>>);
//!
//! impl MemoryMessages {
//!     /// Newest first, one page of those that pass `keep`.
//!     fn newest(&self, page: Page, keep: impl Fn(&Message) -> bool) -> Vec<Message> {
//!         let messages = self.0.lock().unwrap();
//!         let matching = messages.iter().rev().filter(|m| keep(m));
//!         matching.skip(page.skip as usize).take(page.limit as usize).cloned().collect()
//!     }
//! }
//!
//! impl MessageRepository for MemoryMessages {
//!     fn insert(&self, new: &NewMessage) -> Result<Message, MessagingError> {
//!         let mut messages = self.0.lock().unwrap();
//!         let message = Message {
//!             id: messages.len() as i64 + 1,
//!             content: new.content.clone(),
//!             created_at: new.created_at,
//!             sender_id: new.sender_id,
//!             receiver_id: new.receiver_id,
//!             is_read: false,
//!         };
//!         messages.push(message.clone());
//!         Ok(message)
//!     }
//!
//!     fn find(&self, id: i64) -> Result<Option<Message>, MessagingError> {
//!         Ok(self.0.lock().unwrap().iter().find(|m| m.id == id).cloned())
//!     }
//!
//!     fn received(&self, user: UserId, page: Page) -> Result<Vec<Message>, MessagingError> {
//!         Ok(self.newest(page, |m| m.receiver_id == user))
//!     }
//!
//!     fn sent(&self, user: UserId, page: Page) -> Result<Vec<Message>, MessagingError> {
//!         Ok(self.newest(page, |m| m.sender_id == user))
//!     }
//!
//!     fn mark_read(
//!         &self,
//!         id: i64,
//!         receiver: UserId,
//!         _at: Timestamp,
//!     ) -> Result<Option<(Message, bool)>, MessagingError> {
//!         let mut messages = self.0.lock().unwrap();
//!         let mine = messages.iter_mut().find(|m| m.id == id && m.receiver_id == receiver);
//!         let Some(message) = mine else {
//!             return Ok(None); // not there, or not theirs: the same answer
//!         };
//!         let first_read = !message.is_read;
//!         message.is_read = true;
//!         Ok(Some((message.clone(), first_read)))
//!     }
//!
//!     fn unread_count(&self, user: UserId) -> Result<i64, MessagingError> {
//!         let messages = self.0.lock().unwrap();
//!         Ok(messages.iter().filter(|m| m.receiver_id == user && !m.is_read).count() as i64)
//!     }
//! }
//!
//! /// The live connections: here, a list of who heard what.
//! #[derive(Default)]
//! struct Heard(Mutex<Vec<(UserId, MessageEvent)>>);
//!
//! impl MessageNotifier for Heard {
//!     fn notify(&self, event: &MessageEvent) {
//!         self.0.lock().unwrap().push((event.audience(), event.clone()));
//!     }
//! }
//!
//! # /// Accounts in memory: the storage this program brings.
//! # #[derive(Default)]
//! # struct MemoryUsers(Mutex<Vec<User>>);
//! #
//! # impl MemoryUsers {
//! #     fn find(&self, matches: impl Fn(&User) -> bool) -> Option<User> {
//! #         self.0.lock().unwrap().iter().find(|u| matches(u)).cloned()
//! #     }
//! # }
//! #
//! # fn same(a: &str, b: &str) -> bool {
//! #     a.to_lowercase() == b.to_lowercase()
//! # }
//! #
//! # fn unsupported() -> UsersError {
//! #     UsersError::Storage(StorageError("not supported by this store".into()))
//! # }
//! #
//! # impl UserRepository for MemoryUsers {
//! #     fn insert(&self, new: &NewUser) -> Result<User, UsersError> {
//! #         let mut users = self.0.lock().unwrap();
//! #         // The store itself refuses duplicates, ignoring case.
//! #         if users.iter().any(|u| same(&u.username, new.username.as_str())) {
//! #             return Err(UsersError::UsernameTaken);
//! #         }
//! #         let email = new.email.as_ref().map(|e| e.as_str().to_owned());
//! #         if let Some(email) = &email {
//! #             if users.iter().any(|u| u.email.as_deref().is_some_and(|e| same(e, email))) {
//! #                 return Err(UsersError::EmailTaken);
//! #             }
//! #         }
//! #         let user = User {
//! #             id: UserId(users.len() as i64 + 1),
//! #             username: new.username.as_str().to_owned(),
//! #             email,
//! #             first_name: new.first_name.clone(),
//! #             last_name: new.last_name.clone(),
//! #             avatar: None,
//! #             is_active: new.is_active,
//! #             is_staff: new.is_staff,
//! #             date_joined: new.date_joined,
//! #             last_login: None,
//! #             password_hash: new.password_hash.clone(),
//! #         };
//! #         users.push(user.clone());
//! #         Ok(user)
//! #     }
//! #
//! #     fn find_by_id(&self, id: UserId) -> Result<Option<User>, UsersError> {
//! #         Ok(self.find(|u| u.id == id))
//! #     }
//! #
//! #     fn find_by_username(&self, username: &str) -> Result<Option<User>, UsersError> {
//! #         Ok(self.find(|u| same(&u.username, username)))
//! #     }
//! #
//! #     fn find_by_email(&self, email: &str) -> Result<Option<User>, UsersError> {
//! #         Ok(self.find(|u| u.email.as_deref().is_some_and(|e| same(e, email.trim()))))
//! #     }
//! #
//! #     fn list(&self, page: Page) -> Result<Vec<User>, UsersError> {
//! #         let users = self.0.lock().unwrap();
//! #         let window = users.iter().skip(page.skip as usize).take(page.limit as usize);
//! #         Ok(window.cloned().collect())
//! #     }
//! #
//! #     fn record_login(&self, id: UserId, at: Timestamp) -> Result<(), UsersError> {
//! #         let mut users = self.0.lock().unwrap();
//! #         let user = users.iter_mut().find(|u| u.id == id).ok_or(UsersError::NotFound)?;
//! #         user.last_login = Some(at);
//! #         Ok(())
//! #     }
//! #
//! #     // Not used to register and log in.
//! #     fn update_profile(
//! #         &self,
//! #         _: UserId,
//! #         _: &ProfileChanges,
//! #     ) -> Result<ProfileUpdated, UsersError> {
//! #         Err(unsupported())
//! #     }
//! #     fn set_username(&self, _: UserId, _: &Username) -> Result<(), UsersError> {
//! #         Err(unsupported())
//! #     }
//! #     fn change_password(
//! #         &self,
//! #         _: UserId,
//! #         _: &str,
//! #         _: &str,
//! #         _: Option<&str>,
//! #         _: Timestamp,
//! #     ) -> Result<(), UsersError> {
//! #         Err(unsupported())
//! #     }
//! #     fn set_flags(&self, _: UserId, _: Option<bool>, _: Option<bool>) -> Result<(), UsersError> {
//! #         Err(unsupported())
//! #     }
//! #     fn delete(&self, _: UserId) -> Result<(), UsersError> {
//! #         Err(unsupported())
//! #     }
//! # }
//! #
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let users = Arc::new(MemoryUsers::default());
//! let heard = Arc::new(Heard::default());
//! let messages = MessagingService::new(
//!     Arc::new(MemoryMessages::default()),
//!     users.clone(),
//!     heard.clone(),
//!     Arc::new(SystemClock),
//! );
//! let accounts = AccountService::new(
//!     users,
//!     Arc::new(BcryptHasher::new(4)?),
//!     Arc::new(SystemClock),
//!     AccountSettings::default(),
//! );
//! let register = |name: &str| {
//!     accounts.register(Registration {
//!         username: name.into(),
//!         password: "Xk92!dumbo-lamp".into(),
//!         ..Registration::default()
//!     })
//! };
//! let (alice, bob) = (register("alice")?, register("bob")?);
//!
//! // Bob writes to Alice: the message is stored, and Alice hears of it.
//! let sent = messages.send(&bob, alice.id, "  Lunch at noon?  ")?;
//! assert_eq!(sent.content, "Lunch at noon?");
//! assert_eq!(messages.unread_count(&alice)?, 1);
//! assert_eq!(heard.0.lock().unwrap()[0], (alice.id, MessageEvent::New(sent.clone())));
//!
//! // Alice reads it: Bob hears the read receipt, once.
//! messages.mark_read(&alice, sent.id)?;
//! messages.mark_read(&alice, sent.id)?;
//! assert_eq!(messages.unread_count(&alice)?, 0);
//! let receipts = heard.0.lock().unwrap().iter().filter(|(who, _)| *who == bob.id).count();
//! assert_eq!(receipts, 1);
//!
//! // Blank messages and unknown receivers are refused; nothing is heard.
//! assert!(matches!(
//!     messages.send(&bob, alice.id, "   "),
//!     Err(MessagingError::InvalidContent(_))
//! ));
//! assert!(matches!(
//!     messages.send(&bob, UserId(99), "hello?"),
//!     Err(MessagingError::ReceiverNotFound)
//! ));
//! assert_eq!(heard.0.lock().unwrap().len(), 2);
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod error;
mod message;
mod ports;
mod service;

pub use error::MessagingError;
pub use message::{Message, MessageEvent, NewMessage};
pub use ports::{MessageNotifier, MessageRepository};
pub use service::{MessagingService, MAX_CONTENT_CHARS};
