//! Request bodies as typed wire structs: each is one struct deriving
//! `Deserialize`, validator's `Validate` and utoipa's `ToSchema`, so the type
//! that parses a body is the type the OpenAPI document shows. [`Body`] reads
//! one, and reports every bad field at once as [`FieldIssue`]s for the
//! surface's [`Shape`] to word: a field of the wrong type does not hide the
//! other fields' problems.

use std::borrow::Cow;
use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::PartialSchema;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::body::read;
pub use crate::issue::{Expected, FieldIssue, Location, Problem, WHOLE_BODY};
use crate::{ApiError, AppState, Shape};

/// What a wire type is: parsed by serde, checked by validator, described by utoipa.
pub trait Wire: DeserializeOwned + Validate + PartialSchema + 'static {}

impl<T: DeserializeOwned + Validate + PartialSchema + 'static> Wire for T {}

/// A request body of wire type `T`, read as JSON (or, with `FORM`, also as
/// `application/x-www-form-urlencoded`), refused in surface `S`'s shape.
pub struct Body<T, S, const FORM: bool = false>(pub T, PhantomData<S>);

/// A body that may also come as an HTML form (only where a contract asks for one).
pub type FormOrJson<T, S> = Body<T, S, true>;

impl<T, S, const FORM: bool> Body<T, S, FORM> {
    /// The parsed body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: Wire, S: Shape, const FORM: bool> FromRequest for Body<T, S, FORM> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        let payload = web::Payload::from_request(&request, payload);
        Box::pin(async move {
            let payload = payload.await.map_err(|_| S::unavailable())?;
            let state = request
                .app_data::<web::Data<AppState>>()
                .ok_or_else(S::unavailable)?;
            let limit = state.settings.max_json_bytes;
            let map = read(&request, payload, limit, FORM)
                .await
                .map_err(S::body_error)?;
            decode::<T>(map)
                .map(|body| Body(body, PhantomData))
                .map_err(|issues| S::invalid(&issues))
        })
    }
}

/// Parses and checks `T` from a JSON object, finding every problem at once.
///
/// # Errors
/// Every bad field, in the order `T` declares its fields.
pub fn decode<T: Wire>(map: Map<String, Value>) -> Result<T, Vec<FieldIssue>> {
    let fields = Fields::of::<T>();
    let mut issues = fields.type_issues(&map);
    for (name, value) in &map {
        let unread = !fields.declares(name) || issues.iter().any(|issue| &issue.field == name);
        if !unread && holds_null_character(value) {
            issues.push(FieldIssue::invalid(
                name,
                "null_characters_not_allowed",
                "Null characters are not allowed.",
            ));
        }
    }
    let mut patched = map;
    for issue in &issues {
        fields.stand_in(&mut patched, &issue.field);
    }
    // Problems serde finds that the schema cannot tell (an integer out of
    // range): each one is recorded and stood in for, a few times at most.
    let mut parsed = None;
    for _ in 0..8 {
        let value = Value::Object(patched.clone());
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(body) => {
                parsed = Some(body);
                break;
            }
            Err(error) => {
                let field = error
                    .path()
                    .iter()
                    .next()
                    .map(|segment| segment.to_string());
                let field = field.unwrap_or_else(|| WHOLE_BODY.to_owned());
                if issues.iter().any(|issue| issue.field == field) {
                    break;
                }
                let expected = fields.expected(&field).unwrap_or(Expected::String);
                issues.push(FieldIssue::new(&field, Problem::WrongType(expected)));
                if field == WHOLE_BODY {
                    break;
                }
                fields.stand_in(&mut patched, &field);
            }
        }
    }
    if let Some(body) = &parsed {
        if let Err(errors) = body.validate() {
            let bad: Vec<String> = issues.iter().map(|issue| issue.field.clone()).collect();
            issues.extend(
                validation_issues(&errors)
                    .into_iter()
                    .filter(|issue| !bad.contains(&issue.field)),
            );
        }
    }
    match parsed {
        Some(body) if issues.is_empty() => Ok(body),
        _ => {
            fields.sort(&mut issues);
            Err(issues)
        }
    }
}

/// Whether `value` holds U+0000 in a string, at any depth: no field may,
/// as in Django REST framework, since PostgreSQL cannot store it.
fn holds_null_character(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_null_character),
        Value::Object(fields) => fields.values().any(holds_null_character),
        _ => false,
    }
}

