//! Query strings as typed wire structs: `serde` + `validator` to read them,
//! utoipa's `IntoParams` to document them, so the struct that parses the
//! parameters is the one the OpenAPI document shows. [`parse`] and
//! [`Listing`] report every bad parameter at once.

use std::future::{ready, Ready};
use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::Deserialize;
use serde_json::{Map, Value};
use sesame_kernel::Page;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::wire::{self, decode, FieldIssue, Wire};
use crate::{ApiError, Shape};

/// The query string's parameters as a JSON object (the last value of a
/// name wins). An empty value (`?skip=`) reads as absent, as a blank form
/// field does.
fn query_object(request: &HttpRequest) -> Map<String, Value> {
    let mut parameters: Map<String, Value> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(request.query_string())
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| (name, Value::String(value)))
            .collect();
    parameters.retain(|_, value| value.as_str().is_some_and(|text| !text.trim().is_empty()));
    parameters
}

/// Parses and checks `T` from the parameters of a query string.
///
/// # Errors
/// Every bad parameter, located in the query.
fn decode_query<T: Wire>(parameters: Map<String, Value>) -> Result<T, Vec<FieldIssue>> {
    decode::<T>(parameters).map_err(|issues| issues.into_iter().map(FieldIssue::in_query).collect())
}

/// Parses and checks `T` from the query string ([`query_object`]).
///
/// # Errors
/// Every bad parameter, located in the query.
pub(crate) fn parse<T: Wire>(request: &HttpRequest) -> Result<T, Vec<FieldIssue>> {
    decode_query(query_object(request))
}

/// `skip` and `limit`, on every list.
#[derive(Debug, Deserialize, Validate, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items to pass over (default 0).
    #[serde(default, deserialize_with = "wire::optional_integer")]
    #[validate(range(min = 0))]
    #[param(minimum = 0)]
    skip: Option<i64>,
    /// Items to return (default 100; clamped to 1..=100).
    #[serde(default, deserialize_with = "wire::optional_integer")]
    #[validate(range(min = 0))]
    #[param(minimum = 0)]
    limit: Option<i64>,
}

impl PageParams {
    /// The page asked for, defaults and bounds applied.
    pub(crate) fn page(&self) -> Page {
        Page::new(self.skip, self.limit)
    }
}

/// The query string of a filtered list: its page and its filters, wire type
/// `F`, every bad parameter of either reported at once in `S`'s shape.
pub(crate) struct Listing<F, S> {
    pub(crate) page: Page,
    pub(crate) filter: F,
    shape: PhantomData<S>,
}

impl<F: Wire, S: Shape> FromRequest for Listing<F, S> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parameters = query_object(request);
        let page = decode_query::<PageParams>(parameters.clone());
        let listing = match (page, decode_query::<F>(parameters)) {
            (Ok(page), Ok(filter)) => Ok(Listing {
                page: page.page(),
                filter,
                shape: PhantomData,
            }),
            (page, filter) => {
                let mut issues = page.err().unwrap_or_default();
                issues.extend(filter.err().unwrap_or_default());
                Err(S::invalid(&issues))
            }
        };
        ready(listing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Expected, Location, Problem};
    use actix_web::test::TestRequest;

    fn page(query: &str) -> Result<Page, Vec<FieldIssue>> {
        let request = TestRequest::with_uri(&format!("/list?{query}")).to_http_request();
        parse::<PageParams>(&request).map(|params| params.page())
    }

    #[test]
    fn defaults_bounds_and_lax_integers() {
        assert_eq!(page(""), Ok(Page::new(None, None)));
        assert_eq!(page("skip=&limit=%20"), Ok(Page::new(None, None)));
        assert_eq!(page("skip=3&limit=500"), Ok(Page::new(Some(3), Some(100))));
        assert_eq!(page("skip=1&skip=2&other=x"), Ok(Page::new(Some(2), None)));
    }

    #[test]
    fn every_bad_parameter_is_reported_in_the_query() {
        let issues = page("limit=-1&skip=lots").unwrap_err();
        assert_eq!(issues.len(), 2, "{issues:?}");
        assert!(issues.iter().all(|i| i.location == Location::Query));
        assert_eq!(issues[0].field, "skip");
        assert_eq!(issues[0].problem, Problem::WrongType(Expected::Integer));
        assert_eq!(issues[1].field, "limit");
        assert_eq!(issues[1].code(), Some("range"));
        assert_eq!(issues[1].param("min"), Some("0"));
        assert_eq!(
            issues[1].message(),
            "Ensure this value is greater than or equal to 0."
        );
    }
}
