//! The pages a person sees, under `/account/`: sign in (password, then the
//! TOTP step when it is on, or a passkey), the account (profile, sessions
//! with an end button, passkeys with add and remove, sign out), and the
//! pages the emailed links open (activate, reset the password, reset the
//! username, confirm an email change).
//!
//! Rendered on the server from askama templates checked at compile time;
//! the stylesheet and the one script (the passkey ceremonies, which need
//! JavaScript; nothing else does) are compiled into the binary. Every page carries
//! `Content-Security-Policy: default-src 'self'`; every form a CSRF token
//! (a signed double-submit cookie); a person signed in holds the pages' own
//! HttpOnly, SameSite=Strict cookie with the opaque token of a real session,
//! opened by the domain's [`LoginService`] (or [`PasskeyService`]) like any
//! other login.
#![deny(missing_docs)]

mod account;
mod assets;
mod client;
mod cookies;
mod csrf;
mod error;
mod links;
mod passkeys;
mod pending;
mod render;
mod sign_in;

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::web;
use sesame_kernel::audit::TrustedProxy;
use sesame_tokens::{LoginService, PasskeyService, SessionService};
use sesame_users::AccountService;

pub use error::PagesError;

/// Counts one form posted from a client address: `Err(seconds)` to wait
/// when that address sent too many.
pub type IpLimit = Arc<dyn Fn(IpAddr) -> Result<(), u64> + Send + Sync>;

/// How the pages behave, from configuration.
#[derive(Clone, Default)]
pub struct PagesSettings {
    /// Mark the pages' cookies `Secure` (on behind TLS).
    pub secure_cookies: bool,
    /// The reverse proxy whose header tells the client address; unset, the
    /// peer address is the client's.
    pub trusted_proxy: Option<TrustedProxy>,
    /// The per-address limit every posted form counts against, as the API's
    /// credential routes do; `None`: no limit.
    pub ip_limit: Option<IpLimit>,
    /// Sesame's public origin (`https://id.example.com`): a form posted
    /// from it, by a browser sending no Fetch Metadata, is not cross-origin
    /// even where a proxy changed the `Host`.
    pub public_origin: Option<String>,
}

impl std::fmt::Debug for PagesSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagesSettings")
            .field("secure_cookies", &self.secure_cookies)
            .field("trusted_proxy", &self.trusted_proxy)
            .field("ip_limit", &self.ip_limit.is_some())
            .field("public_origin", &self.public_origin)
            .finish()
    }
}

/// The pages' use cases and keys; cheap to clone.
#[derive(Clone)]
pub struct Pages {
    inner: Arc<Inner>,
}

struct Inner {
    login: LoginService,
    accounts: AccountService,
    sessions: SessionService,
    passkeys: PasskeyService,
    csrf: csrf::CsrfKey,
    pending: pending::PendingSeal,
    settings: PagesSettings,
}

impl Pages {
    /// The pages over these use cases. `secret` (at least 32 bytes, the
    /// same on every instance) keys the CSRF tokens and seals the half-done
    /// sign-in between the password and the TOTP step.
    ///
    /// # Errors
    /// [`PagesError::Key`] when `secret` is shorter than 32 bytes.
    pub fn new(
        login: LoginService,
        accounts: AccountService,
        sessions: SessionService,
        passkeys: PasskeyService,
        secret: &[u8],
        settings: PagesSettings,
    ) -> Result<Pages, PagesError> {
        if secret.len() < 32 {
            return Err(PagesError::Key("must be at least 32 bytes".into()));
        }
        Ok(Pages {
            inner: Arc::new(Inner {
                login,
                accounts,
                sessions,
                passkeys,
                csrf: csrf::CsrfKey::derive(secret),
                pending: pending::PendingSeal::derive(secret)?,
                settings,
            }),
        })
    }
}

/// Where the pages are mounted.
const PREFIX: &str = "/account";

