use sesame_kernel::StorageError;

/// Everything that can go wrong with messages.
#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    /// The content is empty (after trimming) or longer than 5,000 characters.
    #[error("{0}")]
    InvalidContent(String),
    /// The receiver does not exist.
    #[error("receiver not found")]
    ReceiverNotFound,
    /// No such message, or not one the caller received.
    #[error("message not found")]
    MessageNotFound,
    /// The storage behind a port failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<sesame_users::UsersError> for MessagingError {
    fn from(error: sesame_users::UsersError) -> Self {
        match error {
            sesame_users::UsersError::Storage(e) => MessagingError::Storage(e),
            other => MessagingError::Storage(StorageError(other.to_string())),
        }
    }
}
