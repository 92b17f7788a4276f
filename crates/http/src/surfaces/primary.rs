//! Surface `primary`: accounts and JWT in djoser's layout (seed 004), with
//! Django REST framework's error shapes.

use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};
use sesame_kernel::UserId;
use sesame_tokens::TokensError;
use sesame_users::{AvatarChange, ProfileUpdate, Registration, User, UsersError};

use super::login::{actor_of, log_in};
use super::{body_fields, page_of, run, storage_failure};
use crate::body::BodyError;
use crate::client::client_info;
use crate::fields::Fields;
use crate::openapi::{schemas as doc, OptionalBodies};
use crate::shape::{AuthFailure, ErrorShape, Shape};
use crate::time::rfc3339;
use crate::wire::FieldIssue;
use crate::{ApiError, AppState, Bearer};
use sesame_tokens::Credentials;

/// Django REST framework's error shapes.
pub struct Drf;

impl Drf {
    fn detail(status: StatusCode, detail: &str, code: &str) -> ApiError {
        ApiError::new(status, json!({"detail": detail, "code": code}))
    }

    fn field(field: &str, message: &str) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, json!({ field: [message] }))
    }
}

impl Shape for Drf {
    const DOCUMENTED: ErrorShape = ErrorShape::Drf;

    fn message(status: StatusCode, message: &str) -> ApiError {
        let code = match status {
            StatusCode::BAD_REQUEST => "invalid",
            StatusCode::UNAUTHORIZED => "not_authenticated",
            StatusCode::FORBIDDEN => "permission_denied",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::TOO_MANY_REQUESTS => "throttled",
            StatusCode::SERVICE_UNAVAILABLE => "service_unavailable",
            _ => "error",
        };
        Self::detail(status, message, code)
    }

    fn coded(status: StatusCode, message: &str, code: &str) -> ApiError {
        Self::detail(status, message, code)
    }

    fn method_not_allowed(method: &Method) -> ApiError {
        Self::detail(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("Method \"{method}\" not allowed."),
            "method_not_allowed",
        )
    }

    fn invalid(issues: &[FieldIssue]) -> ApiError {
        let mut body = Map::new();
        for issue in issues {
            let messages = body
                .entry(issue.field.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = messages {
                list.push(Value::String(issue.message().to_owned()));
            }
        }
        ApiError::new(StatusCode::BAD_REQUEST, Value::Object(body))
    }

    fn unauthorized(failure: AuthFailure) -> ApiError {
        match failure {
            AuthFailure::Missing => Self::detail(
                StatusCode::UNAUTHORIZED,
                "Authentication credentials were not provided.",
                "not_authenticated",
            ),
            AuthFailure::Invalid => Self::detail(
                StatusCode::UNAUTHORIZED,
                "Given token not valid for any token type",
                "token_not_valid",
            ),
        }
        .with_bearer_challenge()
    }

    fn body_error(error: BodyError) -> ApiError {
        match error {
            BodyError::Malformed(reason) => Self::detail(
                StatusCode::BAD_REQUEST,
                &format!("JSON parse error - {reason}"),
                "parse_error",
            ),
            BodyError::TooLarge => {
                Self::message(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
            }
            BodyError::UnsupportedMediaType(content_type) => Self::detail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!("Unsupported media type \"{content_type}\" in request."),
                "unsupported_media_type",
            ),
            BodyError::NotAnObject => Self::detail(
                StatusCode::BAD_REQUEST,
                "Invalid data. Expected a dictionary, but got a list or a value.",
                "invalid",
            ),
        }
    }
}

type Authenticated = Bearer<Drf>;

mod avatars;
mod flows;

#[derive(utoipa::OpenApi)]
#[openapi(
    modifiers(&OPTIONAL_BODIES),
    paths(
        register,
        list_users,
        jwt_create,
        jwt_refresh,
        jwt_verify,
        get_me,
        update_me,
        delete_me,
        get_user,
        update_user,
        delete_user,
        set_password,
        set_username,
        flows::activation,
        flows::resend_activation,
        flows::reset_password,
        flows::reset_password_confirm,
        flows::reset_username,
        flows::reset_username_confirm,
        avatars::avatar_file
    )
)]
pub(super) struct Api;

