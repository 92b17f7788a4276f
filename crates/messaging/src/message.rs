use sesame_kernel::{Timestamp, UserId};

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its id.
    pub id: i64,
    /// The text, trimmed.
    pub content: String,
    /// When it was sent.
    pub created_at: Timestamp,
    /// Who sent it.
    pub sender_id: UserId,
    /// Who receives it.
    pub receiver_id: UserId,
    /// Whether the receiver has read it.
    pub is_read: bool,
}

/// A message about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The text, already checked and trimmed.
    pub content: String,
    /// When it was sent.
    pub created_at: Timestamp,
    /// Who sends it.
    pub sender_id: UserId,
    /// Who receives it.
    pub receiver_id: UserId,
}

/// Something live connections must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageEvent {
    /// A message was stored: its receiver hears about it.
    New(Message),
    /// A message was read for the first time: its sender hears about it.
    Read(Message),
}

impl MessageEvent {
    /// The message concerned.
    pub fn message(&self) -> &Message {
        match self {
            MessageEvent::New(message) | MessageEvent::Read(message) => message,
        }
    }

    /// The user whose connections hear about it.
    pub fn audience(&self) -> UserId {
        match self {
            MessageEvent::New(message) => message.receiver_id,
            MessageEvent::Read(message) => message.sender_id,
        }
    }
}
