//! CSRF tokens as a signed double-submit cookie, bound to the session: the
//! browser holds a random value in an HttpOnly, SameSite=Strict cookie, and
//! every form carries the HMAC, under the server's key, of that value and of
//! the session cookie (none before signing in). A form from elsewhere has
//! neither the cookies (SameSite) nor a token it could compute, and a pair
//! planted from another browser does not fit the victim's session. The forms
//! of emailed links are bound to the cookie alone ([`Binding::Link`]).

use actix_web::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sesame_kernel::secrets::{derived_key, random_token};
use sha2::Sha256;

use crate::cookies::{self, CSRF, SESSION};
use crate::{Pages, PagesError};

/// Random bytes in the cookie's value (43 characters).
const COOKIE_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// The key the tokens are signed with.
pub(crate) struct CsrfKey([u8; 32]);

impl CsrfKey {
    /// A key of its own, derived from the pages' secret.
    pub(crate) fn derive(secret: &[u8]) -> CsrfKey {
        CsrfKey(derived_key("sesame pages csrf", secret))
    }

    fn mac(&self, cookie: &str, session: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(cookie.as_bytes());
        mac.update(b"\0");
        mac.update(session.as_bytes());
        mac
    }

    /// The token a form carries for this cookie value and session cookie.
    fn token(&self, cookie: &str, session: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(cookie, session).finalize().into_bytes())
    }

    /// Whether `token` was made for `cookie` and `session` (compared in constant time).
    fn verify(&self, cookie: &str, session: &str, token: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(token)
            .is_ok_and(|tag| self.mac(cookie, session).verify_slice(&tag).is_ok())
    }
}

/// What a form's token is bound to besides the browser's CSRF cookie.
#[derive(Clone, Copy)]
pub(crate) enum Binding {
    /// The session cookie (none before signing in): forms that act as the
    /// browser's session, or replace it.
    Session,
    /// Nothing more: the forms of emailed links, which the link's own token
    /// proves and which act on no session. A link opened from a mail client
    /// comes with none of the SameSite=Strict cookies, so a token bound to
    /// the session (none, then) would not fit the session cookie the form is
    /// posted with.
    Link,
}

impl Binding {
    fn session(self, request: &HttpRequest, pages: &Pages) -> String {
        match self {
            Binding::Session => session_of(request, pages),
            Binding::Link => String::new(),
        }
    }
}

/// The CSRF cookie of this browser, or a new one to set.
struct Csrf {
    cookie: String,
    fresh: bool,
    token: String,
}

impl Csrf {
    /// The browser's cookie if it sent a well-formed one, else a new value.
    fn of(request: &HttpRequest, pages: &Pages, binding: Binding) -> Csrf {
        let sent = cookies::value(request, CSRF, &pages.inner.settings).filter(|v| well_formed(v));
        let (cookie, fresh) = match sent {
            Some(value) => (value, false),
            None => (random_token(COOKIE_BYTES), true),
        };
        let token = pages
            .inner
            .csrf
            .token(&cookie, &binding.session(request, pages));
        Csrf {
            cookie,
            fresh,
            token,
        }
    }

    /// The token for the page's forms.
    fn token(&self) -> &str {
        &self.token
    }

    /// `response`, setting the cookie if it is new.
    fn attach(&self, mut response: HttpResponse, pages: &Pages) -> HttpResponse {
        if self.fresh {
            let cookie = cookies::build(CSRF, self.cookie.clone(), &pages.inner.settings);
            if let Err(e) = response.add_cookie(&cookie) {
                tracing::error!(error = %e, "could not set the CSRF cookie");
            }
        }
        response
    }
}

/// A page with forms: `render` makes it with the token its forms carry, and
/// the browser's CSRF cookie is set beside it when it had none.
pub(crate) fn form_page(
    request: &HttpRequest,
    pages: &Pages,
    render: impl FnOnce(&str) -> HttpResponse,
) -> HttpResponse {
    bound_form_page(request, pages, Binding::Session, render)
}

/// [`form_page`] with forms whose tokens are bound as `binding` says.
pub(crate) fn bound_form_page(
    request: &HttpRequest,
    pages: &Pages,
    binding: Binding,
    render: impl FnOnce(&str) -> HttpResponse,
) -> HttpResponse {
    let csrf = Csrf::of(request, pages, binding);
    let response = render(csrf.token());
    csrf.attach(response, pages)
}

/// Refuses a form whose token is not the HMAC of this browser's cookie
/// (and of what else `binding` names).
pub(crate) fn check(
    request: &HttpRequest,
    pages: &Pages,
    token: &str,
    binding: Binding,
) -> Result<(), PagesError> {
    if from_another_origin(request, pages) {
        return Err(PagesError::Csrf);
    }
    let cookie = cookies::value(request, CSRF, &pages.inner.settings).ok_or(PagesError::Csrf)?;
    let session = binding.session(request, pages);
    if well_formed(&cookie) && pages.inner.csrf.verify(&cookie, &session, token) {
        Ok(())
    } else {
        Err(PagesError::Csrf)
    }
}

/// Whether the browser says the request comes from another origin
/// ([`sesame_kernel::audit::cross_origin`]): a sibling subdomain can set a
/// CSRF cookie of its own choosing for the whole domain. Clients that send
/// neither `Sec-Fetch-Site` nor `Origin` (not browsers) are judged by the
/// token alone.
fn from_another_origin(request: &HttpRequest, pages: &Pages) -> bool {
    let headers = request.headers();
    sesame_kernel::audit::cross_origin(
        headers.get("sec-fetch-site").map(|site| site.as_bytes()),
        headers
            .get("origin")
            .and_then(|origin| origin.to_str().ok()),
        pages.inner.settings.public_origin.as_deref(),
        crate::client::host(request),
    )
}

/// The session cookie the browser sent (empty before signing in).
fn session_of(request: &HttpRequest, pages: &Pages) -> String {
    cookies::value(request, SESSION, &pages.inner.settings).unwrap_or_default()
}

fn well_formed(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_fits_its_cookie_session_and_key_only() {
        let key = CsrfKey::derive(&[7; 32]);
        let cookie = random_token(COOKIE_BYTES);
        let token = key.token(&cookie, "session-a");
        assert!(key.verify(&cookie, "session-a", &token));
        assert!(!key.verify(&cookie, "session-b", &token));
        assert!(!key.verify(&cookie, "", &token));
        assert!(!key.verify(&random_token(COOKIE_BYTES), "session-a", &token));
        assert!(!CsrfKey::derive(&[8; 32]).verify(&cookie, "session-a", &token));
        assert!(!key.verify(&cookie, "session-a", ""));
        assert!(!key.verify(&cookie, "session-a", "not base64!"));
        assert!(well_formed(&cookie));
        assert!(!well_formed("short"));
    }
}
