//! The templates, and the headers every page carries.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, LOCATION};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

/// Everything a page loads comes from Sesame itself: no inline script or
/// style, no framing, forms posted only here.
pub(crate) const CSP: &str =
    "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// The sign-in form.
#[derive(Template)]
#[template(path = "sign_in.html")]
pub(crate) struct SignIn<'a> {
    pub(crate) title: &'a str,
    pub(crate) errors: Vec<String>,
    pub(crate) csrf: &'a str,
    pub(crate) username: &'a str,
}

/// The TOTP step.
#[derive(Template)]
#[template(path = "otp.html")]
pub(crate) struct Otp<'a> {
    pub(crate) title: &'a str,
    pub(crate) errors: Vec<String>,
    pub(crate) csrf: &'a str,
}

/// One live session on the account page.
pub(crate) struct SessionRow {
    pub(crate) id: String,
    pub(crate) device: String,
    pub(crate) ip: String,
    pub(crate) started: String,
    pub(crate) last_used: String,
    pub(crate) current: bool,
}

/// One passkey on the account page.
pub(crate) struct PasskeyRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) added: String,
    pub(crate) last_used: Option<String>,
}

/// The account page.
#[derive(Template)]
#[template(path = "account.html")]
pub(crate) struct Account<'a> {
    pub(crate) title: &'a str,
    pub(crate) errors: Vec<String>,
    pub(crate) csrf: &'a str,
    pub(crate) username: &'a str,
    pub(crate) email: &'a str,
    pub(crate) name: String,
    pub(crate) joined: String,
    pub(crate) sessions: Vec<SessionRow>,
    pub(crate) passkeys: Vec<PasskeyRow>,
}

/// A page an emailed link opens: what the button will do, and the fields it needs.
#[derive(Template)]
#[template(path = "link.html")]
pub(crate) struct Link<'a> {
    pub(crate) title: &'a str,
    pub(crate) errors: Vec<String>,
    pub(crate) csrf: &'a str,
    pub(crate) intro: &'a str,
    pub(crate) button: &'a str,
    pub(crate) ask_password: bool,
    pub(crate) ask_username: bool,
}

/// A page that only says something (done, refused, not found).
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct Message<'a> {
    pub(crate) title: &'a str,
    pub(crate) text: &'a str,
    pub(crate) link: Option<(&'a str, &'a str)>,
}

/// `template` as a page with this status.
pub(crate) fn page(status: StatusCode, template: &impl Template) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response
        .insert_header((CONTENT_SECURITY_POLICY, CSP))
        .insert_header((CACHE_CONTROL, "no-store"));
    match template.render() {
        Ok(html) => response.content_type("text/html; charset=utf-8").body(html),
        Err(e) => {
            tracing::error!(error = %e, "a page template failed");
            response
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .content_type("text/plain; charset=utf-8")
                .body("This page cannot be shown right now.")
        }
    }
}

/// A message page.
pub(crate) fn message_page(status: StatusCode, message: &Message<'_>) -> HttpResponse {
    page(status, message)
}

/// `303 See Other` to `to` (after a form, so reloading does not post again).
pub(crate) fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to))
        .insert_header((CONTENT_SECURITY_POLICY, CSP))
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish()
}

/// Anything else under `/account/`.
pub(crate) async fn not_found() -> HttpResponse {
    message_page(
        StatusCode::NOT_FOUND,
        &Message {
            title: "Not found",
            text: "There is no page here.",
            link: Some(("/account/", "Go to your account")),
        },
    )
}