/// Profile changes without a body change nothing.
const OPTIONAL_BODIES: OptionalBodies = OptionalBodies(&[
    ("put", "/auth/users/me/"),
    ("patch", "/auth/users/me/"),
    ("put", "/auth/users/{id}/"),
    ("patch", "/auth/users/{id}/"),
]);

pub(super) fn configure(config: &mut web::ServiceConfig) {
    // Before `/auth/users/{id}/`, which would match their paths too.
    flows::configure(config);
    avatars::configure(config);
    config
        .route("/auth/users/", web::post().to(register))
        .route("/auth/users/", web::get().to(list_users))
        .route("/auth/jwt/create/", web::post().to(jwt_create))
        .route("/auth/jwt/refresh/", web::post().to(jwt_refresh))
        .route("/auth/jwt/verify/", web::post().to(jwt_verify))
        .route("/auth/users/set_password/", web::post().to(set_password))
        .route("/auth/users/set_username/", web::post().to(set_username))
        .service(
            web::resource("/auth/users/me/")
                .route(web::get().to(get_me))
                .route(web::put().to(update_me))
                .route(web::patch().to(update_me))
                .route(web::delete().to(delete_me)),
        )
        .service(
            web::resource("/auth/users/{id}/")
                .route(web::get().to(get_user))
                .route(web::put().to(update_user))
                .route(web::patch().to(update_user))
                .route(web::delete().to(delete_user)),
        );
}

/// The user object of this surface. Never carries the password hash.
pub(crate) fn user_json(user: &User) -> Value {
    json!({
        "id": user.id.0,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "avatar": user.avatar.as_ref().map(|file| format!("/media/avatars/{file}")),
        "is_active": user.is_active,
        "date_joined": rfc3339(user.date_joined),
    })
}

/// Words an account error in this surface's shape.
pub(crate) fn users_error(error: UsersError) -> ApiError {
    match error {
        UsersError::Invalid(errors) => {
            Drf::invalid(&errors.iter().map(FieldIssue::from).collect::<Vec<_>>())
        }
        UsersError::UsernameTaken => {
            Drf::field("username", "A user with that username already exists.")
        }
        UsersError::EmailTaken => Drf::field("email", "A user with that email already exists."),
        UsersError::InvalidCredentials | UsersError::AccountInactive => no_active_account(),
        UsersError::WrongCurrentPassword => Drf::field("current_password", "Invalid password."),
        UsersError::NotFound => Drf::message(StatusCode::NOT_FOUND, "Not found."),
        UsersError::Storage(e) => storage_failure::<Drf>(&e),
    }
}

fn no_active_account() -> ApiError {
    Drf::detail(
        StatusCode::UNAUTHORIZED,
        "No active account found with the given credentials",
        "no_active_account",
    )
}

fn token_not_valid() -> ApiError {
    Drf::detail(
        StatusCode::UNAUTHORIZED,
        "Token is invalid or expired",
        "token_not_valid",
    )
}

fn tokens_error(error: TokensError) -> ApiError {
    match error {
        TokensError::Storage(e) => storage_failure::<Drf>(&e),
        TokensError::Users(e) => users_error(e),
        TokensError::Signing(e) => storage_failure::<Drf>(&e),
        _ => token_not_valid(),
    }
}

