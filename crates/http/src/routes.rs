//! Which methods each served path answers and in which surface's shape it
//! words errors, for the answers made outside the handlers: 405 with
//! `Allow` for a known path asked with a method it does not serve, and 408
//! for a body that stalls (see [`crate::stall`]).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, ALLOW};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};

use crate::declare::{Answers, Part};
use crate::surfaces::{parts, FastApi};
use crate::HttpSettings;

/// The served paths: their patterns, methods, credential methods and the
/// words of their surface.
pub struct Routes {
    entries: Vec<Entry>,
}

struct Entry {
    pattern: ResourceDef,
    methods: Vec<Method>,
    credential: bool,
    answers: Answers,
}

impl Routes {
    /// The routes of the enabled surfaces, as they declare them, and the
    /// served paths no surface declares.
    pub fn new(settings: &HttpSettings) -> Routes {
        let mut entries: Vec<Entry> = parts(settings)
            .into_iter()
            .flat_map(|part: Part| {
                let answers = part.answers;
                part.routes.into_iter().map(move |route| Entry {
                    pattern: ResourceDef::new(route.path),
                    methods: route.methods,
                    credential: route.credential,
                    answers,
                })
            })
            .collect();
        // This document and its UI, served by utoipa's handlers.
        for path in ["/openapi.json", "/docs", "/docs/{_:.*}"] {
            entries.push(Entry {
                pattern: ResourceDef::new(path),
                methods: vec![Method::GET],
                credential: false,
                answers: Answers::of::<FastApi>(),
            });
        }
        Routes { entries }
    }

    /// The methods `path` is served with, in a fixed order; empty for an
    /// unknown path.
    pub fn allowed(&self, path: &str) -> Vec<Method> {
        let served: Vec<&Method> = self
            .matching(path)
            .flat_map(|entry| &entry.methods)
            .collect();
        ORDER
            .iter()
            .filter(|method| served.contains(method))
            .cloned()
            .collect()
    }

    /// Whether `method` on `path` is a declared credential route.
    pub(crate) fn is_credential(&self, method: &Method, path: &str) -> bool {
        // Asked on every request: the pattern, a regex for most paths, is
        // matched only against the few entries that could answer yes.
        self.entries.iter().any(|entry| {
            entry.credential && entry.methods.contains(method) && entry.pattern.is_match(path)
        })
    }

    /// The words of the surface serving `path` (FastAPI's for a path no
    /// surface serves).
    pub(crate) fn answers(&self, path: &str) -> Answers {
        self.matching(path)
            .next()
            .map_or_else(Answers::of::<FastApi>, |entry| entry.answers)
    }

    fn matching<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a Entry> {
        self.entries
            .iter()
            .filter(move |entry| entry.pattern.is_match(path))
    }
}

const ORDER: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// Turns the 404 (no route) or bare 405 (a resource without that method)
/// of a known path asked with a method it does not serve into a 405 with
/// `Allow`, in the shape of the surface serving that path.
pub async fn method_not_allowed(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let routes = request.app_data::<web::Data<Routes>>().cloned();
    let response = next.call(request).await?.map_into_boxed_body();
    let status = response.status();
    let Some(routes) = routes else {
        return Ok(response);
    };
    if status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED {
        return Ok(response);
    }
    let path = response.request().path();
    let method = response.request().method().clone();
    let allowed = routes.allowed(path);
    if allowed.is_empty() || allowed.contains(&method) {
        return Ok(response);
    }
    let error = (routes.answers(path).method_not_allowed)(&method);
    let mut answer = error.error_response();
    let list = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if let Ok(value) = HeaderValue::from_str(&list) {
        answer.headers_mut().insert(ALLOW, value);
    }
    Ok(response.into_response(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_come_from_every_route_of_a_path() {
        let routes = Routes::new(&HttpSettings::default());
        assert_eq!(
            routes.allowed("/auth/users/me/"),
            [Method::GET, Method::PUT, Method::PATCH, Method::DELETE]
        );
        assert_eq!(routes.allowed("/auth/users/"), [Method::GET, Method::POST]);
        assert_eq!(routes.allowed("/events/7"), routes.allowed("/events/8"));
        assert!(routes.allowed("/nowhere").is_empty());
        assert!(routes.is_credential(&Method::POST, "/auth/token"));
        assert!(!routes.is_credential(&Method::GET, "/"));
    }
}
