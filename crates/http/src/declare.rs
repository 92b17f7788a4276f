//! Routes, each declared once. A handler carries its method and path in
//! actix-web's attribute (`#[post("/auth/users/")]`) and its answers in
//! `#[utoipa::path(...)]`; a surface lists its handlers in a [`Part`],
//! saying which take credentials. Registration, the per-IP limit, the 405
//! answers and the OpenAPI entries all follow from that list.

use actix_web::dev::HttpServiceFactory;
use actix_web::http::{Method, StatusCode};
use actix_web::web;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{OpenApi as Document, Ref, RefOr, Response};

use crate::shape::{ErrorShape, Shape};
use crate::ApiError;

/// The name of the Bearer security scheme the annotations refer to.
pub(crate) const BEARER: &str = "bearer";

/// What a declared handler is: an actix-web service whose attribute gives
/// its method and path, documented by `#[utoipa::path]`.
pub(crate) trait Endpoint:
    HttpServiceFactory + utoipa::Path + utoipa::__dev::SchemaReferences + 'static
{
}

impl<T: HttpServiceFactory + utoipa::Path + utoipa::__dev::SchemaReferences + 'static> Endpoint
    for T
{
}

/// A surface's words for the answers made outside its handlers.
#[derive(Clone, Copy)]
pub(crate) struct Answers {
    /// See [`Shape::refusal`].
    pub(crate) refusal: fn(StatusCode, &str, &str, &str) -> ApiError,
    /// See [`Shape::method_not_allowed`].
    pub(crate) method_not_allowed: fn(&Method) -> ApiError,
}

impl Answers {
    /// `S`'s words.
    pub(crate) fn of<S: Shape>() -> Answers {
        Answers {
            refusal: S::refusal,
            method_not_allowed: S::method_not_allowed,
        }
    }
}

/// One declared route.
pub(crate) struct Declared {
    /// The path pattern (`/auth/users/{id}/`).
    pub(crate) path: String,
    /// The methods it answers.
    pub(crate) methods: Vec<Method>,
    /// Whether credentials are checked, tokens issued or email flows
    /// started there: such routes count against the per-IP limit.
    pub(crate) credential: bool,
    http_methods: Vec<HttpMethod>,
    // Built only for the document, not each time the routes are mounted.
    operation: fn() -> Operation,
    schemas: fn(&mut Vec<(String, RefOr<Schema>)>),
    register: Box<dyn FnOnce(&mut web::ServiceConfig)>,
}

impl Declared {
    /// Registers the route with actix-web.
    pub(crate) fn mount(self, config: &mut web::ServiceConfig) {
        (self.register)(config);
    }
}

/// The routes of one part of the API, under one OpenAPI tag and one error
/// shape, in the order they are declared (static paths are matched before
/// patterns whatever the order: see `surfaces::in_mount_order`).
pub(crate) struct Part {
    /// The OpenAPI tag of its operations.
    pub(crate) tag: &'static str,
    /// How its errors are documented.
    pub(crate) shape: ErrorShape,
    /// Its surface's words for answers made outside the handlers.
    pub(crate) answers: Answers,
    /// Its routes.
    pub(crate) routes: Vec<Declared>,
}

impl Part {
    /// An empty part whose errors are shaped by `S`.
    pub(crate) fn new<S: Shape>(tag: &'static str) -> Part {
        Part {
            tag,
            shape: S::DOCUMENTED,
            answers: Answers::of::<S>(),
            routes: Vec::new(),
        }
    }

    /// A route that takes no credentials.
    pub(crate) fn route<E: Endpoint>(self, endpoint: E) -> Part {
        self.add(endpoint, false)
    }

    /// A route that checks credentials, issues tokens or starts an email
    /// flow: the per-IP limit counts its requests.
    pub(crate) fn credential<E: Endpoint>(self, endpoint: E) -> Part {
        self.add(endpoint, true)
    }