pub(super) async fn fields(
    state: &AppState,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<Fields, ApiError> {
    body_fields::<Drf>(state, request, payload).await
}

pub(super) fn checked(fields: Fields) -> Result<(), ApiError> {
    fields.finish().map_err(|issues| Drf::invalid(&issues))
}

fn passwords_match(password: &str, again: &str) -> Result<(), ApiError> {
    if password == again {
        Ok(())
    } else {
        Err(Drf::field(
            "non_field_errors",
            "The two password fields didn't match.",
        ))
    }
}

/// Create an account (inactive until activated when activation is required).
#[utoipa::path(
    post,
    path = "/auth/users/",
    request_body = doc::UserCreate,
    responses(
        (status = 201, description = "Created", body = doc::User),
        (status = 400, description = "Bad, missing or taken fields, a weak password, or passwords that differ", body = doc::DrfBadRequest),
    )
)]
async fn register(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let username = f.required("username");
    let email = f.required("email");
    let password = f.required("password");
    let re_password = f.required("re_password");
    let first_name = f.optional("first_name").unwrap_or_default();
    let last_name = f.optional("last_name").unwrap_or_default();
    checked(f)?;
    passwords_match(&password, &re_password)?;
    let registration = Registration {
        username,
        email: Some(email),
        password,
        first_name,
        last_name,
    };
    let accounts = state.accounts.clone();
    let user = run::<Drf, _, _>(move || accounts.register(registration))
        .await?
        .map_err(users_error)?;
    Ok(HttpResponse::Created().json(user_json(&user)))
}

/// Log in for a JWT pair.
#[utoipa::path(
    post,
    path = "/auth/jwt/create/",
    request_body = doc::JwtCreate,
    responses(
        (status = 200, description = "Logged in", body = doc::JwtPair),
        (status = 400, description = "Missing or bad fields", body = doc::DrfBadRequest),
        (status = 401, description = "`No active account found with the given credentials`, or `otp_required` / `otp_invalid`", body = doc::DrfError),
    )
)]
async fn jwt_create(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let login = if f.has("username") || !f.has("email") {
        f.required("username")
    } else {
        f.required("email")
    };
    let password = f.required("password");
    let otp = f.optional("otp");
    checked(f)?;
    let credentials = Credentials {
        login,
        password,
        otp,
    };
    let client = client_info(&request, &state.settings);
    let pair = log_in::<Drf>(&state, credentials, client, no_active_account).await?;
    Ok(HttpResponse::Ok().json(json!({"access": pair.access, "refresh": pair.refresh})))
}

/// Exchange a refresh token for a new pair; a reused one revokes its session.
#[utoipa::path(
    post,
    path = "/auth/jwt/refresh/",
    request_body = doc::JwtRefresh,
    responses(
        (status = 200, description = "A new pair (the refresh token is rotated)", body = doc::JwtPair),
        (status = 400, description = "Missing or bad fields", body = doc::DrfBadRequest),
        (status = 401, description = "`token_not_valid`", body = doc::DrfError),
    )
)]
async fn jwt_refresh(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let refresh = f.required("refresh");
    checked(f)?;
    let sessions = state.sessions.clone();
    let pair = run::<Drf, _, _>(move || sessions.refresh(&refresh))
        .await?
        .map_err(tokens_error)?;
    Ok(HttpResponse::Ok().json(json!({"access": pair.access, "refresh": pair.refresh})))
}

/// Check a token.
#[utoipa::path(
    post,
    path = "/auth/jwt/verify/",
    request_body = doc::JwtVerify,
    responses(
        (status = 200, description = "Valid", body = doc::Empty),
        (status = 400, description = "Missing or bad fields", body = doc::DrfBadRequest),
        (status = 401, description = "`Token is invalid or expired` (`token_not_valid`)", body = doc::DrfError),
    )
)]
async fn jwt_verify(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let token = f.required("token");
    checked(f)?;
    let sessions = state.sessions.clone();
    run::<Drf, _, _>(move || sessions.verify(&token))
        .await?
        .map_err(tokens_error)?;
    Ok(HttpResponse::Ok().json(json!({})))
}

