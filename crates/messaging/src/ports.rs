use sesame_kernel::{Page, Timestamp, UserId};

use crate::{Message, MessageEvent, MessagingError, NewMessage};

/// Where messages are kept.
pub trait MessageRepository: Send + Sync {
    /// Stores a message and returns it with its id.
    ///
    /// # Errors
    /// [`MessagingError::ReceiverNotFound`] if the receiver vanished meanwhile,
    /// [`MessagingError::Storage`].
    fn insert(&self, message: &NewMessage) -> Result<Message, MessagingError>;

    /// One message by id.
    ///
    /// # Errors
    /// [`MessagingError::Storage`].
    fn find(&self, id: i64) -> Result<Option<Message>, MessagingError>;

    /// Messages the user received, newest first.
    ///
    /// # Errors
    /// [`MessagingError::Storage`].
    fn received(&self, user: UserId, page: Page) -> Result<Vec<Message>, MessagingError>;

    /// Messages the user sent, newest first.
    ///
    /// # Errors
    /// [`MessagingError::Storage`].
    fn sent(&self, user: UserId, page: Page) -> Result<Vec<Message>, MessagingError>;

    /// Marks the message read if `receiver` received it. Returns the message
    /// and whether this call is the one that changed it from unread to read;
    /// `None` when it is not the receiver's message.
    ///
    /// # Errors
    /// [`MessagingError::Storage`].
    fn mark_read(
        &self,
        id: i64,
        receiver: UserId,
        at: Timestamp,
    ) -> Result<Option<(Message, bool)>, MessagingError>;

    /// How many messages the user received and has not read.
    ///
    /// # Errors
    /// [`MessagingError::Storage`].
    fn unread_count(&self, user: UserId) -> Result<i64, MessagingError>;
}

/// Pushes message events to whoever listens (live sockets, other instances).
/// Delivery is best effort and never fails the use-case that caused it.
pub trait MessageNotifier: Send + Sync {
    /// Tells the event's audience.
    fn notify(&self, event: &MessageEvent);
}
