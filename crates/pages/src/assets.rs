use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY};
use actix_web::HttpResponse;

use crate::render::CSP;

const STYLESHEET: &str = include_str!("../static/pages.css");
const PASSKEYS_SCRIPT: &str = include_str!("../static/passkeys.js");

/// `GET /account/static/pages.css`
pub(crate) async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((CONTENT_SECURITY_POLICY, CSP))
        .body(STYLESHEET)
}

/// `GET /account/static/passkeys.js`: the WebAuthn ceremonies of the pages.
pub(crate) async fn passkeys_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((CONTENT_SECURITY_POLICY, CSP))
        .body(PASSKEYS_SCRIPT)
}