/// Users: admins see all, others only themselves.
#[utoipa::path(
    get,
    path = "/auth/users/",
    params(doc::PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of users", body = [doc::User]),
        (status = 400, description = "Bad `skip` or `limit`", body = doc::DrfFieldErrors),
    )
)]
async fn list_users(
    state: web::Data<AppState>,
    request: HttpRequest,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let page = page_of::<Drf>(&request)?;
    let accounts = state.accounts.clone();
    let users = run::<Drf, _, _>(move || accounts.list_for(&caller.user, page))
        .await?
        .map_err(users_error)?;
    Ok(HttpResponse::Ok().json(users.iter().map(user_json).collect::<Vec<_>>()))
}

/// The `{id}` of the path; anything that is not an id is simply not found.
fn path_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse::<i64>()
        .map(UserId)
        .map_err(|_| Drf::message(StatusCode::NOT_FOUND, "Not found."))
}

/// The caller.
#[utoipa::path(
    get,
    path = "/auth/users/me/",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = doc::User))
)]
async fn get_me(caller: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(user_json(&caller.user))
}

/// A user: admins any, others only themselves.
#[utoipa::path(
    get,
    path = "/auth/users/{id}/",
    params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = doc::User),
        (status = 404, description = "Unknown, or another user's id for a non-admin", body = doc::DrfError),
    )
)]
async fn get_user(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id)?;
    let accounts = state.accounts.clone();
    let user = run::<Drf, _, _>(move || accounts.get_for(&caller.user, id))
        .await?
        .map_err(users_error)?;
    Ok(HttpResponse::Ok().json(user_json(&user)))
}

/// Change the caller's profile; `multipart/form-data` uploads an avatar. A
/// new email needs `current_password` and changes once the link mailed to it is used.
#[utoipa::path(
    method(put, patch),
    path = "/auth/users/me/",
    request_body(content(
        (doc::ProfileUpdate = "application/json"),
        (doc::ProfileForm = "multipart/form-data"),
    )),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = doc::User),
        (status = 400, description = "Bad fields, a taken email, a new own email without the right `current_password`, an admin's own flags, or an avatar that is not an accepted image", body = doc::DrfBadRequest),
    )
)]
async fn update_me(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let target = caller.user.id;
    update(state, request, payload, caller, target).await
}

/// Change a user's profile: admins any (another's email at once, and
/// `is_active`/`is_staff`), others only themselves.
#[utoipa::path(
    method(put, patch),
    path = "/auth/users/{id}/",
    params(("id" = i64, Path)),
    request_body(content(
        (doc::ProfileUpdate = "application/json"),
        (doc::ProfileForm = "multipart/form-data"),
    )),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = doc::User),
        (status = 400, description = "Bad fields, a taken email, a new own email without the right `current_password`, an admin's own flags, or an avatar that is not an accepted image", body = doc::DrfBadRequest),
        (status = 404, description = "Unknown, or another user's id for a non-admin", body = doc::DrfError),
    )
)]
async fn update_user(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let target = path_id(&id)?;
    update(state, request, payload, caller, target).await
}