    fn add<E: Endpoint>(mut self, endpoint: E, credential: bool) -> Part {
        let http_methods = E::methods();
        let methods = http_methods.iter().map(method_of).collect();
        self.routes.push(Declared {
            path: E::path(),
            methods,
            credential,
            http_methods,
            operation: E::operation,
            schemas: <E as utoipa::__dev::SchemaReferences>::schemas,
            register: Box::new(move |config: &mut web::ServiceConfig| {
                config.service(endpoint);
            }),
        });
        self
    }

    /// The OpenAPI entries of the part: its operations, tagged, with ids
    /// prefixed by the tag, and the responses every route of the surface
    /// shares in its shape (401 on Bearer routes; a bad `skip` or `limit` on
    /// paged routes; the unreadable body, 408, 413 and 415 on routes with a
    /// body; 429 with `Retry-After` on credential routes; 503).
    pub(crate) fn document(&self) -> Document {
        let mut document = Document::new(Default::default(), utoipa::openapi::Paths::new());
        let components = document.components.get_or_insert_with(Default::default);
        for route in &self.routes {
            for method in &route.http_methods {
                let mut operation = (route.operation)();
                complete(&mut operation, self.tag, self.shape, route.credential);
                if let Some(id) =
                    (operation.operation_id.as_mut()).filter(|_| route.methods.len() > 1)
                {
                    // One handler serving PUT and PATCH: an id for each.
                    id.push('_');
                    id.push_str(&method_of(method).as_str().to_ascii_lowercase());
                }
                (document.paths).add_path_operation(&route.path, vec![method.clone()], operation);
            }
            let mut schemas = Vec::new();
            (route.schemas)(&mut schemas);
            for (name, schema) in schemas {
                components.schemas.entry(name).or_insert(schema);
            }
        }
        document
    }
}

fn method_of(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// A response with a JSON body of the named schema.
pub(crate) fn error_response(description: &str, schema: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(schema)))
                .build(),
        )
        .build()
        .into()
}

/// Tags an operation, prefixes its id with the tag, and adds the
/// responses its surface shares.
pub(crate) fn complete(operation: &mut Operation, tag: &str, shape: ErrorShape, credential: bool) {
    operation.tags = Some(vec![tag.to_owned()]);
    let id = operation.operation_id.take().unwrap_or_default();
    operation.operation_id = Some(format!("{tag}_{id}"));
    let Some(error) = shape.error() else { return };
    if operation.responses.responses.contains_key("101") {
        // The WebSocket: after the upgrade, errors travel as close frames.
        return;
    }
    let bearer = SecurityRequirement::new(BEARER, Vec::<String>::new());
    let protected = operation
        .security
        .as_ref()
        .is_some_and(|requirements| requirements.contains(&bearer));
    let has_body = operation.request_body.is_some();
    let paged = (operation.parameters.iter().flatten()).any(|parameter| parameter.name == "skip");
    let responses = &mut operation.responses.responses;
    let mut add = |status: &str, response: RefOr<Response>| {
        responses.entry(status.to_owned()).or_insert(response);
    };
    if protected {
        add(
            "401",
            error_response(
                "No Bearer token, or one that is invalid, expired or revoked",
                error,
            ),
        );
    }
    if let Some((status, schema)) = shape.bad_page().filter(|_| paged) {
        add(status, error_response("Bad `skip` or `limit`", schema));
    }
    if has_body {
        if let Some((status, schema)) = shape.unreadable_body() {
            add(status, error_response("Bad input", schema));
        }
        for (status, description) in [
            ("413", "The body is larger than the configured limit"),
            ("415", "A content type this route does not read"),
            ("408", "The body stalled and was cut off"),
        ] {
            add(status, error_response(description, error));
        }
    }
    if credential {
        let retry_after = HeaderBuilder::new()
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
            )
            .description(Some("Seconds to wait"))
            .build();
        let mut throttled = error_response(
            "Too many requests from this address (or failed logins for this account)",
            error,
        );
        if let RefOr::T(response) = &mut throttled {
            response
                .headers
                .insert("Retry-After".to_owned(), retry_after);
        }
        add("429", throttled);
    }
    add(
        "503",
        error_response("The database is unreachable; try again later", error),
    );
}
