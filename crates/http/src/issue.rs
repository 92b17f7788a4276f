//! One bad input value, found by the kit ([`crate::wire`], the query
//! reader) or by the domain, before a surface words it in its own shape.

use std::borrow::Cow;

/// Where a bad value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The request body.
    Body,
    /// The query string.
    Query,
}

/// The JSON type a field should have had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// A string.
    String,
    /// An integer (a number without a fraction, or a string of digits).
    Integer,
    /// A number.
    Number,
    /// `true` or `false` (or, from a form, `"true"`, `"false"`, `"1"`, `"0"`).
    Boolean,
    /// An object.
    Object,
    /// A list.
    Array,
}

/// What is wrong with one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Absent, and required.
    Missing,
    /// `null` where a value is required.
    Null,
    /// Of another type.
    WrongType(Expected),
    /// Of the right type, but breaking a rule: `code` names the rule
    /// (`blank`, `max_length`, `invalid_email`, ...), `params` its bounds,
    /// and `message` words it in English (Django's words), the default a
    /// surface may replace with its own.
    Invalid {
        /// The rule broken.
        code: Cow<'static, str>,
        /// The rule's parameters (`max` → `150`).
        params: Vec<(Cow<'static, str>, String)>,
        /// The default wording.
        message: String,
    },
}

/// One bad input value, before a surface words it in its own shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldIssue {
    /// The field name (`non_field_errors` for a problem of the whole body).
    pub field: String,
    /// Body or query.
    pub location: Location,
    /// What is wrong.
    pub problem: Problem,
}

/// The field name of problems that concern the whole body.
pub const WHOLE_BODY: &str = "non_field_errors";

impl FieldIssue {
    /// A `problem` with the body field `field`.
    pub fn new(field: &str, problem: Problem) -> Self {
        FieldIssue {
            field: field.to_owned(),
            location: Location::Body,
            problem,
        }
    }

    /// A rule `code` broken by `field`, worded by default as `message`.
    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            field,
            Problem::Invalid {
                code: Cow::Borrowed(code),
                params: Vec::new(),
                message: message.into(),
            },
        )
    }

    /// The same issue, found in the query string.
    pub fn in_query(mut self) -> Self {
        self.location = Location::Query;
        self
    }

    /// The rule code of an [`Problem::Invalid`] issue.
    pub fn code(&self) -> Option<&str> {
        match &self.problem {
            Problem::Invalid { code, .. } => Some(code),
            _ => None,
        }
    }

    /// A parameter of the broken rule.
    pub fn param(&self, name: &str) -> Option<&str> {
        match &self.problem {
            Problem::Invalid { params, .. } => params
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str()),
            _ => None,
        }
    }

    /// The default (English) wording of the issue.
    pub fn message(&self) -> &str {
        match &self.problem {
            Problem::Missing => "This field is required.",
            Problem::Null => "This field may not be null.",
            Problem::WrongType(Expected::String) => "Not a valid string.",
            Problem::WrongType(Expected::Integer) => "A valid integer is required.",
            Problem::WrongType(Expected::Number) => "A valid number is required.",
            Problem::WrongType(Expected::Boolean) => "Must be a valid boolean.",
            Problem::WrongType(Expected::Object) => "Expected a dictionary of items.",
            Problem::WrongType(Expected::Array) => "Expected a list of items.",
            Problem::Invalid { message, .. } => message,
        }
    }
}

impl From<&sesame_users::FieldError> for FieldIssue {
    fn from(error: &sesame_users::FieldError) -> Self {
        FieldIssue::domain(&error.field, error.code, &error.params, &error.message)
    }
}

impl From<&sesame_events::FieldError> for FieldIssue {
    fn from(error: &sesame_events::FieldError) -> Self {
        FieldIssue::domain(&error.field, error.code, &error.params, &error.message)
    }
}

impl FieldIssue {
    /// A domain rule `code` broken by `field`, with its parameters and default words.
    fn domain(
        field: &str,
        code: &'static str,
        params: &[(&'static str, String)],
        message: &str,
    ) -> Self {
        FieldIssue::new(
            field,
            Problem::Invalid {
                code: Cow::Borrowed(code),
                params: params
                    .iter()
                    .map(|(name, value)| (Cow::Borrowed(*name), value.clone()))
                    .collect(),
                message: message.to_owned(),
            },
        )
    }
}

/// `text` with its first letter in capitals, as the surfaces name a field
/// at the start of a sentence.
pub(crate) fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    let first = chars.next().map(char::to_uppercase);
    first.into_iter().flatten().chain(chars).collect()
}
