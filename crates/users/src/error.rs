use sesame_kernel::StorageError;

/// What kind of problem a field has, for surfaces that answer differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldProblem {
    /// Empty where a value is needed.
    Blank,
    /// Malformed or out of bounds.
    Invalid,
    /// Already used by another account.
    Taken,
    /// A password the policy refuses.
    WeakPassword,
}

/// A problem with one input field, in words a client can show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The name of the field as the client sent it (`username`, `email`, ...).
    pub field: String,
    /// What kind of problem it is.
    pub problem: FieldProblem,
    /// A machine code for the rule broken (`blank`, `max_length`,
    /// `invalid_email`, `password_too_short`, ...): what a surface words
    /// the problem from, in its own words.
    pub code: &'static str,
    /// The rule's parameters (`max` → `150`), for that wording.
    pub params: Vec<(&'static str, String)>,
    /// The problem in English, Django's words: the default wording.
    pub message: String,
}

impl FieldError {
    /// A malformed `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::with_problem(field, FieldProblem::Invalid, message)
    }

    /// A `field` with a problem of this kind.
    pub fn with_problem(
        field: impl Into<String>,
        problem: FieldProblem,
        message: impl Into<String>,
    ) -> Self {
        let code = match problem {
            FieldProblem::Blank => "blank",
            FieldProblem::Invalid => "invalid",
            FieldProblem::Taken => "taken",
            FieldProblem::WeakPassword => "weak_password",
        };
        FieldError {
            field: field.into(),
            problem,
            code,
            params: Vec::new(),
            message: message.into(),
        }
    }

    /// The same problem under a more precise machine code.
    pub fn coded(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// Adds a parameter of the rule (`max` → `150`).
    pub fn param(mut self, name: &'static str, value: impl ToString) -> Self {
        self.params.push((name, value.to_string()));
        self
    }

    /// A `field` longer than `max` characters.
    pub(crate) fn max_length(field: impl Into<String>, max: usize) -> Self {
        Self::new(
            field,
            format!("Ensure this field has no more than {max} characters."),
        )
        .coded("max_length")
        .param("max", max)
    }

    /// An empty `field`.
    pub fn blank(field: impl Into<String>) -> Self {
        Self::with_problem(field, FieldProblem::Blank, "This field may not be blank.")
    }

    /// A username or email `field` that another account has.
    pub fn taken(field: &str) -> Self {
        let what = if field.contains("email") {
            "email"
        } else {
            "username"
        };
        Self::with_problem(
            field,
            FieldProblem::Taken,
            format!("A user with that {what} already exists."),
        )
    }
}

/// Everything that can go wrong with accounts.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// One or more fields are invalid.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// Another account already has this username.
    #[error("a user with that username already exists")]
    UsernameTaken,
    /// Another account already has this email address.
    #[error("a user with that email already exists")]
    EmailTaken,
    /// No account matches these credentials (unknown login or wrong password).
    #[error("no active account found with the given credentials")]
    InvalidCredentials,
    /// The credentials are right but the account is not active.
    #[error("this account is not active")]
    AccountInactive,
    /// The current password given to confirm a change is wrong.
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    /// Too many wrong current passwords: confirmations of this account are
    /// refused for this many seconds.
    #[error("too many wrong passwords; retry in {0} s")]
    ConfirmationThrottled(u64),
    /// No such account, or not one the caller may see.
    #[error("user not found")]
    NotFound,
    /// Something only an admin (or, for their own account, its owner) may do.
    #[error("only an admin may do this")]
    Forbidden,
    /// Accounts must be activated by email, and the registration has no
    /// email address to send the link to.
    #[error("accounts need email activation, and the registration has no email address")]
    ActivationNeedsEmail,
    /// The storage behind a port failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl UsersError {
    /// One invalid field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        UsersError::Invalid(vec![FieldError::new(field, message)])
    }

    /// The field errors, if this is a validation error.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            UsersError::Invalid(errors) => errors,
            _ => &[],
        }
    }

    /// Whether any field is already used by another account.
    pub fn is_taken(&self) -> bool {
        self.field_errors()
            .iter()
            .any(|e| e.problem == FieldProblem::Taken)
    }
}
