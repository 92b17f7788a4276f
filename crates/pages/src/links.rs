//! The pages the emailed links open. Opening one changes nothing (a mail
//! scanner may follow it); its button posts the change.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use sesame_kernel::audit::Actor;
use sesame_users::{AccountService, UsersError};

use crate::csrf::{bound_form_page, Binding};
use crate::render::{message_page, page, Link, Message};
use crate::{accept_bound_form, blocking, client, Pages, PagesError};

/// What a link page does.
#[derive(Clone, Copy)]
enum Flow {
    Activate,
    Password,
    Username,
    Email,
}

impl Flow {
    fn title(self) -> &'static str {
        match self {
            Flow::Activate => "Activate your account",
            Flow::Password => "Choose a new password",
            Flow::Username => "Choose a new username",
            Flow::Email => "Confirm your new email",
        }
    }

    fn intro(self) -> &'static str {
        match self {
            Flow::Activate => "Press the button to activate your account.",
            Flow::Password => {
                "Choose a new password. Every place your account is signed in will be signed out, and its passkeys removed."
            }
            Flow::Username => "Choose the username you will sign in with from now on.",
            Flow::Email => "Press the button to make this address your account's email.",
        }
    }

    fn button(self) -> &'static str {
        match self {
            Flow::Activate => "Activate",
            Flow::Password => "Set the new password",
            Flow::Username => "Set the new username",
            Flow::Email => "Confirm",
        }
    }

    fn done(self) -> (&'static str, &'static str) {
        match self {
            Flow::Activate => ("Account active", "Your account is active. You can sign in now."),
            Flow::Password => (
                "Password changed",
                "Your password is changed, every session has ended and your passkeys are removed. Sign in with the new password.",
            ),
            Flow::Username => ("Username changed", "Your username is changed. Sign in with the new one."),
            Flow::Email => ("Email changed", "Your account's email address is changed."),
        }
    }
}

/// A link page's form.
#[derive(Deserialize)]
pub(crate) struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    re_new_password: String,
    #[serde(default)]
    new_username: String,
}

/// Lets a link's form through (see [`Binding::Link`]).
fn accept_link_form(
    request: &HttpRequest,
    pages: &Pages,
    csrf_token: &str,
) -> Result<(), PagesError> {
    accept_bound_form(request, pages, csrf_token, Binding::Link)
}

fn link_page(
    request: &HttpRequest,
    pages: &Pages,
    flow: Flow,
    status: StatusCode,
    errors: Vec<String>,
) -> HttpResponse {
    bound_form_page(request, pages, Binding::Link, |csrf| {
        let link = Link {
            title: flow.title(),
            errors,
            csrf,
            intro: flow.intro(),
            button: flow.button(),
            ask_password: matches!(flow, Flow::Password),
            ask_username: matches!(flow, Flow::Username),
        };
        page(status, &link)
    })
}

/// `GET /account/activate/{uid}/{token}`
pub(crate) async fn activate_page(request: HttpRequest, pages: web::Data<Pages>) -> HttpResponse {
    link_page(&request, &pages, Flow::Activate, StatusCode::OK, Vec::new())
}

/// `GET /account/password/reset/confirm/{uid}/{token}`
pub(crate) async fn password_page(request: HttpRequest, pages: web::Data<Pages>) -> HttpResponse {
    link_page(&request, &pages, Flow::Password, StatusCode::OK, Vec::new())
}

/// `GET /account/username/reset/confirm/{uid}/{token}`
pub(crate) async fn username_page(request: HttpRequest, pages: web::Data<Pages>) -> HttpResponse {
    link_page(&request, &pages, Flow::Username, StatusCode::OK, Vec::new())
}

/// `GET /account/email/confirm/{uid}/{token}`
pub(crate) async fn email_page(request: HttpRequest, pages: web::Data<Pages>) -> HttpResponse {
    link_page(&request, &pages, Flow::Email, StatusCode::OK, Vec::new())
}

/// `POST /account/activate/{uid}/{token}`
pub(crate) async fn activate(
    request: HttpRequest,
    pages: web::Data<Pages>,
    path: web::Path<(String, String)>,
    form: web::Form<LinkForm>,
) -> Result<HttpResponse, PagesError> {
    accept_link_form(&request, &pages, &form.csrf)?;
    apply(
        &request,
        &pages,
        path,
        Flow::Activate,
        |accounts, uid, token, actor| accounts.activate(uid, token, actor).map(|_| ()),
    )
    .await
}

