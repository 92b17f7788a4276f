use std::sync::Mutex;

use sesame_kernel::{Page, Timestamp, UserId};
use sesame_messaging::{
    Message, MessageEvent, MessageNotifier, MessageRepository, MessagingError, NewMessage,
};

/// Messages in memory.
#[derive(Debug, Default)]
pub struct InMemoryMessages {
    messages: Mutex<Vec<Message>>,
}

impl InMemoryMessages {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn newest_first(mut messages: Vec<Message>, page: Page) -> Vec<Message> {
    messages.sort_by_key(|m| std::cmp::Reverse(m.id));
    messages
        .into_iter()
        .skip(page.skip as usize)
        .take(page.limit as usize)
        .collect()
}

impl MessageRepository for InMemoryMessages {
    fn insert(&self, message: &NewMessage) -> Result<Message, MessagingError> {
        let mut messages = self.messages.lock().unwrap();
        let stored = Message {
            id: messages.len() as i64 + 1,
            content: message.content.clone(),
            created_at: message.created_at,
            sender_id: message.sender_id,
            receiver_id: message.receiver_id,
            is_read: false,
        };
        messages.push(stored.clone());
        Ok(stored)
    }

    fn find(&self, id: i64) -> Result<Option<Message>, MessagingError> {
        Ok(self
            .messages
            .lock()
            .unwrap()
            .iter()
            .find(|m| m.id == id)
            .cloned())
    }

    fn received(&self, user: UserId, page: Page) -> Result<Vec<Message>, MessagingError> {
        let all = self.messages.lock().unwrap();
        Ok(newest_first(
            all.iter()
                .filter(|m| m.receiver_id == user)
                .cloned()
                .collect(),
            page,
        ))
    }

    fn sent(&self, user: UserId, page: Page) -> Result<Vec<Message>, MessagingError> {
        let all = self.messages.lock().unwrap();
        Ok(newest_first(
            all.iter()
                .filter(|m| m.sender_id == user)
                .cloned()
                .collect(),
            page,
        ))
    }

    fn mark_read(
        &self,
        id: i64,
        receiver: UserId,
        _at: Timestamp,
    ) -> Result<Option<(Message, bool)>, MessagingError> {
        let mut all = self.messages.lock().unwrap();
        Ok(all
            .iter_mut()
            .find(|m| m.id == id && m.receiver_id == receiver)
            .map(|m| {
                let changed = !m.is_read;
                m.is_read = true;
                (m.clone(), changed)
            }))
    }

    fn unread_count(&self, user: UserId) -> Result<i64, MessagingError> {
        let all = self.messages.lock().unwrap();
        Ok(all
            .iter()
            .filter(|m| m.receiver_id == user && !m.is_read)
            .count() as i64)
    }
}

/// A notifier that remembers every event it was given.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    events: Mutex<Vec<MessageEvent>>,
}

impl RecordingNotifier {
    /// A notifier with nothing recorded.
    pub fn new() -> Self {
        Self::default()
    }

    /// The events so far, oldest first.
    pub fn events(&self) -> Vec<MessageEvent> {
        self.events.lock().unwrap().clone()
    }
}

impl MessageNotifier for RecordingNotifier {
    fn notify(&self, event: &MessageEvent) {
        self.events.lock().unwrap().push(event.clone());
    }
}
