//! Signing in (the password, then the TOTP step when it is on) and out,
//! through the domain's login like every other login route.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use sesame_kernel::{Clock, SystemClock};
use sesame_tokens::{Credentials, LoggedIn, NewSession, SessionKind, TokensError};

use crate::cookies::{self, signed_in, PENDING, SESSION};
use crate::csrf::form_page;
use crate::pending::PENDING_SECONDS;
use crate::render::{page, redirect, Otp, SignIn};
use crate::{accept_form, blocking, client, Pages, PagesError};

const WRONG_LOGIN: &str = "The username or the password is wrong.";

/// The sign-in form.
#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// The TOTP step's form.
#[derive(Deserialize)]
pub(crate) struct OtpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    otp: String,
}

/// The sign-out form (and any form that only carries its token).
#[derive(Deserialize)]
pub(crate) struct TokenOnly {
    #[serde(default)]
    pub(crate) csrf: String,
}

/// `GET /account`
pub(crate) async fn to_account() -> HttpResponse {
    redirect("/account/")
}

/// `GET /account/sign-in`
pub(crate) async fn form(
    request: HttpRequest,
    pages: web::Data<Pages>,
) -> Result<HttpResponse, PagesError> {
    if signed_in(&request, &pages).await?.is_some() {
        return Ok(redirect("/account/"));
    }
    Ok(sign_in_page(
        &request,
        &pages,
        StatusCode::OK,
        "",
        Vec::new(),
    ))
}

/// The sign-in page with this status, login and errors.
pub(crate) fn sign_in_page(
    request: &HttpRequest,
    pages: &Pages,
    status: StatusCode,
    username: &str,
    errors: Vec<String>,
) -> HttpResponse {
    form_page(request, pages, |csrf| {
        let sign_in = SignIn {
            title: "Sign in",
            errors,
            csrf,
            username,
        };
        page(status, &sign_in)
    })
}

fn otp_page(
    request: &HttpRequest,
    pages: &Pages,
    status: StatusCode,
    errors: Vec<String>,
) -> HttpResponse {
    form_page(request, pages, |csrf| {
        let otp = Otp {
            title: "Two-step sign in",
            errors,
            csrf,
        };
        page(status, &otp)
    })
}

