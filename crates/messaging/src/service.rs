use std::sync::Arc;

use sesame_kernel::{Clock, Page, UserId};
use sesame_users::{User, UserRepository};

use crate::{
    Message, MessageEvent, MessageNotifier, MessageRepository, MessagingError, NewMessage,
};

/// The longest message, in characters, after trimming.
pub const MAX_CONTENT_CHARS: usize = 5000;

/// Messaging use-cases: send, list, mark read, count unread.
#[derive(Clone)]
pub struct MessagingService {
    messages: Arc<dyn MessageRepository>,
    users: Arc<dyn UserRepository>,
    notifier: Arc<dyn MessageNotifier>,
    clock: Arc<dyn Clock>,
}

impl MessagingService {
    /// A service over these ports.
    pub fn new(
        messages: Arc<dyn MessageRepository>,
        users: Arc<dyn UserRepository>,
        notifier: Arc<dyn MessageNotifier>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        MessagingService {
            messages,
            users,
            notifier,
            clock,
        }
    }

    /// Stores a message from `sender` to `receiver_id` and notifies the receiver.
    ///
    /// # Errors
    /// [`MessagingError::InvalidContent`] for empty or too long content,
    /// [`MessagingError::ReceiverNotFound`], [`MessagingError::Storage`].
    pub fn send(
        &self,
        sender: &User,
        receiver_id: UserId,
        content: &str,
    ) -> Result<Message, MessagingError> {
        let content = content.trim();
        if sesame_kernel::is_blank(content) {
            return Err(MessagingError::InvalidContent(
                "Message content may not be blank.".into(),
            ));
        }
        if content.chars().count() > MAX_CONTENT_CHARS {
            return Err(MessagingError::InvalidContent(format!(
                "Message content may not be longer than {MAX_CONTENT_CHARS} characters."
            )));
        }
        if self.users.find_by_id(receiver_id)?.is_none() {
            return Err(MessagingError::ReceiverNotFound);
        }
        let message = self.messages.insert(&NewMessage {
            content: content.to_owned(),
            created_at: self.clock.now(),
            sender_id: sender.id,
            receiver_id,
        })?;
        self.notifier.notify(&MessageEvent::New(message.clone()));
        Ok(message)
    }

    /// Messages the user received, newest first.
    ///
    /// # Errors
    /// [`MessagingError::Storage`].
    pub fn received(&self, user: &User, page: Page) -> Result<Vec<Message>, MessagingError> {
        self.messages.received(user.id, page)
    }

    /// Messages the user sent, newest first.
    ///
    /// # Errors
    /// [`MessagingError::Storage`].
    pub fn sent(&self, user: &User, page: Page) -> Result<Vec<Message>, MessagingError> {
        self.messages.sent(user.id, page)
    }

    /// Marks a received message read; the sender is told the first time.
    /// Marking it again changes nothing.
    ///
    /// # Errors
    /// [`MessagingError::MessageNotFound`] when the message does not exist or
    /// was not received by `reader` (the same answer, so ids cannot be
    /// probed), [`MessagingError::Storage`].
    pub fn mark_read(&self, reader: &User, message_id: i64) -> Result<Message, MessagingError> {
        let (message, changed) = self
            .messages
            .mark_read(message_id, reader.id, self.clock.now())?
            .ok_or(MessagingError::MessageNotFound)?;
        if changed {
            self.notifier.notify(&MessageEvent::Read(message.clone()));
        }
        Ok(message)
    }

    /// How many received messages the user has not read.
    ///
    /// # Errors
    /// [`MessagingError::Storage`].
    pub fn unread_count(&self, user: &User) -> Result<i64, MessagingError> {
        self.messages.unread_count(user.id)
    }
}
