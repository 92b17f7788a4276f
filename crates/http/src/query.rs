use std::collections::HashMap;

use actix_web::HttpRequest;
use sesame_kernel::Page;

use crate::fields::{issue, IssueKind};
use crate::wire::FieldIssue;

/// The query string as name → value (the last value wins).
pub(crate) fn query_map(request: &HttpRequest) -> HashMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(request.query_string())
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// `skip` and `limit` from the query string.
pub(crate) fn page(query: &HashMap<String, String>) -> Result<Page, Vec<FieldIssue>> {
    let mut issues = Vec::new();
    let mut number = |name: &str| match query.get(name).map(|v| v.trim()) {
        None | Some("") => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            Ok(_) => {
                issues.push(
                    issue(
                        name,
                        IssueKind::Invalid,
                        "Ensure this value is greater than or equal to 0.",
                    )
                    .in_query(),
                );
                None
            }
            Err(_) => {
                issues.push(
                    issue(name, IssueKind::NotInteger, "A valid integer is required.").in_query(),
                );
                None
            }
        },
    };
    let skip = number("skip");
    let limit = number("limit");
    if issues.is_empty() {
        Ok(Page::new(skip, limit))
    } else {
        Err(issues)
    }
}
