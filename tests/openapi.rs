//! The published contract (issue 8): `GET /openapi.json` is an OpenAPI 3.1
//! document listing every route every enabled surface serves, with its
//! responses; `GET /docs` is Swagger UI, served from the binary.

mod common;

use std::collections::BTreeSet;

use common::{Backend, Body, TestApp};
use serde_json::{json, Value};

/// Every route of API.md (and the routes Sesame adds), as `(method, path)`.
const ROUTES: &[(&str, &str)] = &[
    // primary
    ("post", "/auth/users/"),
    ("get", "/auth/users/"),
    ("post", "/auth/users/activation/"),
    ("post", "/auth/users/resend_activation/"),
    ("post", "/auth/jwt/create/"),
    ("post", "/auth/jwt/refresh/"),
    ("post", "/auth/jwt/verify/"),
    ("get", "/auth/users/me/"),
    ("put", "/auth/users/me/"),
    ("patch", "/auth/users/me/"),
    ("delete", "/auth/users/me/"),
    ("get", "/auth/users/{id}/"),
    ("put", "/auth/users/{id}/"),
    ("patch", "/auth/users/{id}/"),
    ("delete", "/auth/users/{id}/"),
    ("post", "/auth/users/set_password/"),
    ("post", "/auth/users/set_username/"),
    ("post", "/auth/users/reset_password/"),
    ("post", "/auth/users/reset_password_confirm/"),
    ("post", "/auth/users/reset_username/"),
    ("post", "/auth/users/reset_username_confirm/"),
    ("get", "/media/avatars/{file}"),
    // account security (mounted with primary)
    ("get", "/auth/sessions/"),
    ("delete", "/auth/sessions/{id}/"),
    ("post", "/auth/logout/all/"),
    ("post", "/auth/mfa/totp/setup/"),
    ("post", "/auth/mfa/totp/confirm/"),
    ("delete", "/auth/mfa/totp/"),
    ("post", "/auth/users/set_email/"),
    ("post", "/auth/users/set_email_confirm/"),
    ("get", "/auth/audit/"),
    // passkeys (mounted with primary)
    ("post", "/auth/passkeys/register/begin/"),
    ("post", "/auth/passkeys/register/finish/"),
    ("get", "/auth/passkeys/"),
    ("delete", "/auth/passkeys/{id}/"),
    ("post", "/auth/passkeys/login/begin/"),
    ("post", "/auth/passkeys/login/finish/"),
    // events_messages
    ("post", "/register"),
    ("post", "/login"),
    ("post", "/auth/logout"),
    ("get", "/auth/me"),
    ("get", "/users/"),
    ("get", "/users/{user_id}"),
    ("post", "/events/"),
    ("get", "/events/"),
    ("get", "/events/{event_id}"),
    ("put", "/events/{event_id}"),
    ("patch", "/events/{event_id}"),
    ("delete", "/events/{event_id}"),
    ("post", "/events/{event_id}/attendance"),
    ("delete", "/events/{event_id}/attendance"),
    ("get", "/events/{event_id}/attendees"),
    ("post", "/messages/"),
    ("get", "/messages/received"),
    ("get", "/messages/sent"),
    ("put", "/messages/{message_id}/read"),
    ("get", "/messages/unread_count"),
    ("get", "/ws/{token}"),
    // token_form
    ("post", "/auth/"),
    ("post", "/auth/token"),
    ("get", "/"),
    // opaque (with the empty-parameter forms of its routes, always 400)
    ("post", "/auth/register"),
    ("get", "/auth/get/{username}"),
    ("get", "/auth/get/"),
    ("get", "/auth/get"),
    ("delete", "/auth/delete/{username}"),
    ("delete", "/auth/delete/"),
    ("delete", "/auth/delete"),
    ("get", "/auth/validate/{token}"),
    ("get", "/auth/validate/"),
    ("get", "/auth/validate"),
    ("post", "/auth/re-authenticate"),
    // cookie_refresh
    ("post", "/auth/signup"),
    ("post", "/auth/login"),
    ("post", "/auth/refresh"),
    ("delete", "/auth/refresh"),
    // operations
    ("get", "/healthz"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The `(method, path)` of every operation of a document.
fn operations(document: &Value) -> BTreeSet<(String, String)> {
    document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(|method| (method.to_string(), path.clone()))
        })
        .collect()
}

fn document(app: &TestApp) -> Value {
    let reply = app.get("/openapi.json", None);
    assert_eq!(reply.status, 200);
    assert!(reply.header("content-type").unwrap().contains("json"));
    reply.json
}

