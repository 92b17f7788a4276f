use serde_json::{Map, Value};

use crate::wire::{Expected, FieldIssue, Problem};

/// What is wrong with a value (the words of the field reader; the wire
/// types say it with [`Problem`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueKind {
    /// Absent.
    Missing,
    /// `null`.
    Null,
    /// Of another JSON type than expected.
    WrongType,
    /// Not a boolean where one is expected.
    NotBoolean,
    /// Not an integer where one is expected.
    NotInteger,
    /// Present but refused.
    Invalid,
}

/// An issue of this kind with `field`, worded by default as `message`.
pub(crate) fn issue(field: &str, kind: IssueKind, message: &str) -> FieldIssue {
    let problem = match kind {
        IssueKind::Missing => Problem::Missing,
        IssueKind::Null => Problem::Null,
        IssueKind::WrongType => Problem::WrongType(Expected::String),
        IssueKind::NotBoolean => Problem::WrongType(Expected::Boolean),
        IssueKind::NotInteger => Problem::WrongType(Expected::Integer),
        IssueKind::Invalid => return FieldIssue::invalid(field, "invalid", message),
    };
    FieldIssue::new(field, problem)
}

/// Reads typed fields out of a JSON object, collecting every problem so a
/// client learns about all bad fields at once.
#[derive(Debug)]
pub(crate) struct Fields {
    map: Map<String, Value>,
    issues: Vec<FieldIssue>,
}

impl Fields {
    pub(crate) fn new(map: Map<String, Value>) -> Self {
        Fields {
            map,
            issues: Vec::new(),
        }
    }

    /// A string field that must be present. When it is not, the problem is
    /// recorded for [`Fields::finish`] and an empty string stands in.
    pub(crate) fn required(&mut self, name: &str) -> String {
        match self.map.remove(name) {
            None => {
                self.issue(name, IssueKind::Missing, "This field is required.");
                String::new()
            }
            Some(value) => self.string_value(name, value).unwrap_or_default(),
        }
    }

    /// A string field that may be absent (absent and `null` give `None`).
    pub(crate) fn optional(&mut self, name: &str) -> Option<String> {
        match self.map.remove(name) {
            None | Some(Value::Null) => None,
            Some(value) => self.string_value(name, value),
        }
    }

    /// A boolean field that may be absent: a JSON boolean, or the strings
    /// `true`/`false`/`1`/`0` of a form (absent and `null` give `None`).
    pub(crate) fn optional_bool(&mut self, name: &str) -> Option<bool> {
        let parsed = match self.map.remove(name) {
            None | Some(Value::Null) => return None,
            Some(Value::Bool(b)) => Some(b),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            Some(_) => None,
        };
        if parsed.is_none() {
            self.issue(name, IssueKind::NotBoolean, "Must be a valid boolean.");
        }
        parsed
    }

    /// Whether the body has this key at all.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    fn string_value(&mut self, name: &str, value: Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s),
            Value::Null => {
                self.issue(name, IssueKind::Null, "This field may not be null.");
                None
            }
            _ => {
                self.issue(name, IssueKind::WrongType, "Not a valid string.");
                None
            }
        }
    }

    /// Records a problem found by the caller.
    pub(crate) fn issue(&mut self, name: &str, kind: IssueKind, message: &str) {
        self.issues.push(issue(name, kind, message));
    }

    /// The problems found so far.
    pub(crate) fn finish(self) -> Result<(), Vec<FieldIssue>> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(self.issues)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(value: Value) -> Fields {
        match value {
            Value::Object(map) => Fields::new(map),
            _ => unreachable!(),
        }
    }

    #[test]
    fn collects_every_problem() {
        let mut f = fields(json!({"a": "x", "b": 3, "c": null}));
        assert_eq!(f.required("a"), "x");
        assert_eq!(f.required("b"), "");
        assert_eq!(f.required("c"), "");
        assert_eq!(f.required("d"), "");
        assert_eq!(f.optional("e"), None);
        let issues = f.finish().unwrap_err();
        let kinds: Vec<_> = issues
            .iter()
            .map(|i| (i.field.as_str(), i.problem.clone()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("b", Problem::WrongType(Expected::String)),
                ("c", Problem::Null),
                ("d", Problem::Missing)
            ]
        );
    }
}
