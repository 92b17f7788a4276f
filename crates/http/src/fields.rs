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
        IssueKind::NotInteger => Problem::WrongType(Expected::Integer),
        IssueKind::Invalid => return FieldIssue::invalid(field, "invalid", message),
    };
    FieldIssue::new(field, problem)
}

/// A JSON number as an integer: `3`, or `3.0` (JSON Schema, and pydantic's
/// lax mode, count a float without a fraction as an integer).
pub(crate) fn integer_of(number: &serde_json::Number) -> Option<i64> {
    number.as_i64().or_else(|| {
        let float = number.as_f64()?;
        // i64::MAX is not exact as an f64; the bound is 2^63, exclusive.
        let in_range = (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&float);
        (float.fract() == 0.0 && in_range).then_some(float as i64)
    })
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

    /// An integer field that must be present (a JSON number, or a string of digits).
    pub(crate) fn required_integer(&mut self, name: &str) -> i64 {
        let parsed = match self.map.remove(name) {
            None => {
                self.issue(name, IssueKind::Missing, "This field is required.");
                return 0;
            }
            Some(Value::Number(n)) => integer_of(&n),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
        };
        parsed.unwrap_or_else(|| {
            self.issue(name, IssueKind::NotInteger, "A valid integer is required.");
            0
        })
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

    #[test]
    fn integers_with_a_zero_fraction_count() {
        let mut f = fields(json!({"a": 3, "b": 344.0, "c": 1.5, "d": 1e300, "e": "7"}));
        assert_eq!(f.required_integer("a"), 3);
        assert_eq!(f.required_integer("b"), 344);
        assert_eq!(f.required_integer("e"), 7);
        f.required_integer("c");
        f.required_integer("d");
        let bad: Vec<_> = f
            .finish()
            .unwrap_err()
            .into_iter()
            .map(|i| i.field)
            .collect();
        assert_eq!(bad, ["c", "d"]);
    }

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