/// Whether a request for `path` (as decoded) is one for the pages.
pub fn serves(path: &str) -> bool {
    path.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Mounts the pages under `/account/`.
pub fn configure(config: &mut web::ServiceConfig, pages: Pages) {
    let form = web::FormConfig::default()
        .limit(16 * 1024)
        .error_handler(|_, _| PagesError::BadForm.into());
    // The passkey script's bodies (a registration response is a few KB).
    let json = web::JsonConfig::default()
        .limit(64 * 1024)
        .error_handler(|_, _| error::ScriptError(PagesError::BadForm).into());
    config.service(
        web::scope(PREFIX)
            .app_data(web::Data::new(pages))
            .app_data(form)
            .app_data(json)
            .route("", web::get().to(sign_in::to_account))
            .route("/", web::get().to(account::home))
            .route("/sign-in", web::get().to(sign_in::form))
            .route("/sign-in", web::post().to(sign_in::submit))
            .route("/sign-in/otp", web::get().to(sign_in::otp_form))
            .route("/sign-in/otp", web::post().to(sign_in::otp_submit))
            .route("/sign-out", web::post().to(sign_in::sign_out))
            .route("/sessions/{id}/end", web::post().to(account::end_session))
            .route(
                "/passkeys/register/begin",
                web::post().to(passkeys::register_begin),
            )
            .route(
                "/passkeys/register/finish",
                web::post().to(passkeys::register_finish),
            )
            .route(
                "/passkeys/login/begin",
                web::post().to(passkeys::login_begin),
            )
            .route(
                "/passkeys/login/finish",
                web::post().to(passkeys::login_finish),
            )
            .route("/passkeys/{id}/remove", web::post().to(passkeys::remove))
            .route(
                "/activate/{uid}/{token}",
                web::get().to(links::activate_page),
            )
            .route("/activate/{uid}/{token}", web::post().to(links::activate))
            .route(
                "/password/reset/confirm/{uid}/{token}",
                web::get().to(links::password_page),
            )
            .route(
                "/password/reset/confirm/{uid}/{token}",
                web::post().to(links::reset_password),
            )
            .route(
                "/username/reset/confirm/{uid}/{token}",
                web::get().to(links::username_page),
            )
            .route(
                "/username/reset/confirm/{uid}/{token}",
                web::post().to(links::reset_username),
            )
            .route(
                "/email/confirm/{uid}/{token}",
                web::get().to(links::email_page),
            )
            .route(
                "/email/confirm/{uid}/{token}",
                web::post().to(links::confirm_email),
            )
            .route("/static/pages.css", web::get().to(assets::stylesheet))
            .route(
                "/static/passkeys.js",
                web::get().to(assets::passkeys_script),
            )
            .default_service(web::to(render::not_found)),
    );
}

/// Lets a posted form through: under its address's limit, and with this
/// browser's CSRF token.
fn accept_form(
    request: &actix_web::HttpRequest,
    pages: &Pages,
    csrf_token: &str,
) -> Result<(), PagesError> {
    accept_bound_form(request, pages, csrf_token, csrf::Binding::Session)
}

/// [`accept_form`] for a form whose token is bound as `binding` says.
fn accept_bound_form(
    request: &actix_web::HttpRequest,
    pages: &Pages,
    csrf_token: &str,
    binding: csrf::Binding,
) -> Result<(), PagesError> {
    // A form another site made a browser post costs the address nothing.
    csrf::check(request, pages, csrf_token, binding)?;
    let settings = &pages.inner.settings;
    if let (Some(limit), Some(ip)) = (&settings.ip_limit, client::ip(request, settings)) {
        limit(ip).map_err(PagesError::Throttled)?;
    }
    Ok(())
}

/// Runs blocking work (database, bcrypt) off the async workers.
async fn blocking<T, F>(work: F) -> Result<T, PagesError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    web::block(move || span.in_scope(work))
        .await
        .map_err(|_| PagesError::Unavailable("the blocking pool is gone".into()))
}
