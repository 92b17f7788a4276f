//! A second factor: TOTP, with recovery codes.

use actix_web::{delete, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use sesame_tokens::TotpSetup;
use utoipa::ToSchema;
use validator::Validate;

use super::done_as;
use crate::auth::Authed;
use crate::client::Client;
use crate::error_schemas as doc;
use crate::shape::Words;
use crate::surfaces::Drf;
use crate::wire::Body;
use crate::{ApiError, AppState};

/// The caller's current password.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = account_security::CurrentPassword)]
struct CurrentPassword {
    current_password: String,
}

/// A TOTP code.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = account_security::TotpCode)]
struct TotpCode {
    code: String,
}

/// Turning TOTP off.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = account_security::TotpDisable)]
struct TotpDisable {
    current_password: String,
    /// A TOTP code or an unused recovery code.
    code: String,
}

/// A TOTP secret, not active until confirmed.
#[derive(Serialize, ToSchema)]
#[schema(as = account_security::TotpSetup)]
struct TotpSecret {
    /// Base32, at least 160 bits.
    secret: String,
    /// `otpauth://totp/Sesame:<username>?secret=<secret>&issuer=Sesame`.
    otpauth_url: String,
}

impl From<TotpSetup> for TotpSecret {
    fn from(setup: TotpSetup) -> Self {
        TotpSecret {
            secret: setup.secret,
            otpauth_url: setup.otpauth_url,
        }
    }
}

/// The recovery codes, shown once.
#[derive(Serialize, ToSchema)]
#[schema(as = account_security::RecoveryCodes)]
struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

/// Start TOTP: a new secret, not active until confirmed.
#[utoipa::path(
    request_body = CurrentPassword,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The secret", body = TotpSecret),
        (status = 400, description = "Wrong password, or bad fields", body = doc::DrfBadRequest),
        (status = 409, description = "TOTP is already on", body = doc::DrfError),
    )
)]
#[post("/auth/mfa/totp/setup/")]
pub(super) async fn totp_setup(
    state: web::Data<AppState>,
    Authed(caller, body): Authed<Drf, Body<CurrentPassword, Drf>>,
) -> Result<HttpResponse, ApiError> {
    let CurrentPassword { current_password } = body.into_inner();
    let setup = Drf::call(&state, move |s| {
        s.accounts
            .confirm_password(&caller.user, &current_password)?;
        s.mfa.setup(&caller.user)
    })
    .await?;
    Ok(HttpResponse::Ok().json(TotpSecret::from(setup)))
}

/// Turn TOTP on with a first code; answers the recovery codes, once. Every
/// other session of the user ends.
#[utoipa::path(
    request_body = TotpCode,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "TOTP is on", body = RecoveryCodes),
        (status = 400, description = "Wrong code, no setup started, or bad fields", body = doc::DrfBadRequest),
        (status = 409, description = "TOTP is already on", body = doc::DrfError),
    )
)]
#[post("/auth/mfa/totp/confirm/")]
pub(super) async fn totp_confirm(
    state: web::Data<AppState>,
    client: Client,
    Authed(caller, body): Authed<Drf, Body<TotpCode, Drf>>,
) -> Result<HttpResponse, ApiError> {
    let TotpCode { code } = body.into_inner();
    let actor = client.acting_as(caller.user.id);
    let recovery_codes = Drf::call(&state.mfa, move |mfa| {
        mfa.confirm(&caller.user, &code, Some(&caller.session_id), &actor)
    })
    .await?;
    Ok(HttpResponse::Ok().json(RecoveryCodes { recovery_codes }))
}

/// Turn TOTP off.
#[utoipa::path(
    request_body = TotpDisable,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "TOTP is off"),
        (status = 400, description = "Wrong password or code, TOTP not on, or bad fields", body = doc::DrfBadRequest),
    )
)]
#[delete("/auth/mfa/totp/")]
pub(super) async fn totp_disable(
    state: web::Data<AppState>,
    client: Client,
    Authed(caller, body): Authed<Drf, Body<TotpDisable, Drf>>,
) -> Result<HttpResponse, ApiError> {
    let TotpDisable {
        current_password,
        code,
    } = body.into_inner();
    let actor = client.acting_as(caller.user.id);
    done_as(actor, &state, move |s, actor| {
        s.accounts
            .confirm_password(&caller.user, &current_password)?;
        s.mfa.disable(&caller.user, &code, actor)
    })
    .await
}
