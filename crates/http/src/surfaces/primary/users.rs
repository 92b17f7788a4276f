//! The accounts of the primary surface: list, read, change and delete them,
//! and change one's password or username.

use actix_web::{delete, get, post, route, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::Value;
use sesame_kernel::UserId;
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use super::avatars::{ProfileChange, ProfileForm};
use super::{done_as, same_again, Authenticated, Drf, User};
use crate::auth::Authed;
use crate::client::Client;
use crate::error_schemas as doc;
use crate::shape::Words;
use crate::surfaces::page_of;
use crate::wire::{self, Body};
use crate::{ApiError, AppState};

/// Profile changes. Other fields (id, password) are ignored.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = primary::ProfileUpdate)]
pub(super) struct ProfileUpdate {
    first_name: Option<String>,
    last_name: Option<String>,
    /// A new address of one's own account needs `current_password` and
    /// changes only once the link mailed to it is used; an admin changes
    /// another account's at once, with the admin's `current_password`.
    email: Option<String>,
    /// The caller's password: needed to change an email, to make another
    /// account an admin, or to change another admin's flags.
    current_password: Option<String>,
    /// Admins, of other accounts only (read-only for anyone else);
    /// `false` ends every session of the account; of an admin, a change
    /// needs the caller's `current_password`.
    #[serde(default, deserialize_with = "wire::optional_bool")]
    is_active: Option<bool>,
    /// Admins, of other accounts only (read-only for anyone else); a change
    /// needs the admin's `current_password`.
    #[serde(default, deserialize_with = "wire::optional_bool")]
    is_staff: Option<bool>,
    /// Only `null`, which removes the avatar; upload one with `multipart/form-data`.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = null_only)]
    #[validate(custom(function = "not_a_file"))]
    pub(super) avatar: Option<Value>,
}

impl From<ProfileUpdate> for sesame_users::ProfileUpdate {
    fn from(body: ProfileUpdate) -> Self {
        sesame_users::ProfileUpdate {
            first_name: body.first_name,
            last_name: body.last_name,
            email: body.email,
            current_password: body.current_password,
            is_active: body.is_active,
            is_staff: body.is_staff,
        }
    }
}

/// A field that is sent, `null` included.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

fn null_only() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Null)
        .build()
}

fn not_a_file(value: &Value) -> Result<(), ValidationError> {
    if value.is_null() {
        return Ok(());
    }
    Err(ValidationError::new("invalid").with_message(
        "The submitted data was not a file. Check the encoding type on the form.".into(),
    ))
}

/// The caller's current password.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = primary::CurrentPassword)]
struct CurrentPassword {
    current_password: String,
}

/// A password change.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = primary::SetPassword)]
struct SetPassword {
    current_password: String,
    /// 8..=128 characters, not common, not built from the username or email.
    #[schema(min_length = 8, max_length = 128)]
    new_password: String,
    re_new_password: String,
}

/// A username change.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = primary::SetUsername)]
struct SetUsername {
    current_password: String,
    /// 1..=150 letters of one script, digits and `@ . + - _`; unique ignoring
    /// case and compatibility forms (NFKC), and not another account's email.
    #[schema(min_length = 1, max_length = 150, pattern = r"^[\w.@+-]+$")]
    new_username: String,
    re_new_username: Option<String>,
}

// The answers that the `me` and `{id}` forms of a route share.
const BAD_PROFILE: &str = "Bad fields, a taken email, a new email (or, for admins, a new admin or another admin's flags) without the caller's right `current_password`, an admin's own flags, or an avatar that is not an accepted image";
const BAD_DELETION: &str = "Wrong password, or bad fields";
const NOT_VISIBLE: &str = "Unknown, or another user's id for a non-admin";

/// The `{id}` of the path; anything that is not an id is simply not found.
fn path_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse::<i64>().map(UserId).map_err(|_| Drf::not_found())
}

/// Users: admins see all, others only themselves.
#[utoipa::path(
    params(doc::PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of users", body = [User]),
    )
)]
#[get("/auth/users/")]
pub(super) async fn list_users(
    caller: Authenticated,
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = page_of::<Drf>(&request)?;
    let users = Drf::call(&state.accounts, move |a| a.list_for(&caller.user, page)).await?;
    Ok(HttpResponse::Ok().json(users.iter().map(User::from).collect::<Vec<_>>()))
}

/// The caller.
#[utoipa::path(
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = User))
)]
#[get("/auth/users/me/")]
pub(super) async fn get_me(caller: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(User::from(&caller.user))
}

/// A user: admins any, others only themselves.
#[utoipa::path(
    params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 404, description = NOT_VISIBLE, body = doc::DrfError),
    )
)]
#[get("/auth/users/{id}/")]
pub(super) async fn get_user(
    caller: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id)?;
    let user = Drf::call(&state.accounts, move |a| a.get_for(&caller.user, id)).await?;
    Ok(HttpResponse::Ok().json(User::from(&user)))
}

