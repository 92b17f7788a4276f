//! Passkeys on the pages: add one from the account page, remove one with
//! the password, sign in with one. The WebAuthn ceremonies run in
//! `static/passkeys.js`, which posts JSON here with the page's CSRF token in
//! the `X-CSRF-Token` header; a passkey sign-in opens an opaque session held
//! by the session cookie, as the password sign-in does.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sesame_tokens::{LoggedIn, NewSession, SessionKind, TokensError};
use sesame_users::UsersError;

use crate::account::account_page;
use crate::cookies::signed_in;
use crate::error::ScriptError;
use crate::render::{message_page, redirect, Message, CSP};
use crate::sign_in::with_session;
use crate::{accept_form, blocking, client, Pages, PagesError};

/// The header the script sends the page's CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The password (and, with TOTP on, a code) that confirms adding a passkey.
#[derive(Deserialize)]
pub(crate) struct RegistrationStart {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    code: Option<String>,
}

/// The browser's `credential.toJSON()` after `navigator.credentials.create()`.
#[derive(Deserialize)]
pub(crate) struct Registration {
    credential: Value,
    #[serde(default)]
    name: Option<String>,
}

/// The browser's `credential.toJSON()` after `navigator.credentials.get()`.
#[derive(Deserialize)]
pub(crate) struct Assertion {
    credential: Value,
}

/// The remove form.
#[derive(Deserialize)]
pub(crate) struct RemoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
}

/// A passkey just added.
#[derive(Serialize)]
struct Added {
    id: String,
    name: String,
}

/// Lets a script's request through as [`accept_form`] does a form, its
/// token taken from [`CSRF_HEADER`].
fn accept_script(request: &HttpRequest, pages: &Pages) -> Result<(), PagesError> {
    let token = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    accept_form(request, pages, token)
}

fn answer(status: StatusCode, body: &impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CONTENT_SECURITY_POLICY, CSP))
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(body)
}

/// A refusal of the passkey service as the person reads it.
fn refusal(error: TokensError) -> PagesError {
    match error {
        TokensError::PasskeyRejected(reason) => {
            PagesError::PasskeyRefused(format!("The passkey was refused: {reason}."))
        }
        TokensError::PasskeyExists => {
            PagesError::PasskeyRefused("This passkey is already on your account.".into())
        }
        TokensError::TooManyPasskeys(max) => PagesError::PasskeyRefused(format!(
            "Your account holds {max} passkeys, the most it may: remove one first."
        )),
        TokensError::PasskeyNameInvalid => PagesError::PasskeyRefused(
            "A passkey name has at most 64 characters and no control characters.".into(),
        ),
        TokensError::LoginRefused => PagesError::PasskeySignInRefused,
        TokensError::OtpRequired => PagesError::PasskeyRefused(
            "Two-factor sign-in is on: enter a code from your authenticator app too.".into(),
        ),
        TokensError::OtpInvalid => PagesError::PasskeyRefused(
            "The code is wrong or was already used; no passkey was added.".into(),
        ),
        TokensError::Users(UsersError::WrongCurrentPassword) => {
            PagesError::PasskeyRefused("The password is wrong; no passkey was added.".into())
        }
        TokensError::Users(UsersError::ConfirmationThrottled(seconds)) => {
            PagesError::PasswordsThrottled(seconds)
        }
        other => PagesError::Unavailable(other.to_string()),
    }
}

/// `POST /account/passkeys/register/begin`: creation options for the
/// signed-in account, who confirms with their password.
pub(crate) async fn register_begin(
    request: HttpRequest,
    pages: web::Data<Pages>,
    body: web::Json<RegistrationStart>,
) -> Result<HttpResponse, ScriptError> {
    accept_script(&request, &pages)?;
    let known = signed_in(&request, &pages)
        .await?
        .ok_or(PagesError::NotSignedIn)?;
    let RegistrationStart {
        current_password: password,
        code,
    } = body.into_inner();
    if password.is_empty() {
        let text = "Enter your password to add a passkey.";
        return Err(PagesError::PasskeyRefused(text.into()).into());
    }
    let passkeys = pages.inner.passkeys.clone();
    let options =
        blocking(move || passkeys.begin_registration(&known.user, &password, code.as_deref()))
            .await?
            .map_err(refusal)?;
    Ok(answer(StatusCode::OK, &options))
}

