//! CSRF tokens as a signed double-submit cookie: the browser holds a random
//! value in an HttpOnly, SameSite=Strict cookie, and every form carries the
//! HMAC of that value under the server's key. A form from elsewhere has
//! neither the cookie (SameSite) nor a token it could compute.

use actix_web::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sesame_kernel::secrets::random_token;
use sha2::{Digest, Sha256};

use crate::cookies::{self, CSRF};
use crate::{Pages, PagesError};

/// Random bytes in the cookie's value (43 characters).
const COOKIE_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// The key the tokens are signed with.
pub(crate) struct CsrfKey([u8; 32]);

impl CsrfKey {
    /// A key of its own, derived from the pages' secret.
    pub(crate) fn derive(secret: &[u8]) -> CsrfKey {
        CsrfKey(
            Sha256::new()
                .chain_update(b"sesame pages csrf\0")
                .chain_update(secret)
                .finalize()
                .into(),
        )
    }

    fn mac(&self, cookie: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(cookie.as_bytes());
        mac
    }

    /// The token a form carries for this cookie value.
    fn token(&self, cookie: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(cookie).finalize().into_bytes())
    }

    /// Whether `token` was made for `cookie` (compared in constant time).
    fn verify(&self, cookie: &str, token: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(token)
            .is_ok_and(|tag| self.mac(cookie).verify_slice(&tag).is_ok())
    }
}

/// The CSRF cookie of this browser, or a new one to set.
pub(crate) struct Csrf {
    cookie: String,
    fresh: bool,
    token: String,
}

impl Csrf {
    /// The browser's cookie if it sent a well-formed one, else a new value.
    pub(crate) fn of(request: &HttpRequest, pages: &Pages) -> Csrf {
        let sent = request
            .cookie(CSRF)
            .map(|c| c.value().to_owned())
            .filter(|v| well_formed(v));
        let (cookie, fresh) = match sent {
            Some(value) => (value, false),
            None => (random_token(COOKIE_BYTES), true),
        };
        let token = pages.inner.csrf.token(&cookie);
        Csrf {
            cookie,
            fresh,
            token,
        }
    }

    /// The token for the page's forms.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// `response`, setting the cookie if it is new.
    pub(crate) fn attach(&self, mut response: HttpResponse, pages: &Pages) -> HttpResponse {
        if self.fresh {
            let cookie = cookies::build(CSRF, self.cookie.clone(), &pages.inner.settings);
            if let Err(e) = response.add_cookie(&cookie) {
                tracing::error!(error = %e, "could not set the CSRF cookie");
            }
        }
        response
    }
}

/// Refuses a form whose token is not the HMAC of this browser's cookie.
pub(crate) fn check(request: &HttpRequest, pages: &Pages, token: &str) -> Result<(), PagesError> {
    let cookie = request.cookie(CSRF).ok_or(PagesError::Csrf)?;
    if well_formed(cookie.value()) && pages.inner.csrf.verify(cookie.value(), token) {
        Ok(())
    } else {
        Err(PagesError::Csrf)
    }
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
    fn a_token_fits_its_cookie_and_key_only() {
        let key = CsrfKey::derive(&[7; 32]);
        let cookie = random_token(COOKIE_BYTES);
        let token = key.token(&cookie);
        assert!(key.verify(&cookie, &token));
        assert!(!key.verify(&random_token(COOKIE_BYTES), &token));
        assert!(!CsrfKey::derive(&[8; 32]).verify(&cookie, &token));
        assert!(!key.verify(&cookie, ""));
        assert!(!key.verify(&cookie, "not base64!"));
        assert!(well_formed(&cookie));
        assert!(!well_formed("short"));
    }
}