/// Change the caller's profile; `multipart/form-data` uploads an avatar. A
/// new email needs `current_password` and changes once the link mailed to it is used.
#[utoipa::path(
    request_body(content(
        (Option<ProfileUpdate> = "application/json"),
        (Option<ProfileForm> = "multipart/form-data"),
    )),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 400, description = BAD_PROFILE, body = doc::DrfBadRequest),
    )
)]
#[route("/auth/users/me/", method = "PUT", method = "PATCH")]
pub(super) async fn update_me(
    Authed(caller, change): Authed<Drf, ProfileChange>,
    state: web::Data<AppState>,
    client: Client,
) -> Result<HttpResponse, ApiError> {
    let target = caller.user.id;
    update_profile(caller, state, client, target, change).await
}

/// Change a user's profile: admins any (another's email at once, and
/// `is_active`/`is_staff`), others only themselves.
#[utoipa::path(
    params(("id" = i64, Path)),
    request_body(content(
        (Option<ProfileUpdate> = "application/json"),
        (Option<ProfileForm> = "multipart/form-data"),
    )),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 400, description = BAD_PROFILE, body = doc::DrfBadRequest),
        (status = 404, description = NOT_VISIBLE, body = doc::DrfError),
    )
)]
#[route("/auth/users/{id}/", method = "PUT", method = "PATCH")]
pub(super) async fn update_user(
    Authed(caller, change): Authed<Drf, ProfileChange>,
    state: web::Data<AppState>,
    client: Client,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let target = path_id(&id)?;
    update_profile(caller, state, client, target, change).await
}

/// PUT and PATCH: the profile fields change; a user's own new email needs
/// `current_password` and is confirmed by email first; admins set
/// `is_active`/`is_staff` of other accounts (for anyone else those are
/// read-only and ignored, as in DRF); id and the password are read-only.
async fn update_profile(
    caller: Authenticated,
    state: web::Data<AppState>,
    client: Client,
    target: UserId,
    change: ProfileChange,
) -> Result<HttpResponse, ApiError> {
    let ProfileChange { fields, avatar } = change;
    let actor = client.acting_as(caller.user.id);
    let edit = Drf::call(&state.accounts, move |a| {
        a.edit_profile(&caller.user, target, fields.into(), avatar, &actor)
    })
    .await?;
    Ok(HttpResponse::Ok().json(User::from(&edit.user)))
}

/// Delete the caller's account.
#[utoipa::path(
    request_body = CurrentPassword,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = BAD_DELETION, body = doc::DrfBadRequest),
    )
)]
#[delete("/auth/users/me/")]
pub(super) async fn delete_me(
    Authed(caller, body): Authed<Drf, Body<CurrentPassword, Drf>>,
    state: web::Data<AppState>,
    client: Client,
) -> Result<HttpResponse, ApiError> {
    let target = caller.user.id;
    delete_account(caller, state, client, target, body.into_inner()).await
}

/// Delete an account: admins any, others only themselves; the caller's own password.
#[utoipa::path(
    params(("id" = i64, Path)),
    request_body = CurrentPassword,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = BAD_DELETION, body = doc::DrfBadRequest),
        (status = 404, description = NOT_VISIBLE, body = doc::DrfError),
    )
)]
#[delete("/auth/users/{id}/")]
pub(super) async fn delete_user(
    Authed(caller, body): Authed<Drf, Body<CurrentPassword, Drf>>,
    state: web::Data<AppState>,
    client: Client,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let target = path_id(&id)?;
    delete_account(caller, state, client, target, body.into_inner()).await
}

/// Deleting an account takes the caller's own current password (djoser's rule).
async fn delete_account(
    caller: Authenticated,
    state: web::Data<AppState>,
    client: Client,
    target: UserId,
    body: CurrentPassword,
) -> Result<HttpResponse, ApiError> {
    let actor = client.acting_as(caller.user.id);
    done_as(actor, &state.accounts, move |a, actor| {
        a.delete_account(&caller.user, target, &body.current_password, actor)
    })
    .await
}

/// Change the password; every other session of the account ends.
#[utoipa::path(
    request_body = SetPassword,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Wrong current password, a weak password, passwords that differ, or bad fields", body = doc::DrfBadRequest),
    )
)]
#[post("/auth/users/set_password/")]
pub(super) async fn set_password(
    Authed(caller, body): Authed<Drf, Body<SetPassword, Drf>>,
    state: web::Data<AppState>,
    client: Client,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    same_again(&body.new_password, Some(&body.re_new_password), "password")?;
    let actor = client.acting_as(caller.user.id);
    done_as(actor, &state.accounts, move |a, actor| {
        let session = Some(caller.session_id.as_str());
        let (current, new) = (&body.current_password, &body.new_password);
        a.set_password(&caller.user, current, new, session, actor)
    })
    .await
}

/// Change the username.
#[utoipa::path(
    request_body = SetUsername,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Wrong password, a bad or taken username, usernames that differ, or bad fields", body = doc::DrfBadRequest),
    )
)]
#[post("/auth/users/set_username/")]
pub(super) async fn set_username(
    Authed(caller, body): Authed<Drf, Body<SetUsername, Drf>>,
    state: web::Data<AppState>,
    client: Client,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let again = body.re_new_username.as_deref();
    same_again(&body.new_username, again, "username")?;
    let actor = client.acting_as(caller.user.id);
    done_as(actor, &state.accounts, move |a, actor| {
        let (current, new) = (&body.current_password, &body.new_username);
        a.set_username(&caller.user, current, new, actor)
    })
    .await
}
