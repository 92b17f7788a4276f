//! The published contract: an OpenAPI 3.1 document generated from the
//! handlers' `#[utoipa::path]` annotations, served at `GET /openapi.json`,
//! and Swagger UI at `GET /docs` with its assets compiled into the binary
//! (the `vendored` build of `utoipa-swagger-ui`: no CDN, no download).
//!
//! [`document`] merges the operational routes and the routes each *enabled*
//! surface declares (a switched-off surface is not in the document, as it
//! is not served); see [`crate::declare`] for what every operation of a
//! surface shares in its error shape.

use std::sync::Mutex;

use actix_web::http::header::ContentType;
use actix_web::web::Bytes;
use actix_web::{get, web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::blocking::blocking;
use crate::declare::BEARER;
use crate::error_schemas::{
    DrfBadRequest, DrfError, DrfFieldErrors, FastApiError, FastApiValidationError, MessageError,
    OpaqueError,
};
use crate::{AppState, HttpSettings, Surface};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sesame",
        description = "Self-hosted user accounts, authentication, events and messaging. \
            One service serves five client contracts (surfaces) at once over the same users \
            and sessions; each surface keeps its own error shape. Every access token Sesame \
            issues (a JWT from any login route, or an opaque token) is accepted as \
            `Authorization: Bearer <token>` by every protected route of every surface. \
            This document lists the surfaces this instance serves (`[http] surfaces`)."
    ),
    components(schemas(
        DrfError,
        DrfFieldErrors,
        DrfBadRequest,
        FastApiError,
        FastApiValidationError,
        OpaqueError,
        MessageError
    )),
    modifiers(&BearerScheme),
    tags(
        (name = "primary", description = "Accounts and JWT, djoser layout (seed 004); Django REST framework error shapes."),
        (name = "account_security", description = "Sessions and a TOTP second factor (mounted with `primary`, same error shapes)."),
        (name = "events_messages", description = "Accounts, events and messages, FastAPI style (seed 001); WebSocket delivery at `/ws/{token}`."),
        (name = "token_form", description = "OAuth2 password form (seed 000), FastAPI error shapes."),
        (name = "opaque", description = "Opaque tokens with a sliding idle lifetime (seed 002), `{\"Erreur\": ...}` in French."),
        (name = "cookie_refresh", description = "Access JWT in the body, refresh token in an HttpOnly cookie (seed 003), `{\"message\": ...}`."),
        (name = "operations", description = "Health, readiness, metrics and this document.")
    )
)]
struct Base;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT or opaque token")
            .description(Some(
                "A JWT access token from any login route, or an opaque token from surface `opaque`.",
            ))
            .build();
        components.add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

/// The OpenAPI document of this instance: the operational routes, this
/// document and its UI, and every enabled surface.
pub fn document(settings: &HttpSettings) -> Document {
    let mut document = Base::openapi();
    let mut used = Vec::new();
    for part in crate::surfaces::parts(settings) {
        used.push(part.tag);
        document.merge(part.document());
    }
    if let Some(tags) = &mut document.tags {
        tags.retain(|tag| used.contains(&tag.name.as_str()));
    }
    document
}

/// Where Swagger UI's files are served from.
const UI_FILES: &str = "/docs";
/// The paths of those files, for [`crate::Routes`] (they answer GET only).
pub(crate) const UI_FILE_PATHS: &str = "/docs/{_:.*}";

/// Mounts Swagger UI's files under `/docs/`. In a scope mounted after
/// every declared route, so that no other request runs its `{_:.*}` regex.
pub(crate) fn mount_ui_files(config: &mut web::ServiceConfig) {
    let ui = SwaggerUi::new("/{_:.*}")
        // No call to swagger.io's online validator: nothing leaves the machine.
        .config(Config::new([<openapi_document as utoipa::Path>::path()]).validator_url("none"));
    config.service(web::scope(UI_FILES).service(ui));
}

/// The OpenAPI 3.1 document.
#[utoipa::path(
    operation_id = "openapi",
    responses((status = 200, description = "This document", body = Object))
)]
#[get("/openapi.json")]
pub(crate) async fn openapi_document(state: web::Data<AppState>) -> HttpResponse {
    let settings = state.settings.clone();
    match blocking(move || served_document(&settings)).await {
        Some(json) => HttpResponse::Ok()
            .content_type(ContentType::json())
            .body(json),
        None => HttpResponse::ServiceUnavailable().finish(),
    }
}