/// `POST /account/password/reset/confirm/{uid}/{token}`
pub(crate) async fn reset_password(
    request: HttpRequest,
    pages: web::Data<Pages>,
    path: web::Path<(String, String)>,
    form: web::Form<LinkForm>,
) -> Result<HttpResponse, PagesError> {
    accept_link_form(&request, &pages, &form.csrf)?;
    let form = form.into_inner();
    if form.new_password != form.re_new_password {
        let errors = vec!["The two passwords differ.".to_owned()];
        return Ok(link_page(
            &request,
            &pages,
            Flow::Password,
            StatusCode::BAD_REQUEST,
            errors,
        ));
    }
    apply(
        &request,
        &pages,
        path,
        Flow::Password,
        move |accounts, uid, token, actor| {
            accounts.reset_password(uid, token, &form.new_password, actor)
        },
    )
    .await
}

/// `POST /account/username/reset/confirm/{uid}/{token}`
pub(crate) async fn reset_username(
    request: HttpRequest,
    pages: web::Data<Pages>,
    path: web::Path<(String, String)>,
    form: web::Form<LinkForm>,
) -> Result<HttpResponse, PagesError> {
    accept_link_form(&request, &pages, &form.csrf)?;
    let new_username = form.into_inner().new_username;
    apply(
        &request,
        &pages,
        path,
        Flow::Username,
        move |accounts, uid, token, actor| {
            accounts.reset_username(uid, token, &new_username, actor)
        },
    )
    .await
}

/// `POST /account/email/confirm/{uid}/{token}`
pub(crate) async fn confirm_email(
    request: HttpRequest,
    pages: web::Data<Pages>,
    path: web::Path<(String, String)>,
    form: web::Form<LinkForm>,
) -> Result<HttpResponse, PagesError> {
    accept_link_form(&request, &pages, &form.csrf)?;
    apply(
        &request,
        &pages,
        path,
        Flow::Email,
        |accounts, uid, token, actor| accounts.confirm_email_change(uid, token, actor),
    )
    .await
}

/// Makes a link's change with its `uid` and `token`, off the async workers,
/// and answers with the page after the button.
async fn apply<F>(
    request: &HttpRequest,
    pages: &Pages,
    path: web::Path<(String, String)>,
    flow: Flow,
    change: F,
) -> Result<HttpResponse, PagesError>
where
    F: FnOnce(&AccountService, &str, &str, &Actor) -> Result<(), UsersError> + Send + 'static,
{
    let (uid, token) = path.into_inner();
    let accounts = pages.inner.accounts.clone();
    let actor = client::actor(request, &pages.inner.settings);
    let outcome = blocking(move || change(&accounts, &uid, &token, &actor)).await?;
    finish(request, pages, flow, outcome)
}

/// The page after the button: done, the link refused, or what to fix.
fn finish(
    request: &HttpRequest,
    pages: &Pages,
    flow: Flow,
    outcome: Result<(), UsersError>,
) -> Result<HttpResponse, PagesError> {
    match outcome {
        Ok(()) => {
            let (title, text) = flow.done();
            Ok(message_page(
                StatusCode::OK,
                &Message {
                    title,
                    text,
                    link: Some(("/account/sign-in", "Sign in")),
                },
            ))
        }
        Err(UsersError::Invalid(errors))
            if errors.iter().any(|e| e.field == "uid" || e.field == "token") =>
        {
            Ok(message_page(
                StatusCode::BAD_REQUEST,
                &Message {
                    title: "Link expired",
                    text: "This link is invalid, was already used, or has expired. Ask for a new email.",
                    link: Some(("/account/sign-in", "Sign in")),
                },
            ))
        }
        Err(UsersError::Invalid(errors)) => {
            let messages = errors.into_iter().map(|e| e.message).collect();
            Ok(link_page(request, pages, flow, StatusCode::BAD_REQUEST, messages))
        }
        Err(UsersError::Storage(e)) => Err(PagesError::Unavailable(e.to_string())),
        Err(other) => Ok(link_page(
            request,
            pages,
            flow,
            StatusCode::BAD_REQUEST,
            vec![other.to_string()],
        )),
    }
}