#[test]
fn the_document_is_openapi_3_1_and_lists_every_route() {
    let app = TestApp::spawn(&Backend::Sqlite);
    let document = document(&app);
    let version = document["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "{version}");
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    let listed = operations(&document);
    let missing: Vec<_> = expected.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&expected).collect();
    assert!(missing.is_empty(), "not in the document: {missing:?}");
    assert!(unknown.is_empty(), "not in this test's list: {unknown:?}");
    for (method, path) in &listed {
        let operation = &document["paths"][path][method];
        let responses = operation["responses"].as_object().unwrap();
        assert!(!responses.is_empty(), "{method} {path}: no responses");
        assert!(
            operation["operationId"].is_string() && operation["tags"][0].is_string(),
            "{method} {path}: no id or tag"
        );
        if operation.get("requestBody").is_some() {
            let content = operation["requestBody"]["content"].as_object().unwrap();
            assert!(
                content.values().all(|media| media["schema"].is_object()),
                "{method} {path}: a request body without a schema"
            );
        }
    }
    // Error shapes are documented per surface.
    let schema = |method: &str, path: &str, status: &str| {
        document["paths"][path][method]["responses"][status]["content"]["application/json"]
            ["schema"]["$ref"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(schema("post", "/auth/jwt/create/", "401").ends_with("/DrfError"));
    assert!(schema("post", "/events/", "422").ends_with("/FastApiValidationError"));
    assert!(schema("get", "/auth/get/{username}", "404").ends_with("/OpaqueError"));
    assert!(schema("post", "/auth/login", "401").ends_with("/MessageError"));
    assert!(schema("post", "/auth/token", "429").ends_with("/FastApiError"));
    // Every route that takes a one-time token counts against the per-address limit.
    for (method, path) in [
        ("post", "/auth/users/activation/"),
        ("post", "/auth/users/set_email_confirm/"),
    ] {
        assert!(
            schema(method, path, "429").ends_with("/DrfError"),
            "{method} {path}"
        );
    }
    assert!(document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");
}

/// Every operation that declares the Bearer scheme refuses a request without
/// a token, and every protected route of API.md declares it.
#[test]
fn declared_security_is_enforced() {
    let app = TestApp::spawn(&Backend::Sqlite);
    let document = document(&app);
    let mut protected = BTreeSet::new();
    for (method, path) in operations(&document) {
        let operation = &document["paths"][&path][&method];
        let bearer = operation["security"]
            .as_array()
            .is_some_and(|list| list.iter().any(|r| r.get("bearer").is_some()));
        if !bearer {
            continue;
        }
        protected.insert(path.clone());
        let concrete = path
            .split('/')
            .map(|part| if part.starts_with('{') { "1" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        let body = if operation.get("requestBody").is_some() {
            Body::Json(json!({}))
        } else {
            Body::None
        };
        let reply = app.request(&method.to_uppercase(), &concrete, None, body);
        assert_eq!(reply.status, 401, "{method} {concrete}: {}", reply.text);
        assert!(
            operation["responses"]["401"].is_object(),
            "{method} {path}: 401 not documented"
        );
    }
    for path in [
        "/auth/users/",
        "/auth/users/me/",
        "/auth/users/{id}/",
        "/auth/sessions/",
        "/auth/mfa/totp/",
        "/auth/audit/",
        "/auth/me",
        "/events/{event_id}/attendance",
        "/messages/",
        "/",
        "/auth/delete/{username}",
    ] {
        assert!(protected.contains(path), "{path} declares no Bearer token");
    }
}

#[test]
fn the_document_lists_only_enabled_surfaces() {
    let app = TestApp::spawn_with(&Backend::Sqlite, |config| {
        config.http.surfaces = vec!["opaque".into()];
    });
    let paths: BTreeSet<String> = operations(&document(&app))
        .into_iter()
        .map(|(_, path)| path)
        .collect();
    assert!(paths.contains("/auth/register"));
    assert!(paths.contains("/healthz"));
    assert!(paths.contains("/openapi.json"));
    assert!(!paths.contains("/auth/jwt/create/"));
    assert!(!paths.contains("/events/"));
    assert!(!paths.contains("/auth/token"));
}

#[test]
fn docs_are_served_from_the_binary() {
    let app = TestApp::spawn(&Backend::Sqlite);
    for path in ["/docs", "/docs/"] {
        let page = app.get(path, None);
        assert_eq!(page.status, 200, "{path}");
        assert!(page
            .header("content-type")
            .unwrap()
            .starts_with("text/html"));
        assert!(page.text.contains("swagger-ui-bundle.js"), "{}", page.text);
        assert!(!page.text.contains("https://"), "no CDN: {}", page.text);
    }
    let bundle = app.get("/docs/swagger-ui-bundle.js", None);
    assert_eq!(bundle.status, 200);
    assert!(bundle.text.len() > 100_000);
    let css = app.get("/docs/swagger-ui.css", None);
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    let initializer = app.get("/docs/swagger-initializer.js", None);
    assert_eq!(initializer.status, 200);
    assert!(initializer.text.contains("\"/openapi.json\""));
    assert!(!initializer.text.contains("petstore"));
    assert!(initializer.text.contains("\"validatorUrl\": \"none\""));
}
