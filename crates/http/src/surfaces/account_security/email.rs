//! An email change that the new address confirms.

use actix_web::{post, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use super::done_as;
use crate::auth::Authed;
use crate::client::Client;
use crate::error_schemas as doc;
use crate::surfaces::Drf;
use crate::wire::Body;
use crate::{ApiError, AppState};

/// An email change: a link goes to the new address.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = account_security::SetEmail)]
struct SetEmail {
    current_password: String,
    #[schema(format = Email)]
    new_email: String,
}

/// The `uid` and `token` of an emailed link.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = account_security::UidToken)]
struct UidToken {
    /// The user id in unpadded URL-safe base64.
    uid: String,
    /// The single-use token of the link.
    token: String,
}

/// Change the email: a link goes to the new address, a notice to the old.
#[utoipa::path(
    request_body = SetEmail,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The link was sent"),
        (status = 400, description = "Wrong password, a bad or taken address, or bad fields", body = doc::DrfBadRequest),
    )
)]
#[post("/auth/users/set_email/")]
pub(super) async fn set_email(
    state: web::Data<AppState>,
    client: Client,
    Authed(caller, body): Authed<Drf, Body<SetEmail, Drf>>,
) -> Result<HttpResponse, ApiError> {
    let SetEmail {
        current_password,
        new_email,
    } = body.into_inner();
    let actor = client.acting_as(caller.user.id);
    done_as(actor, &state.accounts, move |a, actor| {
        a.request_email_change(&caller.user, &current_password, &new_email, actor)
    })
    .await
}

/// Confirm an email change from the link sent to the new address.
#[utoipa::path(
    request_body = UidToken,
    responses(
        (status = 204, description = "The email changed"),
        (status = 400, description = "Invalid, expired or used link, or bad fields", body = doc::DrfBadRequest),
    )
)]
#[post("/auth/users/set_email_confirm/")]
pub(super) async fn set_email_confirm(
    state: web::Data<AppState>,
    client: Client,
    body: Body<UidToken, Drf>,
) -> Result<HttpResponse, ApiError> {
    let UidToken { uid, token } = body.into_inner();
    done_as(client.anonymous(), &state.accounts, move |a, actor| {
        a.confirm_email_change(&uid, &token, actor)
    })
    .await
}
