//! The pages' cookies, and the session the session cookie names.

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

/// An HttpOnly, SameSite=Strict cookie for the pages only (Secure when configured).
pub(crate) fn build(
    name: &'static str,
    value: String,
    settings: &PagesSettings,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/account")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(settings.secure_cookies)
        .finish()
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
pub(crate) fn session_token(request: &HttpRequest) -> Option<String> {
    let token = request.cookie(SESSION)?.value().to_owned();
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
    let Some(token) = session_token(request) else {
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