/// validator's errors as issues (nested structs by their top field).
pub fn validation_issues(errors: &ValidationErrors) -> Vec<FieldIssue> {
    let mut issues = Vec::new();
    for (field, kind) in errors.errors() {
        let field = if field == "__all__" {
            WHOLE_BODY
        } else {
            field.as_ref()
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    let params: Vec<(Cow<'static, str>, String)> = error
                        .params
                        .iter()
                        .filter(|(name, _)| name.as_ref() != "value")
                        .map(|(name, value)| {
                            let value = match value {
                                Value::String(text) => text.clone(),
                                other => other.to_string(),
                            };
                            (name.clone(), value)
                        })
                        .collect();
                    let message = match &error.message {
                        Some(message) => message.to_string(),
                        None => default_message(&error.code, &params),
                    };
                    issues.push(FieldIssue::new(
                        field,
                        Problem::Invalid {
                            code: error.code.clone(),
                            params,
                            message,
                        },
                    ));
                }
            }
            ValidationErrorsKind::Struct(inner) => {
                issues.extend(validation_issues(inner).into_iter().map(|mut issue| {
                    issue.field = field.to_owned();
                    issue
                }))
            }
            ValidationErrorsKind::List(_) => issues.push(FieldIssue::invalid(
                field,
                "invalid",
                "Some items of this list are invalid.",
            )),
        }
    }
    issues
}

/// validator's rules in Django's words.
fn default_message(code: &str, params: &[(Cow<'static, str>, String)]) -> String {
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    match code {
        "email" => "Enter a valid email address.".to_owned(),
        "url" => "Enter a valid URL.".to_owned(),
        "length" => match (param("min"), param("max")) {
            (Some(min), _) if min == "1" => "This field may not be blank.".to_owned(),
            (_, Some(max)) => format!("Ensure this field has no more than {max} characters."),
            (Some(min), None) => format!("Ensure this field has at least {min} characters."),
            (None, None) => "Invalid length.".to_owned(),
        },
        "range" => match (param("min"), param("max")) {
            (Some(min), _) => format!("Ensure this value is greater than or equal to {min}."),
            (None, Some(max)) => format!("Ensure this value is less than or equal to {max}."),
            (None, None) => "Out of range.".to_owned(),
        },
        _ => "Invalid value.".to_owned(),
    }
}

/// The fields of a wire type as its schema declares them: in order, with
/// their JSON type and whether they are required.
struct Fields {
    declared: Vec<Declared>,
}

struct Declared {
    name: String,
    expected: Option<Expected>,
    nullable: bool,
    required: bool,
}

impl Fields {
    fn of<T: PartialSchema>() -> Fields {
        let RefOr::T(Schema::Object(object)) = T::schema() else {
            return Fields {
                declared: Vec::new(),
            };
        };
        let declared = object
            .properties
            .iter()
            .map(|(name, property)| {
                let (expected, nullable) = match property {
                    RefOr::T(Schema::Object(field)) => types_of(&field.schema_type),
                    RefOr::T(Schema::Array(_)) => (Some(Expected::Array), false),
                    RefOr::T(Schema::OneOf(one_of)) => {
                        let nullable = one_of.items.iter().any(|item| {
                            matches!(item, RefOr::T(Schema::Object(o))
                                if types_of(&o.schema_type).1)
                        });
                        (None, nullable)
                    }
                    _ => (Some(Expected::Object), false),
                };
                Declared {
                    name: name.clone(),
                    expected,
                    nullable,
                    required: object.required.contains(name),
                }
            })
            .collect();
        Fields { declared }
    }

    fn declares(&self, name: &str) -> bool {
        self.declared.iter().any(|field| field.name == name)
    }

    fn expected(&self, name: &str) -> Option<Expected> {
        self.declared
            .iter()
            .find(|field| field.name == name)
            .and_then(|field| field.expected)
    }

    /// Missing, `null` and wrongly typed fields.
    fn type_issues(&self, map: &Map<String, Value>) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        for field in &self.declared {
            let problem = match map.get(&field.name) {
                None if field.required => Some(Problem::Missing),
                None => None,
                Some(Value::Null) if field.nullable || !field.required => None,
                Some(Value::Null) => Some(Problem::Null),
                Some(value) => field
                    .expected
                    .filter(|expected| !fits(value, *expected))
                    .map(Problem::WrongType),
            };
            if let Some(problem) = problem {
                issues.push(FieldIssue::new(&field.name, problem));
            }
        }
        issues
    }

    /// Puts a value of the right type in place of a bad one, so that the
    /// other fields can still be parsed and checked.
    fn stand_in(&self, map: &mut Map<String, Value>, name: &str) {
        let value = match self.expected(name) {
            Some(Expected::Integer | Expected::Number) => Value::from(0),
            Some(Expected::Boolean) => Value::Bool(false),
            Some(Expected::Object) => Value::Object(Map::new()),
            Some(Expected::Array) => Value::Array(Vec::new()),
            Some(Expected::String) | None => Value::String(String::new()),
        };
        map.insert(name.to_owned(), value);
    }

    fn sort(&self, issues: &mut [FieldIssue]) {
        let position = |issue: &FieldIssue| {
            self.declared
                .iter()
                .position(|field| field.name == issue.field)
                .unwrap_or(usize::MAX)
        };
        issues.sort_by_key(position);
    }
}

fn types_of(schema_type: &SchemaType) -> (Option<Expected>, bool) {
    let types: &[Type] = match schema_type {
        SchemaType::Type(single) => std::slice::from_ref(single),
        SchemaType::Array(many) => many,
        SchemaType::AnyValue => return (None, true),
    };
    let nullable = types.contains(&Type::Null);
    let expected = types.iter().find_map(|kind| match kind {
        Type::String => Some(Expected::String),
        Type::Integer => Some(Expected::Integer),
        Type::Number => Some(Expected::Number),
        Type::Boolean => Some(Expected::Boolean),
        Type::Object => Some(Expected::Object),
        Type::Array => Some(Expected::Array),
        Type::Null => None,
    });
    (expected, nullable)
}

/// Whether `value` can be read as `expected` (leniently, as pydantic's lax
/// mode and HTML forms do: `3.0` and `"3"` are integers, `"true"` a boolean).
fn fits(value: &Value, expected: Expected) -> bool {
    match expected {
        Expected::String => value.is_string(),
        Expected::Integer => lax_integer(value).is_some(),
        Expected::Number => value.is_number(),
        Expected::Boolean => lax_bool(value).is_some(),
        Expected::Object => value.is_object(),
        Expected::Array => value.is_array(),
    }
}

fn lax_integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64().or_else(|| {
            let float = number.as_f64()?;
            // i64::MAX is not exact as an f64; the bound is 2^63, exclusive.
            let in_range =
                (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&float);
            (float.fract() == 0.0 && in_range).then_some(float as i64)
        }),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn lax_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// `#[serde(deserialize_with = "wire::integer")]`: an integer as [`fits`] reads one.
pub fn integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    optional_integer(deserializer)?.ok_or_else(|| serde::de::Error::custom("expected an integer"))
}

