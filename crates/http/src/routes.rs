//! Which methods each served path answers and in which surface's shape it
//! words errors, for the answers made outside the handlers: 405 with
//! `Allow` for a known path asked with a method it does not serve, and 408
//! for a body that stalls (see [`crate::stall`]).
//!
//! A static path (`/auth/users/set_password/`) belongs to its own routes
//! only, even where a parameterized sibling (`/auth/users/{id}/`) matches it
//! too: asked with a method its routes do not serve, it answers 405, as
//! djoser and FastAPI do, and never reaches the sibling's handler.

use std::collections::HashMap;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, ALLOW, UPGRADE};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};

use crate::declare::Answers;
use crate::surfaces::{parts, FastApi};
use crate::HttpSettings;

/// The served paths: their methods, credential methods and the words of
/// their surface.
pub struct Routes {
    /// The routes of each static path.
    exact: HashMap<String, Served>,
    /// The routes of each parameterized pattern, in the order they are
    /// matched.
    patterns: Vec<(ResourceDef, Served)>,
}

/// What the routes declared with one path pattern serve.
struct Served {
    methods: Vec<Method>,
    credential_methods: Vec<Method>,
    answers: Answers,
}

impl Routes {
    /// The routes of the enabled surfaces, as they declare them, and
    /// Swagger UI's files.
    pub fn new(settings: &HttpSettings) -> Routes {
        let mut routes = Routes {
            exact: HashMap::new(),
            patterns: Vec::new(),
        };
        for part in parts(settings) {
            for route in part.routes {
                let served = routes.served_at(&route.path, part.answers);
                if route.credential {
                    served
                        .credential_methods
                        .extend(route.methods.iter().cloned());
                }
                served.methods.extend(route.methods);
            }
        }
        let ui_files = routes.served_at(crate::openapi::UI_FILE_PATHS, Answers::of::<FastApi>());
        ui_files.methods.push(Method::GET);
        routes
    }

    /// The entry of `pattern`, added (with `answers`) if it is new.
    fn served_at(&mut self, pattern: &str, answers: Answers) -> &mut Served {
        let new = || Served {
            methods: Vec::new(),
            credential_methods: Vec::new(),
            answers,
        };
        if is_static(pattern) {
            return self.exact.entry(pattern.to_owned()).or_insert_with(new);
        }
        let position = self
            .patterns
            .iter()
            .position(|(known, _)| known.pattern() == Some(pattern));
        let index = position.unwrap_or_else(|| {
            self.patterns.push((ResourceDef::new(pattern), new()));
            self.patterns.len() - 1
        });
        &mut self.patterns[index].1
    }

    /// The methods `path` is served with, in a fixed order; empty for an
    /// unknown path.
    pub fn allowed(&self, path: &str) -> Vec<Method> {
        ORDER
            .iter()
            .filter(|method| {
                self.serving(path)
                    .any(|served| served.methods.contains(method))
            })
            .cloned()
            .collect()
    }

    /// Whether `path` is served, but not with `method`.
    fn refuses(&self, method: &Method, path: &str) -> bool {
        let mut known = false;
        for served in self.serving(path) {
            if served.methods.contains(method) {
                return false;
            }
            known = true;
        }
        known
    }

    /// Whether `method` on `path` is a declared credential route.
    pub(crate) fn is_credential(&self, method: &Method, path: &str) -> bool {
        // Asked on every request: a parameterized pattern, a regex, is
        // matched only if it could answer yes.
        match self.exact.get(path) {
            Some(served) => served.credential_methods.contains(method),
            None => self.patterns.iter().any(|(pattern, served)| {
                served.credential_methods.contains(method) && pattern.is_match(path)
            }),
        }
    }

    /// The words of the surface serving `path` (FastAPI's for a path no
    /// surface serves).
    pub(crate) fn answers(&self, path: &str) -> Answers {
        self.serving(path)
            .next()
            .map_or_else(Answers::of::<FastApi>, |served| served.answers)
    }

    /// What serves `path`: its static routes if it has some (a
    /// parameterized pattern that matches it too never answers it), else
    /// every parameterized pattern that matches it.
    fn serving<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a Served> {
        let exact = self.exact.get(path);
        let patterns = self
            .patterns
            .iter()
            .filter(move |(pattern, _)| exact.is_none() && pattern.is_match(path))
            .map(|(_, served)| served);
        exact.into_iter().chain(patterns)
    }
}

