//! The email flows of the primary surface (djoser's activation, resend,
//! password reset and username reset routes).

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpResponse};
use serde::Deserialize;
use sesame_users::{Activation, MailFlow};
use utoipa::ToSchema;
use validator::Validate;

use super::{done_as, same_again, Drf};
use crate::client::Client;
use crate::error_schemas as doc;
use crate::shape::{Shape, Words};
use crate::wire::Body;
use crate::{ApiError, AppState};

/// The `uid` and `token` of an emailed link.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = primary::UidToken)]
struct UidToken {
    /// The user id in unpadded URL-safe base64.
    uid: String,
    /// The single-use token of the link.
    token: String,
}

/// An address to send an email flow's link to.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = primary::EmailAddress)]
struct EmailAddress {
    email: String,
}

/// A password reset from an emailed link.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = primary::ResetPasswordConfirm)]
struct ResetPasswordConfirm {
    uid: String,
    token: String,
    /// 8..=128 characters, not common, not built from the username or email.
    #[schema(min_length = 8, max_length = 128)]
    new_password: String,
    re_new_password: String,
}

/// A username reset from an emailed link.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = primary::ResetUsernameConfirm)]
struct ResetUsernameConfirm {
    uid: String,
    token: String,
    /// 1..=150 letters of one script, digits and `@ . + - _`; unique ignoring
    /// case and compatibility forms (NFKC), and not another account's email.
    #[schema(min_length = 1, max_length = 150, pattern = r"^[\w.@+-]+$")]
    new_username: String,
    re_new_username: Option<String>,
}

/// Activate an account from the emailed link.
#[utoipa::path(
    request_body = UidToken,
    responses(
        (status = 204, description = "Activated"),
        (status = 400, description = "Invalid uid or token, or bad fields", body = doc::DrfBadRequest),
        (status = 403, description = "`Stale token for given user.` (already active)", body = doc::DrfError),
    )
)]
#[post("/auth/users/activation/")]
pub(super) async fn activation(
    state: web::Data<AppState>,
    client: Client,
    body: Body<UidToken, Drf>,
) -> Result<HttpResponse, ApiError> {
    let UidToken { uid, token } = body.into_inner();
    let actor = client.anonymous();
    match Drf::call(&state.accounts, move |a| a.activate(&uid, &token, &actor)).await? {
        Activation::Activated => Ok(HttpResponse::NoContent().finish()),
        Activation::AlreadyActive => Err(Drf::message(
            StatusCode::FORBIDDEN,
            "Stale token for given user.",
        )),
    }
}

/// The routes that start an email flow from an address answer 204 at once,
/// whether or not the address belongs to an account: the lookup and the
/// queueing happen after the answer, on the blocking pool, so neither the
/// answer nor its timing tells which addresses exist. Past the flows the
/// domain lets wait, one is dropped, answered 204 all the same.
fn start_flow(state: &AppState, body: Body<EmailAddress, Drf>, flow: MailFlow) -> HttpResponse {
    let EmailAddress { email } = body.into_inner();
    let place = match state.accounts.mail_flow_place(flow, &email) {
        Ok(place) => place,
        Err(error) => {
            tracing::warn!(?flow, error = %error, "email flow dropped");
            return HttpResponse::NoContent().finish();
        }
    };
    let accounts = state.accounts.clone();
    // The handle is dropped: the task runs on whether or not it is awaited.
    let span = tracing::Span::current();
    drop(actix_web::rt::task::spawn_blocking(move || {
        let _in_request = span.enter();
        let _place = place;
        if let Err(error) = flow.run(&accounts, &email) {
            tracing::error!(?flow, error = %error, "email flow failed");
        }
    }));
    HttpResponse::NoContent().finish()
}

/// Declares the routes that email a link to a posted address: each answers
/// 204 at once and starts its flow after the answer ([`start_flow`]).
macro_rules! email_flows {
    ($($(#[doc = $doc:literal])+ $name:ident: $path:literal => $flow:expr;)+) => {$(
        $(#[doc = $doc])+
        #[utoipa::path(
            request_body = EmailAddress,
            responses((status = 204, description = "Always, whether or not the address is known"))
        )]
        #[post($path)]
        pub(super) async fn $name(
            state: web::Data<AppState>,
            body: Body<EmailAddress, Drf>,
        ) -> HttpResponse {
            start_flow(&state, body, $flow)
        }
    )+};
}

email_flows! {
    /// Email the activation link again, if the address is an inactive account's.
    resend_activation: "/auth/users/resend_activation/" => MailFlow::Activation;
    /// Email a password reset link, if the address is an account's.
    reset_password: "/auth/users/reset_password/" => MailFlow::PasswordReset;
    /// Email a username reset link, if the address is an account's.
    reset_username: "/auth/users/reset_username/" => MailFlow::UsernameReset;
}

/// Sets the new password; every session of the account is revoked.
#[utoipa::path(
    request_body = ResetPasswordConfirm,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Invalid, expired or used link, a weak password, passwords that differ, or bad fields", body = doc::DrfBadRequest),
    )
)]
#[post("/auth/users/reset_password_confirm/")]
pub(super) async fn reset_password_confirm(
    state: web::Data<AppState>,
    client: Client,
    body: Body<ResetPasswordConfirm, Drf>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    same_again(&body.new_password, Some(&body.re_new_password), "password")?;
    done_as(client.anonymous(), &state.accounts, move |a, actor| {
        a.reset_password(&body.uid, &body.token, &body.new_password, actor)
    })
    .await
}

/// Sets the new username from the emailed link.
#[utoipa::path(
    request_body = ResetUsernameConfirm,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Invalid, expired or used link, a bad or taken username, or bad fields", body = doc::DrfBadRequest),
    )
)]
#[post("/auth/users/reset_username_confirm/")]
pub(super) async fn reset_username_confirm(
    state: web::Data<AppState>,
    client: Client,
    body: Body<ResetUsernameConfirm, Drf>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    same_again(
        &body.new_username,
        body.re_new_username.as_deref(),
        "username",
    )?;
    done_as(client.anonymous(), &state.accounts, move |a, actor| {
        a.reset_username(&body.uid, &body.token, &body.new_username, actor)
    })
    .await
}