/// `POST /account/passkeys/register/finish`: keeps the new passkey.
pub(crate) async fn register_finish(
    request: HttpRequest,
    pages: web::Data<Pages>,
    body: web::Json<Registration>,
) -> Result<HttpResponse, ScriptError> {
    accept_script(&request, &pages)?;
    let known = signed_in(&request, &pages)
        .await?
        .ok_or(PagesError::NotSignedIn)?;
    let Registration { credential, name } = body.into_inner();
    let name = name.filter(|name| !name.trim().is_empty());
    let actor = client::actor(&request, &pages.inner.settings).acting_as(known.user.id);
    let passkeys = pages.inner.passkeys.clone();
    let added = blocking(move || {
        passkeys.finish_registration(&known.user, &credential, name.as_deref(), &actor)
    })
    .await?
    .map_err(refusal)?;
    let added = Added {
        id: added.id,
        name: added.name,
    };
    Ok(answer(StatusCode::CREATED, &added))
}

/// `POST /account/passkeys/login/begin`: request options for a discoverable passkey.
pub(crate) async fn login_begin(
    request: HttpRequest,
    pages: web::Data<Pages>,
) -> Result<HttpResponse, ScriptError> {
    accept_script(&request, &pages)?;
    let passkeys = pages.inner.passkeys.clone();
    let options = blocking(move || passkeys.begin_login(None))
        .await?
        .map_err(refusal)?;
    Ok(answer(StatusCode::OK, &options))
}

/// `POST /account/passkeys/login/finish`: signs in, the session in the cookie.
pub(crate) async fn login_finish(
    request: HttpRequest,
    pages: web::Data<Pages>,
    body: web::Json<Assertion>,
) -> Result<HttpResponse, ScriptError> {
    accept_script(&request, &pages)?;
    let credential = body.into_inner().credential;
    let actor = client::actor(&request, &pages.inner.settings);
    let passkeys = pages.inner.passkeys.clone();
    let logged_in =
        blocking(move || passkeys.finish_login(&credential, &actor, SessionKind::Opaque))
            .await?
            .map_err(refusal)?;
    let LoggedIn {
        session: NewSession::Opaque(token),
        ..
    } = logged_in
    else {
        return Err(PagesError::Unavailable("the login opened no opaque session".into()).into());
    };
    let response = answer(StatusCode::OK, &json!({ "redirect": "/account/" }));
    Ok(with_session(&request, response, &pages, token).await)
}

/// `POST /account/passkeys/{id}/remove`: removes one, with the password.
pub(crate) async fn remove(
    request: HttpRequest,
    pages: web::Data<Pages>,
    id: web::Path<String>,
    form: web::Form<RemoveForm>,
) -> Result<HttpResponse, PagesError> {
    accept_form(&request, &pages, &form.csrf)?;
    let Some(known) = signed_in(&request, &pages).await? else {
        return Ok(redirect("/account/sign-in"));
    };
    let password = form.into_inner().current_password;
    if password.is_empty() {
        let errors = vec!["Enter your password to remove a passkey.".to_owned()];
        return account_page(&request, &pages, known, StatusCode::BAD_REQUEST, errors).await;
    }
    let actor = client::actor(&request, &pages.inner.settings).acting_as(known.user.id);
    let passkeys = pages.inner.passkeys.clone();
    let user = known.user.clone();
    let id = id.into_inner();
    match blocking(move || passkeys.remove(&user, &id, &password, &actor)).await? {
        Ok(()) => Ok(redirect("/account/")),
        Err(TokensError::Users(UsersError::WrongCurrentPassword)) => {
            let errors = vec!["The password is wrong; the passkey was kept.".to_owned()];
            account_page(&request, &pages, known, StatusCode::BAD_REQUEST, errors).await
        }
        Err(TokensError::Users(UsersError::ConfirmationThrottled(seconds))) => {
            let errors = vec![format!(
                "Too many wrong passwords: try again in {seconds} seconds. The passkey was kept."
            )];
            account_page(
                &request,
                &pages,
                known,
                StatusCode::TOO_MANY_REQUESTS,
                errors,
            )
            .await
        }
        Err(TokensError::PasskeyNotFound) => Ok(message_page(
            StatusCode::NOT_FOUND,
            &Message {
                title: "Passkey not found",
                text: "That passkey is not on your account.",
                link: Some(("/account/", "Back to your account")),
            },
        )),
        Err(e) => Err(PagesError::Unavailable(e.to_string())),
    }
}
