//! The pages' cookies, and the session the session cookie names.

use std::borrow::Cow;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use sesame_tokens::{Authenticated, TokensError};

use crate::{blocking, Pages, PagesError, PagesSettings};

/// The opaque token of the session the pages opened.
pub(crate) const SESSION: &str = "sesame_account";
/// The CSRF cookie (see `csrf`).
pub(crate) const CSRF: &str = "sesame_csrf";
/// The sealed half-done sign-in, between the password and the TOTP step.
pub(crate) const PENDING: &str = "sesame_sign_in";

/// Cookie `name` as set and read. Secure ones take the `__Host-` prefix:
/// a browser keeps such a cookie only from this very host (Secure, `Path=/`,
/// no `Domain`), so a sibling subdomain cannot plant a session of its own
/// choosing, or a CSRF cookie, for the pages.
fn named(name: &'static str, settings: &PagesSettings) -> Cow<'static, str> {
    if settings.secure_cookies {
        Cow::Owned(format!("__Host-{name}"))
    } else {
        Cow::Borrowed(name)
    }
}

/// An HttpOnly, SameSite=Strict cookie for the pages: under `/account`, or
/// when Secure (as configured) under the `__Host-` prefix, for the host.
pub(crate) fn build(
    name: &'static str,
    value: String,
    settings: &PagesSettings,
) -> Cookie<'static> {
    let path = if settings.secure_cookies {
        "/"
    } else {
        "/account"
    };
    Cookie::build(named(name, settings), value)
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(settings.secure_cookies)
        .finish()
}

/// The value of cookie `name` the browser sent, if it sent one. Names are
/// compared as sent, never percent-decoded: a browser applies the
/// `__Host-` rules to the name as written, so `__Host%2Dsesame_account`,
/// which any sibling subdomain may set, is another cookie.
pub(crate) fn value(
    request: &HttpRequest,
    name: &'static str,
    settings: &PagesSettings,
) -> Option<String> {
    Some(
        request
            .cookie_raw(&named(name, settings))?
            .value()
            .to_owned(),
    )
}

/// The cookie that removes cookie `name`.
pub(crate) fn removal(name: &'static str, settings: &PagesSettings) -> Cookie<'static> {
    let mut cookie = build(name, String::new(), settings);
    cookie.make_removal();
    cookie
}

/// The opaque token the session cookie holds, if it holds one. The pages
/// open opaque sessions only; a JWT (which has dots, an opaque token none)
/// is an API token, not a page session.
pub(crate) fn session_token(request: &HttpRequest, settings: &PagesSettings) -> Option<String> {
    let token = value(request, SESSION, settings)?;
    (!token.is_empty() && !token.contains('.')).then_some(token)
}

/// The session and account behind the session cookie, if it names a live one.
///
/// # Errors
/// [`PagesError::Unavailable`] when the database cannot tell.
pub(crate) async fn signed_in(
    request: &HttpRequest,
    pages: &Pages,
) -> Result<Option<Authenticated>, PagesError> {
    let Some(token) = session_token(request, &pages.inner.settings) else {
        return Ok(None);
    };
    let sessions = pages.inner.sessions.clone();
    if let Some(known) = sessions.authenticate_cached(&token) {
        return Ok(Some(known));
    }
    match blocking(move || sessions.validate_opaque(&token)).await? {
        Ok(known) => Ok(Some(known)),
        Err(e @ TokensError::Storage(_)) => Err(PagesError::Unavailable(e.to_string())),
        Err(_) => Ok(None),
    }
}
