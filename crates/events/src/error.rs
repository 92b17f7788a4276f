use sesame_kernel::StorageError;

/// A problem with one input field, in words a client can show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The name of the field as the client sent it (`title`, `date`, ...).
    pub field: String,
    /// A machine code for the rule broken (`blank`, `max_length`,
    /// `invalid_date`, `min_value`): what a surface words the problem from.
    pub code: &'static str,
    /// The rule's parameters (`max` → `200`), for that wording.
    pub params: Vec<(&'static str, String)>,
    /// What is wrong with it, in English: the default wording.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code: "invalid",
            params: Vec::new(),
            message: message.into(),
        }
    }

    /// The same problem under a more precise machine code.
    pub fn coded(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// Adds a parameter of the rule (`max` → `200`).
    pub fn param(mut self, name: &'static str, value: impl ToString) -> Self {
        self.params.push((name, value.to_string()));
        self
    }
}

/// Everything that can go wrong with events.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// One or more fields are invalid.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// Another event already has this title (ignoring case).
    #[error("an event with this title already exists")]
    TitleTaken,
    /// No event has this id.
    #[error("event not found")]
    NotFound,
    /// The caller is neither the organizer nor an admin.
    #[error("only the organizer or an admin may change this event")]
    Forbidden,
    /// The event has a capacity and every place is taken.
    #[error("the event is full")]
    Full,
    /// The storage behind a port failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl EventError {
    /// The field errors, if this is a validation error.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            EventError::Invalid(errors) => errors,
            _ => &[],
        }
    }
}
