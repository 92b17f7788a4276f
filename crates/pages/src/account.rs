//! The signed-in account: profile, sessions with an end button, passkeys,
//! sign out.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use sesame_kernel::Timestamp;
use sesame_tokens::{Authenticated, Session, StoredPasskey, TokensError};

use crate::cookies::signed_in;
use crate::csrf::form_page;
use crate::render::{message_page, page, redirect, Account, Message, PasskeyRow, SessionRow};
use crate::sign_in::{sign_in_page, TokenOnly};
use crate::{accept_form, blocking, client, Pages, PagesError};

/// `GET /account/`: the account when signed in, else the sign-in form.
pub(crate) async fn home(
    request: HttpRequest,
    pages: web::Data<Pages>,
) -> Result<HttpResponse, PagesError> {
    let Some(known) = signed_in(&request, &pages).await? else {
        return Ok(sign_in_page(
            &request,
            &pages,
            StatusCode::OK,
            "",
            Vec::new(),
        ));
    };
    account_page(&request, &pages, known, StatusCode::OK, Vec::new()).await
}

/// The account page of `known`, with this status and errors.
pub(crate) async fn account_page(
    request: &HttpRequest,
    pages: &Pages,
    known: Authenticated,
    status: StatusCode,
    errors: Vec<String>,
) -> Result<HttpResponse, PagesError> {
    let sessions = pages.inner.sessions.clone();
    let passkeys = pages.inner.passkeys.clone();
    let user_id = known.user.id;
    let (live, keys) = blocking(move || {
        Ok::<_, TokensError>((sessions.list_sessions(user_id)?, passkeys.list(user_id)?))
    })
    .await?
    .map_err(|e| PagesError::Unavailable(e.to_string()))?;
    let user = &known.user;
    let rows = live
        .iter()
        .map(|session| row(session, &known.session_id))
        .collect();
    let passkeys = keys.iter().map(passkey_row).collect();
    let name = format!("{} {}", user.first_name, user.last_name)
        .trim()
        .to_owned();
    Ok(form_page(request, pages, |csrf| {
        let account = Account {
            title: "Your account",
            errors,
            csrf,
            username: &user.username,
            email: user.email.as_deref().unwrap_or_default(),
            name,
            joined: date(user.date_joined),
            sessions: rows,
            passkeys,
        };
        page(status, &account)
    }))
}

/// `POST /account/sessions/{id}/end`
pub(crate) async fn end_session(
    request: HttpRequest,
    pages: web::Data<Pages>,
    id: web::Path<String>,
    form: web::Form<TokenOnly>,
) -> Result<HttpResponse, PagesError> {
    accept_form(&request, &pages, &form.csrf)?;
    let Some(known) = signed_in(&request, &pages).await? else {
        return Ok(redirect("/account/sign-in"));
    };
    let sessions = pages.inner.sessions.clone();
    let actor = client::actor(&request, &pages.inner.settings).acting_as(known.user.id);
    let id = id.into_inner();
    let user_id = known.user.id;
    match blocking(move || sessions.end_session(user_id, &id, &actor)).await? {
        Ok(()) => Ok(redirect("/account/")),
        Err(TokensError::SessionNotFound) => Ok(message_page(
            StatusCode::NOT_FOUND,
            &Message {
                title: "Session not found",
                text: "That session has already ended.",
                link: Some(("/account/", "Back to your account")),
            },
        )),
        Err(e) => Err(PagesError::Unavailable(e.to_string())),
    }
}

fn row(session: &Session, current: &str) -> SessionRow {
    SessionRow {
        id: session.id.clone(),
        device: session
            .client
            .user_agent
            .clone()
            .unwrap_or_else(|| "Unknown device".to_owned()),
        ip: session
            .client
            .ip
            .clone()
            .unwrap_or_else(|| "an unknown address".to_owned()),
        started: date(session.created_at),
        last_used: date(session.last_used_at),
        current: session.id == current,
    }
}

fn passkey_row(passkey: &StoredPasskey) -> PasskeyRow {
    PasskeyRow {
        id: passkey.id.clone(),
        name: passkey.name.clone(),
        added: date(passkey.created_at),
        last_used: passkey.last_used_at.map(date),
    }
}

fn date(at: Timestamp) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}