/// Whether actix-web matches `pattern` as a plain string (no `{segment}`
/// and no trailing `*`), as its `ResourceDef` decides.
pub(crate) fn is_static(pattern: &str) -> bool {
    !pattern.contains('{') && !pattern.ends_with('*')
}

const ORDER: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// Serves HEAD as GET: the same checks, status and headers, and no body
/// (actix-http sends none to a HEAD request). A WebSocket upgrade, which
/// only GET may ask for, is left alone, to be refused.
pub async fn head_as_get(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let upgrade = request.headers().get(UPGRADE).map(HeaderValue::as_bytes);
    let websocket = upgrade.is_some_and(|protocol| protocol.eq_ignore_ascii_case(b"websocket"));
    if request.method() == Method::HEAD && !websocket {
        request.head_mut().method = Method::GET;
    }
    next.call(request).await
}

/// Answers, in the shape of the surface serving the path, what no handler
/// serves: 405 with `Allow` to a known path asked with a method it does not
/// serve, before the router would hand it to a parameterized sibling's
/// handler (or to the 404 of no route); and 404 to a path holding U+0000,
/// which names nothing (PostgreSQL cannot even compare text with it). The
/// path is the one the router matches: percent-decoded but for `%25`, `%2F`
/// and `%2B`. A path parameter is decoded once more when it is extracted,
/// so a `%00` left by the first decode (sent as `%0%30`) is a U+0000 too.
pub async fn unserved(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = request.match_info().as_str();
    let method = request.method();
    if path.contains('\0') || path.contains("%00") {
        let answers = request
            .app_data::<web::Data<Routes>>()
            .map_or_else(Answers::of::<FastApi>, |routes| routes.answers(path));
        let error = (answers.refusal)(
            StatusCode::NOT_FOUND,
            "Not found.",
            "Introuvable",
            "not_found",
        );
        return Ok(request.into_response(error.error_response()));
    }
    let Some(routes) = request
        .app_data::<web::Data<Routes>>()
        .filter(|routes| routes.refuses(method, path))
    else {
        return next
            .call(request)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let error = (routes.answers(path).method_not_allowed)(method);
    let mut answer = error.error_response();
    let list = routes
        .allowed(path)
        .iter()
        .map(|method| match *method {
            Method::GET => "GET, HEAD",
            ref other => other.as_str(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    if let Ok(value) = HeaderValue::from_str(&list) {
        answer.headers_mut().insert(ALLOW, value);
    }
    Ok(request.into_response(answer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surfaces::in_mount_order;

    #[test]
    fn a_path_is_allowed_the_methods_of_the_routes_that_serve_it() {
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

    #[test]
    fn a_static_path_is_not_served_by_a_parameterized_sibling() {
        let routes = Routes::new(&HttpSettings::default());
        let user = [Method::GET, Method::PUT, Method::PATCH, Method::DELETE];
        assert_eq!(routes.allowed("/auth/users/7/"), user);
        assert_eq!(routes.allowed("/auth/users/abc/"), user);
        for path in ["/auth/users/set_password/", "/auth/users/set_email/"] {
            assert_eq!(routes.allowed(path), [Method::POST], "{path}");
            assert!(routes.refuses(&Method::GET, path), "{path}");
            assert!(!routes.refuses(&Method::POST, path), "{path}");
        }
        assert!(routes.refuses(&Method::POST, "/auth/users/7/"));
        assert!(!routes.refuses(&Method::GET, "/auth/users/7/"));
        assert!(!routes.refuses(&Method::GET, "/nowhere"));
        assert!(routes.is_credential(&Method::POST, "/auth/users/set_password/"));
        assert!(!routes.is_credential(&Method::GET, "/auth/users/set_password/"));
    }

    /// actix-web tries routes in the order they are mounted: a static
    /// path's own handlers must come before any parameterized route that
    /// matches it with one of the same methods.
    #[test]
    fn static_routes_are_mounted_before_the_parameterized_routes_that_match_them() {
        let declared: Vec<_> = in_mount_order(parts(&HttpSettings::default()))
            .into_iter()
            .map(|route| (route.path, route.methods))
            .collect();
        for (index, (path, methods)) in declared.iter().enumerate() {
            if !is_static(path) {
                continue;
            }
            for (earlier, earlier_methods) in &declared[..index] {
                let shadows = !is_static(earlier)
                    && ResourceDef::new(earlier.as_str()).is_match(path)
                    && methods
                        .iter()
                        .any(|method| earlier_methods.contains(method));
                assert!(!shadows, "{earlier} is mounted before {path}");
            }
        }
    }
}