/// PUT and PATCH: the profile fields change; a user's own new email needs
/// `current_password` and is confirmed by email first; admins set
/// `is_active`/`is_staff` of other accounts (for anyone else those are
/// read-only and ignored, as in DRF); id and the password are read-only. A
/// JSON body changes the text fields (`"avatar": null` removes the avatar);
/// a `multipart/form-data` body changes them and uploads the file in `avatar`.
async fn update(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
    target: UserId,
) -> Result<HttpResponse, ApiError> {
    let (mut f, avatar) = if avatars::is_multipart(&request) {
        let form = avatars::read_form(&state, &request, payload).await?;
        (Fields::new(form.fields), form.avatar)
    } else {
        let mut f = fields(&state, &request, payload).await?;
        let avatar = match (f.has("avatar"), f.optional("avatar")) {
            (true, None) => AvatarChange::Remove,
            (_, Some(_)) => {
                return Err(Drf::field(
                    "avatar",
                    "The submitted data was not a file. Check the encoding type on the form.",
                ))
            }
            (false, None) => AvatarChange::Keep,
        };
        (f, avatar)
    };
    let update = ProfileUpdate {
        first_name: f.optional("first_name"),
        last_name: f.optional("last_name"),
        email: f.optional("email"),
        current_password: f.optional("current_password"),
        is_active: f.optional_bool("is_active"),
        is_staff: f.optional_bool("is_staff"),
    };
    checked(f)?;
    let actor = actor_of(&request, &state, caller.user.id);
    let accounts = state.accounts.clone();
    let edit = run::<Drf, _, _>(move || {
        accounts.edit_profile(&caller.user, target, update, avatar, &actor)
    })
    .await?
    .map_err(users_error)?;
    Ok(HttpResponse::Ok().json(user_json(&edit.user)))
}

/// Delete the caller's account.
#[utoipa::path(
    delete,
    path = "/auth/users/me/",
    request_body = doc::CurrentPassword,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Wrong password, or bad fields", body = doc::DrfBadRequest),
    )
)]
async fn delete_me(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let target = caller.user.id;
    delete(state, request, payload, caller, target).await
}

/// Delete an account: admins any, others only themselves; the caller's own password.
#[utoipa::path(
    delete,
    path = "/auth/users/{id}/",
    params(("id" = i64, Path)),
    request_body = doc::CurrentPassword,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Wrong password, or bad fields", body = doc::DrfBadRequest),
        (status = 404, description = "Unknown, or another user's id for a non-admin", body = doc::DrfError),
    )
)]
async fn delete_user(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let target = path_id(&id)?;
    delete(state, request, payload, caller, target).await
}

/// Deleting an account takes the caller's own current password (djoser's rule).
async fn delete(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
    target: UserId,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let current_password = f.required("current_password");
    checked(f)?;
    let actor = actor_of(&request, &state, caller.user.id);
    let accounts = state.accounts.clone();
    run::<Drf, _, _>(move || {
        accounts.delete_account(&caller.user, target, &current_password, &actor)
    })
    .await?
    .map_err(users_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Change the password; every other session of the account ends.
#[utoipa::path(
    post,
    path = "/auth/users/set_password/",
    request_body = doc::SetPassword,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Wrong current password, a weak password, passwords that differ, or bad fields", body = doc::DrfBadRequest),
    )
)]
async fn set_password(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let current = f.required("current_password");
    let new = f.required("new_password");
    let again = f.required("re_new_password");
    checked(f)?;
    passwords_match(&new, &again)?;
    let accounts = state.accounts.clone();
    let actor = actor_of(&request, &state, caller.user.id);
    run::<Drf, _, _>(move || {
        accounts.set_password(
            &caller.user,
            &current,
            &new,
            Some(&caller.session_id),
            &actor,
        )
    })
    .await?
    .map_err(users_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Change the username.
#[utoipa::path(
    post,
    path = "/auth/users/set_username/",
    request_body = doc::SetUsername,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Wrong password, a bad or taken username, usernames that differ, or bad fields", body = doc::DrfBadRequest),
    )
)]
async fn set_username(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let mut f = fields(&state, &request, payload).await?;
    let current = f.required("current_password");
    let new = f.required("new_username");
    let again = f.optional("re_new_username");
    checked(f)?;
    if again.is_some_and(|again| again != new) {
        return Err(Drf::field(
            "non_field_errors",
            "The two username fields didn't match.",
        ));
    }
    let accounts = state.accounts.clone();
    let actor = actor_of(&request, &state, caller.user.id);
    run::<Drf, _, _>(move || accounts.set_username(&caller.user, &current, &new, &actor))
        .await?
        .map_err(users_error)?;
    Ok(HttpResponse::NoContent().finish())
}
