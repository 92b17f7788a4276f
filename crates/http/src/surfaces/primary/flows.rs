//! The email flows of the primary surface (djoser's activation, resend,
//! password reset and username reset routes).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use sesame_users::{AccountService, Activation, UsersError};

use super::{checked, fields, users_error, Drf};
use crate::openapi::schemas as doc;
use crate::surfaces::login::anonymous_actor;
use crate::surfaces::run;
use crate::{ApiError, AppState};

pub(super) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/auth/users/activation/", web::post().to(activation))
        .route(
            "/auth/users/resend_activation/",
            web::post().to(resend_activation),
        )
        .route(
            "/auth/users/reset_password/",
            web::post().to(reset_password),
        )
        .route(
            "/auth/users/reset_password_confirm/",
            web::post().to(reset_password_confirm),
        )
        .route(
            "/auth/users/reset_username/",
            web::post().to(reset_username),
        )
        .route(
            "/auth/users/reset_username_confirm/",
            web::post().to(reset_username_confirm),
        );
}

fn stale_token() -> ApiError {
    Drf::detail(
        StatusCode::FORBIDDEN,
        "Stale token for given user.",
        "permission_denied",
    )
}

/// Activate an account from the emailed link.
#[utoipa::path(
    post,
    path = "/auth/users/activation/",
    request_body = doc::UidToken,
    responses(
        (status = 204, description = "Activated"),
        (status = 400, description = "Invalid uid or token, or bad fields", body = doc::DrfBadRequest),
        (status = 403, description = "`Stale token for given user.` (already active)", body = doc::DrfError),
    )
)]
async fn activation(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let uid = f.required("uid");
    let token = f.required("token");
    checked(f)?;
    let actor = anonymous_actor(&request, &state);
    let accounts = state.accounts.clone();
    match run::<Drf, _, _>(move || accounts.activate(&uid, &token, &actor))
        .await?
        .map_err(users_error)?
    {
        Activation::Activated => Ok(HttpResponse::NoContent().finish()),
        Activation::AlreadyActive => Err(stale_token()),
    }
}

/// The routes that start an email flow from an address answer 204 at once,
/// whether or not the address belongs to an account: the lookup and the
/// queueing happen after the answer, on the blocking pool, so neither the
/// answer nor its timing tells which addresses exist.
async fn start_flow(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    flow: &'static str,
    work: fn(&AccountService, &str) -> Result<(), UsersError>,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let email = f.required("email");
    checked(f)?;
    let accounts = state.accounts.clone();
    // The handle is dropped: the task runs on whether or not it is awaited.
    let span = tracing::Span::current();
    drop(actix_web::rt::task::spawn_blocking(move || {
        let _in_request = span.enter();
        if let Err(error) = work(&accounts, &email) {
            tracing::error!(flow, error = %error, "email flow failed");
        }
    }));
    Ok(HttpResponse::NoContent().finish())
}

/// Email the activation link again, if the address is an inactive account's.
#[utoipa::path(
    post,
    path = "/auth/users/resend_activation/",
    request_body = doc::EmailAddress,
    responses(
        (status = 204, description = "Always, whether or not the address is known"),
        (status = 400, description = "Missing or bad fields", body = doc::DrfBadRequest),
    )
)]
async fn resend_activation(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    start_flow(state, request, payload, "resend_activation", |a, email| {
        a.resend_activation(email)
    })
    .await
}

/// Email a password reset link, if the address is an account's.
#[utoipa::path(
    post,
    path = "/auth/users/reset_password/",
    request_body = doc::EmailAddress,
    responses(
        (status = 204, description = "Always, whether or not the address is known"),
        (status = 400, description = "Missing or bad fields", body = doc::DrfBadRequest),
    )
)]
async fn reset_password(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    start_flow(state, request, payload, "reset_password", |a, email| {
        a.request_password_reset(email)
    })
    .await
}

/// Email a username reset link, if the address is an account's.
#[utoipa::path(
    post,
    path = "/auth/users/reset_username/",
    request_body = doc::EmailAddress,
    responses(
        (status = 204, description = "Always, whether or not the address is known"),
        (status = 400, description = "Missing or bad fields", body = doc::DrfBadRequest),
    )
)]
async fn reset_username(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    start_flow(state, request, payload, "reset_username", |a, email| {
        a.request_username_reset(email)
    })
    .await
}

/// Sets the new password; every session of the account is revoked.
#[utoipa::path(
    post,
    path = "/auth/users/reset_password_confirm/",
    request_body = doc::ResetPasswordConfirm,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Invalid, expired or used link, a weak password, passwords that differ, or bad fields", body = doc::DrfBadRequest),
    )
)]
async fn reset_password_confirm(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let uid = f.required("uid");
    let token = f.required("token");
    let new_password = f.required("new_password");
    let again = f.required("re_new_password");
    checked(f)?;
    if new_password != again {
        return Err(Drf::field(
            "non_field_errors",
            "The two password fields didn't match.",
        ));
    }
    let actor = anonymous_actor(&request, &state);
    let accounts = state.accounts.clone();
    run::<Drf, _, _>(move || accounts.reset_password(&uid, &token, &new_password, &actor))
        .await?
        .map_err(users_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets the new username from the emailed link.
#[utoipa::path(
    post,
    path = "/auth/users/reset_username_confirm/",
    request_body = doc::ResetUsernameConfirm,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Invalid, expired or used link, a bad or taken username, or bad fields", body = doc::DrfBadRequest),
    )
)]
async fn reset_username_confirm(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let uid = f.required("uid");
    let token = f.required("token");
    let new_username = f.required("new_username");
    let again = f.optional("re_new_username");
    checked(f)?;
    if again.is_some_and(|again| again != new_username) {
        return Err(Drf::field(
            "non_field_errors",
            "The two username fields didn't match.",
        ));
    }
    let actor = anonymous_actor(&request, &state);
    let accounts = state.accounts.clone();
    run::<Drf, _, _>(move || accounts.reset_username(&uid, &token, &new_username, &actor))
        .await?
        .map_err(users_error)?;
    Ok(HttpResponse::NoContent().finish())
}