/// `POST /account/sign-in`
pub(crate) async fn submit(
    request: HttpRequest,
    pages: web::Data<Pages>,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, PagesError> {
    accept_form(&request, &pages, &form.csrf)?;
    let SignInForm {
        username, password, ..
    } = form.into_inner();
    if username.trim().is_empty() || password.is_empty() {
        let errors = vec!["Enter your username (or email) and your password.".to_owned()];
        return Ok(sign_in_page(
            &request,
            &pages,
            StatusCode::BAD_REQUEST,
            &username,
            errors,
        ));
    }
    let credentials = Credentials {
        login: username.clone(),
        password: password.clone(),
        otp: None,
    };
    match log_in(&request, &pages, credentials).await? {
        Ok(token) => Ok(signed_in_answer(&request, &pages, token).await),
        Err(TokensError::OtpRequired) => {
            let sealed = pages
                .inner
                .pending
                .seal(&username, &password, SystemClock.now());
            let mut response = redirect("/account/sign-in/otp");
            let mut cookie = cookies::build(PENDING, sealed, &pages.inner.settings);
            // The browser drops the sealed password when the step lapses.
            cookie.set_max_age(actix_web::cookie::time::Duration::seconds(PENDING_SECONDS));
            add_cookie(&mut response, cookie);
            Ok(response)
        }
        Err(refused) => Ok(refusal(&request, &pages, refused, &username, false)),
    }
}

/// `GET /account/sign-in/otp`
pub(crate) async fn otp_form(
    request: HttpRequest,
    pages: web::Data<Pages>,
) -> Result<HttpResponse, PagesError> {
    if pending(&request, &pages).is_none() {
        return Ok(redirect("/account/sign-in"));
    }
    Ok(otp_page(&request, &pages, StatusCode::OK, Vec::new()))
}

/// `POST /account/sign-in/otp`
pub(crate) async fn otp_submit(
    request: HttpRequest,
    pages: web::Data<Pages>,
    form: web::Form<OtpForm>,
) -> Result<HttpResponse, PagesError> {
    accept_form(&request, &pages, &form.csrf)?;
    let Some(first_step) = pending(&request, &pages) else {
        let errors = vec!["The sign-in took too long. Sign in again.".to_owned()];
        let mut response = sign_in_page(&request, &pages, StatusCode::BAD_REQUEST, "", errors);
        add_cookie(
            &mut response,
            cookies::removal(PENDING, &pages.inner.settings),
        );
        return Ok(response);
    };
    let code = form.otp.trim();
    if code.is_empty() {
        let errors = vec!["Enter the code from your authenticator app.".to_owned()];
        return Ok(otp_page(&request, &pages, StatusCode::BAD_REQUEST, errors));
    }
    let credentials = Credentials {
        login: first_step.login.clone(),
        password: first_step.password,
        otp: Some(code.to_owned()),
    };
    match log_in(&request, &pages, credentials).await? {
        Ok(token) => Ok(signed_in_answer(&request, &pages, token).await),
        Err(refused) => Ok(refusal(&request, &pages, refused, &first_step.login, true)),
    }
}

/// `POST /account/sign-out`: ends the session, lapsed or not, and forgets
/// its cookie.
pub(crate) async fn sign_out(
    request: HttpRequest,
    pages: web::Data<Pages>,
    form: web::Form<TokenOnly>,
) -> Result<HttpResponse, PagesError> {
    accept_form(&request, &pages, &form.csrf)?;
    if let Some(token) = cookies::session_token(&request, &pages.inner.settings) {
        end_session(&request, &pages, token).await?;
    }
    let mut response = redirect("/account/sign-in");
    for cookie in [SESSION, PENDING] {
        add_cookie(
            &mut response,
            cookies::removal(cookie, &pages.inner.settings),
        );
    }
    Ok(response)
}

/// Ends the session of `token`, lapsed or not, as the browser of `request`.
async fn end_session(
    request: &HttpRequest,
    pages: &Pages,
    token: String,
) -> Result<(), PagesError> {
    let sessions = pages.inner.sessions.clone();
    let actor = client::actor(request, &pages.inner.settings);
    blocking(move || sessions.end_opaque(&token, &actor))
        .await?
        .map(|_| ())
        .map_err(|e| PagesError::Unavailable(e.to_string()))
}

/// The domain's login, opening an opaque session whose token the cookie
/// will hold; the inner error is a refusal to show, the outer an outage.
async fn log_in(
    request: &HttpRequest,
    pages: &Pages,
    credentials: Credentials,
) -> Result<Result<String, TokensError>, PagesError> {
    let login = pages.inner.login.clone();
    let actor = client::actor(request, &pages.inner.settings);
    let outcome = blocking(move || login.log_in(&credentials, &actor, SessionKind::Opaque)).await?;
    match outcome {
        Ok(LoggedIn {
            session: NewSession::Opaque(token),
            ..
        }) => Ok(Ok(token)),
        Ok(_) => Err(PagesError::Unavailable(
            "the login opened no opaque session".into(),
        )),
        Err(e @ (TokensError::Storage(_) | TokensError::Users(_) | TokensError::Signing(_))) => {
            Err(PagesError::Unavailable(e.to_string()))
        }
        Err(refused) => Ok(Err(refused)),
    }
}

/// Signed in: the session cookie, the half-done sign-in forgotten, on to the account.
async fn signed_in_answer(request: &HttpRequest, pages: &Pages, token: String) -> HttpResponse {
    with_session(request, redirect("/account/"), pages, token).await
}

/// `response`, setting the session cookie to `token` and forgetting the
/// half-done sign-in. The session of a cookie it replaces ends: nobody holds
/// its token any more (on a shared browser, the previous person's).
pub(crate) async fn with_session(
    request: &HttpRequest,
    mut response: HttpResponse,
    pages: &Pages,
    token: String,
) -> HttpResponse {
    let settings = &pages.inner.settings;
    if let Some(replaced) = cookies::session_token(request, settings).filter(|old| *old != token) {
        if let Err(error) = end_session(request, pages, replaced).await {
            tracing::error!(%error, "could not end the session a sign-in replaced");
        }
    }
    add_cookie(&mut response, cookies::build(SESSION, token, settings));
    add_cookie(&mut response, cookies::removal(PENDING, settings));
    response
}

/// A refused login, shown on the step it happened at.
fn refusal(
    request: &HttpRequest,
    pages: &Pages,
    error: TokensError,
    username: &str,
    at_otp_step: bool,
) -> HttpResponse {
    let (status, text) = match &error {
        TokensError::LoginThrottled(seconds) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed sign-ins. Try again in {seconds} seconds."),
        ),
        TokensError::OtpInvalid => (
            StatusCode::UNAUTHORIZED,
            "The code is wrong or was already used.".to_owned(),
        ),
        TokensError::OtpRequired => (
            StatusCode::BAD_REQUEST,
            "Enter the code from your authenticator app.".to_owned(),
        ),
        _ => (StatusCode::UNAUTHORIZED, WRONG_LOGIN.to_owned()),
    };
    let code_step = at_otp_step
        && matches!(
            error,
            TokensError::OtpInvalid | TokensError::OtpRequired | TokensError::LoginThrottled(_)
        );
    let mut response = if code_step {
        otp_page(request, pages, status, vec![text])
    } else {
        let mut response = sign_in_page(request, pages, status, username, vec![text]);
        add_cookie(
            &mut response,
            cookies::removal(PENDING, &pages.inner.settings),
        );
        response
    };
    if let TokensError::LoginThrottled(seconds) = error {
        crate::error::retry_after(&mut response, seconds);
    }
    response
}

/// The first step's credentials, while the TOTP step may still be taken.
fn pending(request: &HttpRequest, pages: &Pages) -> Option<crate::pending::PendingSignIn> {
    let sealed = cookies::value(request, PENDING, &pages.inner.settings)?;
    pages.inner.pending.open(&sealed, SystemClock.now())
}

pub(crate) fn add_cookie(response: &mut HttpResponse, cookie: actix_web::cookie::Cookie<'static>) {
    if let Err(e) = response.add_cookie(&cookie) {
        tracing::error!(error = %e, "could not set a cookie");
    }
}