/// [`integer`], for a field that may be absent or `null`.
pub fn optional_integer<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    lax(deserializer, lax_integer, "expected an integer")
}

/// `#[serde(deserialize_with = "wire::optional_bool")]`, for a field that may be
/// absent or `null`: a boolean as [`fits`] reads one.
pub fn optional_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    lax(deserializer, lax_bool, "expected a boolean")
}

/// `null` as `None`, any other value as `read` reads it.
fn lax<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    read: fn(&Value) -> Option<T>,
    expected: &'static str,
) -> Result<Option<T>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(None),
        value => read(&value)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(expected)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use utoipa::ToSchema;

    #[derive(Debug, Deserialize, Validate, ToSchema)]
    struct Sample {
        #[validate(length(min = 1, max = 5))]
        name: String,
        #[serde(deserialize_with = "integer")]
        #[schema(value_type = i64)]
        count: i64,
        #[serde(default, deserialize_with = "optional_bool")]
        flag: Option<bool>,
        note: Option<String>,
    }

    fn issues(body: Value) -> Vec<(String, Problem)> {
        let Value::Object(map) = body else {
            unreachable!()
        };
        decode::<Sample>(map)
            .unwrap_err()
            .into_iter()
            .map(|issue| (issue.field, issue.problem))
            .collect()
    }

    #[test]
    fn a_wrong_type_does_not_hide_the_other_fields() {
        let found = issues(json!({"name": "toolong", "count": "x", "flag": 3}));
        let fields: Vec<&str> = found.iter().map(|(field, _)| field.as_str()).collect();
        assert_eq!(fields, ["name", "count", "flag"]);
        assert_eq!(found[1].1, Problem::WrongType(Expected::Integer));
        assert_eq!(found[2].1, Problem::WrongType(Expected::Boolean));
        assert!(matches!(&found[0].1, Problem::Invalid { code, .. } if code == "length"));
    }

    #[test]
    fn a_null_character_is_refused_in_the_fields_read_and_only_there() {
        let found = issues(json!({"name": "a\u{0}", "count": 1, "ignored": "b\u{0}"}));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "name");
        assert!(
            matches!(&found[0].1, Problem::Invalid { code, .. } if code == "null_characters_not_allowed")
        );
    }

    #[test]
    fn missing_null_and_lax_values() {
        let found = issues(json!({"name": null}));
        assert_eq!(
            found,
            [
                ("name".to_owned(), Problem::Null),
                ("count".to_owned(), Problem::Missing)
            ]
        );
        let Value::Object(map) = json!({"name": "a", "count": "7", "flag": "1", "note": null})
        else {
            unreachable!()
        };
        let sample = decode::<Sample>(map).unwrap();
        assert_eq!(
            (sample.count, sample.flag, sample.note),
            (7, Some(true), None)
        );
    }

    #[test]
    fn integers_with_a_zero_fraction_count() {
        assert_eq!(lax_integer(&json!(344.0)), Some(344));
        assert_eq!(lax_integer(&json!(1.5)), None);
        assert_eq!(lax_integer(&json!(1e300)), None);
        let found = issues(json!({"name": "a", "count": 1e300}));
        assert_eq!(
            found,
            [("count".to_owned(), Problem::WrongType(Expected::Integer))]
        );
    }
}