/// The document as `GET /openapi.json` serves it, made when first asked
/// for (an instance nobody asks keeps neither it nor the code that makes it
/// in memory), then once per set of surfaces and shared by every worker.
fn served_document(settings: &HttpSettings) -> Bytes {
    static MADE: Mutex<Vec<(Vec<Surface>, Bytes)>> = Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, json)) = made.iter().find(|(s, _)| *s == settings.surfaces) {
        return json.clone();
    }
    let json = match serde_json::to_vec(&document(settings)) {
        Ok(json) => Bytes::from(json),
        Err(e) => {
            tracing::error!(error = %e, "the OpenAPI document cannot be serialised");
            Bytes::new()
        }
    };
    made.push((settings.surfaces.clone(), json.clone()));
    json
}

/// Swagger UI's page with its assets at absolute paths, so that `/docs`
/// works without a trailing slash (`/docs/` serves the stock page).
const DOCS_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Sesame API</title>
    <link rel="stylesheet" type="text/css" href="/docs/swagger-ui.css" />
    <link rel="stylesheet" type="text/css" href="/docs/index.css" />
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="/docs/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="/docs/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
"#;

/// Interactive documentation (Swagger UI, served from the binary).
#[utoipa::path(responses((status = 200, description = "An HTML page", content_type = "text/html")))]
#[get("/docs")]
pub(crate) async fn docs() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(DOCS_PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn refs(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("$ref", Value::String(target)) => found.push(target.clone()),
                        _ => refs(value, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_and_every_id_is_unique() {
        let json = serde_json::to_value(document(&HttpSettings::default())).unwrap();
        assert!(json["openapi"].as_str().unwrap().starts_with("3.1."));
        let mut found = Vec::new();
        refs(&json, &mut found);
        assert!(!found.is_empty());
        for target in found {
            let name = target.trim_start_matches("#/components/schemas/");
            assert!(
                json["components"]["schemas"][name].is_object(),
                "{target} does not resolve"
            );
        }
        let mut without_success = Vec::new();
        let mut ids = Vec::new();
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let responses = operation["responses"].as_object().unwrap().keys();
                if !responses.clone().any(|s| s.starts_with('2') || s == "101") {
                    without_success.push(format!("{} {path}", method.to_uppercase()));
                }
                ids.push(operation["operationId"].as_str().unwrap().to_owned());
            }
        }
        // Only the opaque routes with an empty path parameter never succeed.
        without_success.sort();
        assert_eq!(
            without_success,
            [
                "DELETE /auth/delete",
                "DELETE /auth/delete/",
                "GET /auth/get",
                "GET /auth/get/",
                "GET /auth/validate",
                "GET /auth/validate/"
            ]
        );
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "operation ids repeat");
    }

    #[test]
    fn a_paged_route_documents_a_bad_page_in_its_surfaces_shape() {
        let json = serde_json::to_value(document(&HttpSettings::default())).unwrap();
        let bad_page = |path: &str, status: &str| {
            let response = &json["paths"][path]["get"]["responses"][status];
            let schema = &response["content"]["application/json"]["schema"]["$ref"];
            (response["description"].clone(), schema.clone())
        };
        for (path, status, schema) in [
            ("/auth/users/", "400", "DrfFieldErrors"),
            ("/messages/received", "422", "FastApiValidationError"),
            ("/users/", "422", "FastApiValidationError"),
        ] {
            let reference = format!("#/components/schemas/{schema}");
            assert_eq!(
                bad_page(path, status),
                (Value::from("Bad `skip` or `limit`"), Value::from(reference)),
                "{path}"
            );
        }
        // A route that says more about its own 422 keeps its words.
        let events = bad_page("/events/", "422").0;
        assert_eq!(events, "Bad `skip`, `limit`, `from` or `to`");
    }

    #[test]
    fn lists_only_the_enabled_surfaces() {
        let settings = HttpSettings {
            surfaces: vec![crate::Surface::Opaque],
            ..HttpSettings::default()
        };
        let document = document(&settings);
        assert!(document.paths.paths.contains_key("/auth/register"));
        assert!(document.paths.paths.contains_key("/healthz"));
        assert!(!document.paths.paths.contains_key("/auth/jwt/create/"));
        let tags: Vec<_> = document.tags.unwrap().into_iter().map(|t| t.name).collect();
        assert_eq!(tags, ["opaque", "operations"]);
    }
}
