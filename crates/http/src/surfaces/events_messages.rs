//! Surface `events_messages`: the FastAPI-style contract of seed 001, its
//! error shape and words, and its account rows; its events and messages
//! rows are in the sibling modules `events` and `messages`.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, FromRequest, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use sesame_kernel::UserId;
use sesame_tokens::{Credentials, TokensError};
use sesame_users::{FieldProblem, Registration, User, UsersError};
use utoipa::ToSchema;
use validator::{Validate, ValidationError, ValidationErrors};

use super::login::log_in;
use super::{page_of, storage_failure};
use crate::body::BodyError;
use crate::client::Client;
use crate::declare::Part;
use crate::error_schemas::{self as doc, LocationItem, ValidationIssue};
use crate::issue::capitalized;
use crate::shape::{AuthFailure, ErrorShape, Shape, Words};
use crate::wire::{Body, Expected, FieldIssue, Location, Problem};
use crate::{ApiError, AppState, Bearer};

/// FastAPI's error shapes: `{"detail": "..."}`, and 422 with a list of
/// `{type, loc, msg}` in pydantic's words for validation errors.
pub struct FastApi;

impl FastApi {
    fn validation(detail: Vec<ValidationIssue>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            doc::FastApiValidationError { detail },
        )
    }
}

impl Shape for FastApi {
    const DOCUMENTED: ErrorShape = ErrorShape::FastApi;

    fn message(status: StatusCode, message: &str) -> ApiError {
        let detail = message.to_owned();
        ApiError::new(status, doc::FastApiError { detail })
    }

    fn invalid(issues: &[FieldIssue]) -> ApiError {
        let detail = issues
            .iter()
            .map(|issue| {
                let location = match issue.location {
                    Location::Body => "body",
                    Location::Query => "query",
                };
                let (kind, message) = pydantic(issue);
                ValidationIssue::new(kind, &[location, &issue.field], message)
            })
            .collect();
        Self::validation(detail)
    }

    fn unauthorized(failure: AuthFailure) -> ApiError {
        let message = match failure {
            AuthFailure::Missing => "Not authenticated",
            AuthFailure::Invalid => "Could not validate credentials",
        };
        Self::message(StatusCode::UNAUTHORIZED, message).with_bearer_challenge()
    }

    fn body_error(error: BodyError) -> ApiError {
        match error {
            BodyError::TooLarge => {
                Self::message(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
            }
            BodyError::UnsupportedMediaType(_) => {
                Self::message(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type")
            }
            BodyError::Malformed(_) => Self::validation(vec![ValidationIssue {
                kind: "json_invalid",
                loc: vec![
                    LocationItem::Name("body".to_owned()),
                    LocationItem::Index(0),
                ],
                msg: "JSON decode error".to_owned(),
            }]),
            BodyError::NotAnObject => Self::validation(vec![ValidationIssue::new(
                "model_attributes_type",
                &["body"],
                "Input should be a valid dictionary or object to extract fields from",
            )]),
        }
    }
}

/// pydantic's `type` and `msg` for one bad value.
fn pydantic(issue: &FieldIssue) -> (&'static str, String) {
    let (kind, message) = match &issue.problem {
        Problem::Missing => ("missing", "Field required"),
        Problem::WrongType(Expected::Integer) if issue.location == Location::Query => (
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer",
        ),
        Problem::WrongType(Expected::Integer) => ("int_type", "Input should be a valid integer"),
        Problem::WrongType(Expected::Boolean) => ("bool_type", "Input should be a valid boolean"),
        Problem::WrongType(Expected::Number) => ("float_type", "Input should be a valid number"),
        Problem::WrongType(Expected::Object) => ("dict_type", "Input should be a valid dictionary"),
        Problem::WrongType(Expected::Array) => ("list_type", "Input should be a valid list"),
        Problem::Null | Problem::WrongType(Expected::String) => {
            ("string_type", "Input should be a valid string")
        }
        Problem::Invalid { code, .. } => return rule(issue, code),
    };
    (kind, message.to_owned())
}

/// pydantic's words for a broken rule: its own for bounds, `value_error` otherwise.
fn rule(issue: &FieldIssue, code: &str) -> (&'static str, String) {
    match (code, issue.param("min"), issue.param("max")) {
        ("required", ..) => ("missing", "Field required".to_owned()),
        ("length", Some(min), None) => {
            let plural = if min == "1" { "" } else { "s" };
            let message = format!("String should have at least {min} character{plural}");
            ("string_too_short", message)
        }
        ("length" | "max_length", None, Some(max)) => {
            let message = format!("String should have at most {max} characters");
            ("string_too_long", message)
        }
        ("range" | "min_value", Some(min), None) => {
            let message = format!("Input should be greater than or equal to {min}");
            ("greater_than_equal", message)
        }
        ("range", None, Some(max)) => {
            let message = format!("Input should be less than or equal to {max}");
            ("less_than_equal", message)
        }
        ("email" | "invalid_email", ..) => (
            "value_error",
            "value is not a valid email address: The email address is not valid.".to_owned(),
        ),
        _ => (
            "value_error",
            format!("Value error, {}", value_error(issue, code)),
        ),
    }
}

/// The words of a rule a field validator of the seed's app would refuse a value by.
fn value_error(issue: &FieldIssue, code: &str) -> String {
    let field = capitalized(&issue.field);
    let param = |name: &str| issue.param(name).unwrap_or_default().to_owned();
    match code {
        "blank" => format!("{field} may not be blank"),
        "taken" => format!("{field} already registered"),
        "invalid_username" => "Username may contain only letters, digits and @/./+/-/_".to_owned(),
        "mixed_scripts" => "Username may not mix letters of different scripts".to_owned(),
        "password_too_short" => format!("Password must be at least {} characters", param("min")),
        "password_too_long" => format!("Password must be at most {} characters", param("max")),
        "password_too_similar" => {
            format!("Password is too similar to the {}", param("attribute"))
        }
        "password_too_common" => "Password is too common".to_owned(),
        "password_entirely_numeric" => "Password may not be entirely numeric".to_owned(),
        "invalid_date" => {
            "Input should be a datetime in ISO 8601, e.g. 2024-03-14T12:00:00 (UTC), 2024-03-14T12:00:00+01:00 or 2024-03-14".to_owned()
        }
        _ => issue.message().to_owned(),
    }
}

/// The 422 of a path parameter that is not an integer.
pub(super) fn path_integer(name: &str, raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| {
        FastApi::validation(vec![ValidationIssue::new(
            "int_parsing",
            &["path", name],
            "Input should be a valid integer, unable to parse string as an integer",
        )])
    })
}

pub(super) type Authenticated = Bearer<FastApi>;

/// The account routes of this surface.
pub(super) fn part() -> Part {
    Part::new::<FastApi>("events_messages")
        .credential(register)
        .credential(login)
        .route(logout)
        .route(me)
        .route(list_users)
        .route(get_user)
}

/// A new account (seed 001).
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = events_messages::Register)]
struct Register {
    /// 1..=150 letters of one script, digits and `@ . + - _`; unique ignoring
    /// case and compatibility forms (NFKC), and not another account's email.
    #[schema(min_length = 1, max_length = 150, pattern = r"^[\w.@+-]+$")]
    username: String,
    #[schema(format = Email)]
    email: String,
    /// 8..=128 characters, not common, not built from the username or email.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
}

impl From<Register> for Registration {
    fn from(body: Register) -> Self {
        Registration {
            username: body.username,
            email: Some(body.email),
            password: body.password,
            ..Registration::default()
        }
    }
}

/// Log in (seed 001): `email`, or `username` in its place, is required.
#[derive(Deserialize, ToSchema)]
#[schema(as = events_messages::Login)]
struct Login {
    /// An email or a username.
    email: Option<String>,
    /// Accepted in place of `email`.
    username: Option<String>,
    password: String,
    /// A TOTP code or an unused recovery code, for accounts with TOTP on.
    otp: Option<String>,
}

impl Validate for Login {
    fn validate(&self) -> Result<(), ValidationErrors> {
        if self.email.is_some() || self.username.is_some() {
            return Ok(());
        }
        let mut errors = ValidationErrors::new();
        errors.add("email", ValidationError::new("required"));
        Err(errors)
    }
}

impl From<Login> for Credentials {
    fn from(body: Login) -> Self {
        Credentials {
            login: body.email.or(body.username).unwrap_or_default(),
            password: body.password,
            otp: body.otp,
        }
    }
}

/// A user as this surface shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = events_messages::User)]
struct PublicUser {
    id: i64,
    username: String,
    #[schema(required = true)]
    email: Option<String>,
}

impl From<&User> for PublicUser {
    fn from(user: &User) -> Self {
        PublicUser {
            id: user.id.0,
            username: user.username.clone(),
            email: user.email.clone(),
        }
    }
}

/// An access token, OAuth2 style.
#[derive(Serialize, ToSchema)]
#[schema(as = events_messages::AccessToken)]
struct AccessToken {
    access_token: String,
    /// Always `bearer`.
    token_type: &'static str,
}

/// A confirmation.
#[derive(Serialize, ToSchema)]
#[schema(as = events_messages::Detail)]
struct Detail {
    detail: &'static str,
}

impl Words<UsersError> for FastApi {
    fn word(error: UsersError) -> ApiError {
        match error {
            ref error if error.is_taken() => taken_error(
                (error.field_errors().iter())
                    .any(|e| e.problem == FieldProblem::Taken && e.field == "email"),
            ),
            UsersError::Invalid(errors) => {
                FastApi::invalid(&errors.iter().map(FieldIssue::from).collect::<Vec<_>>())
            }
            UsersError::UsernameTaken => taken_error(false),
            UsersError::EmailTaken => taken_error(true),
            UsersError::InvalidCredentials | UsersError::AccountInactive => refused_login(),
            UsersError::WrongCurrentPassword => {
                FastApi::message(StatusCode::BAD_REQUEST, "Incorrect password")
            }
            UsersError::ConfirmationThrottled(seconds) => {
                super::login::confirmations_throttled::<FastApi>(seconds)
            }
            UsersError::NotFound => FastApi::message(StatusCode::NOT_FOUND, "User not found"),
            UsersError::Forbidden => {
                FastApi::message(StatusCode::FORBIDDEN, "Not enough permissions")
            }
            // Never met here: this surface's registration requires an email.
            UsersError::ActivationNeedsEmail => {
                FastApi::invalid(&[FieldIssue::new("email", Problem::Missing)])
            }
            UsersError::Storage(e) => storage_failure::<FastApi>(&e),
        }
    }
}

fn taken_error(email: bool) -> ApiError {
    let message = if email {
        "Email already registered"
    } else {
        "Username already registered"
    };
    FastApi::message(StatusCode::BAD_REQUEST, message)
}

fn refused_login() -> ApiError {
    FastApi::message(StatusCode::UNAUTHORIZED, "Incorrect email or password")
        .with_bearer_challenge()
}

impl Words<TokensError> for FastApi {
    fn word(error: TokensError) -> ApiError {
        match error {
            TokensError::Storage(e) => storage_failure::<FastApi>(&e),
            TokensError::Signing(e) => storage_failure::<FastApi>(&e),
            TokensError::Users(e) => FastApi::word(e),
            _ => FastApi::unauthorized(AuthFailure::Invalid),
        }
    }
}

/// Create an account.
#[utoipa::path(
    request_body = Register,
    responses(
        (status = 200, description = "Created", body = PublicUser),
        (status = 400, description = "`Email already registered` or `Username already registered`", body = doc::FastApiError),
        (status = 422, description = "Missing or bad fields, or a weak password", body = doc::FastApiValidationError),
    )
)]
#[post("/register")]
async fn register(
    state: web::Data<AppState>,
    body: Body<Register, FastApi>,
) -> Result<HttpResponse, ApiError> {
    let registration = Registration::from(body.into_inner());
    let user = FastApi::call(&state.accounts, move |a| a.register(registration)).await?;
    Ok(HttpResponse::Ok().json(PublicUser::from(&user)))
}

/// Log in for an access token.
#[utoipa::path(
    request_body = Login,
    responses(
        (status = 200, description = "Logged in", body = AccessToken),
        (status = 401, description = "`Incorrect email or password`, or a one-time code (`otp`) is missing or wrong", body = doc::FastApiError),
    )
)]
#[post("/login")]
async fn login(
    state: web::Data<AppState>,
    client: Client,
    body: Body<Login, FastApi>,
) -> Result<HttpResponse, ApiError> {
    let credentials = Credentials::from(body.into_inner());
    let pair = log_in::<FastApi>(&state, credentials, client, refused_login).await?;
    Ok(HttpResponse::Ok().json(AccessToken {
        access_token: pair.access,
        token_type: "bearer",
    }))
}

/// End the session of the token: it stops working at once.
#[utoipa::path(
    security(("bearer" = [])),
    responses((status = 200, description = "`Successfully logged out`", body = Detail))
)]
#[post("/auth/logout")]
async fn logout(
    caller: Authenticated,
    state: web::Data<AppState>,
    client: Client,
) -> Result<HttpResponse, ApiError> {
    let actor = client.acting_as(caller.user.id);
    let session_id = caller.session_id;
    FastApi::call(&state.sessions, move |s| s.logout(&session_id, &actor)).await?;
    Ok(HttpResponse::Ok().json(Detail {
        detail: "Successfully logged out",
    }))
}

/// The caller.
#[utoipa::path(
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = PublicUser))
)]
#[get("/auth/me")]
async fn me(caller: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(PublicUser::from(&caller.user))
}

/// The user directory needs a token unless it is configured public.
async fn directory_access(
    state: &web::Data<AppState>,
    request: &HttpRequest,
) -> Result<(), ApiError> {
    if state.settings.public_directory {
        return Ok(());
    }
    Authenticated::extract(request).await.map(|_| ())
}

/// The user directory (public when `[users] public_directory` is on).
#[utoipa::path(
    params(doc::PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of users", body = [PublicUser]),
    )
)]
#[get("/users/")]
async fn list_users(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    directory_access(&state, &request).await?;
    let page = page_of::<FastApi>(&request)?;
    let users = FastApi::call(&state.accounts, move |a| a.directory(page)).await?;
    Ok(HttpResponse::Ok().json(users.iter().map(PublicUser::from).collect::<Vec<_>>()))
}

/// One user (public when `[users] public_directory` is on).
#[utoipa::path(
    params(("user_id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = PublicUser),
        (status = 404, description = "`User not found`", body = doc::FastApiError),
        (status = 422, description = "`user_id` is not an integer", body = doc::FastApiValidationError),
    )
)]
#[get("/users/{user_id}")]
async fn get_user(
    state: web::Data<AppState>,
    request: HttpRequest,
    user_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    directory_access(&state, &request).await?;
    let id = UserId(path_integer("user_id", &user_id)?);
    let user = FastApi::call(&state.accounts, move |a| a.get(id)).await?;
    Ok(HttpResponse::Ok().json(PublicUser::from(&user)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesame_events::FieldError;

    /// The words of a domain rule `code` broken by `field`, as the domain reports it.
    fn worded(
        field: &str,
        code: &'static str,
        params: &[(&'static str, &str)],
    ) -> (&'static str, String) {
        let error = params.iter().fold(
            FieldError::new(field, "Django's words.").coded(code),
            |error, (name, value)| error.param(name, value),
        );
        pydantic(&FieldIssue::from(&error))
    }

    #[test]
    fn rules_are_worded_as_pydantic_and_fastapi_validators_word_them() {
        for (field, code, params, kind, message) in [
            (
                "username",
                "invalid_username",
                &[][..],
                "value_error",
                "Value error, Username may contain only letters, digits and @/./+/-/_",
            ),
            (
                "password",
                "password_too_short",
                &[("min", "8")],
                "value_error",
                "Value error, Password must be at least 8 characters",
            ),
            (
                "title",
                "blank",
                &[],
                "value_error",
                "Value error, Title may not be blank",
            ),
            (
                "location",
                "max_length",
                &[("max", "300")],
                "string_too_long",
                "String should have at most 300 characters",
            ),
            (
                "title",
                "length",
                &[("min", "1")],
                "string_too_short",
                "String should have at least 1 character",
            ),
            (
                "capacity",
                "min_value",
                &[("min", "1")],
                "greater_than_equal",
                "Input should be greater than or equal to 1",
            ),
            (
                "email",
                "invalid_email",
                &[],
                "value_error",
                "value is not a valid email address: The email address is not valid.",
            ),
            // A rule this surface has no words for keeps the domain's.
            (
                "uid",
                "invalid_uid",
                &[],
                "value_error",
                "Value error, Django's words.",
            ),
        ] {
            assert_eq!(
                worded(field, code, params),
                (kind, message.to_owned()),
                "{code}"
            );
        }
    }

    #[test]
    fn wrong_types_and_missing_fields_are_worded_as_pydantic() {
        let string = FieldIssue::new("title", Problem::WrongType(Expected::String));
        assert_eq!(pydantic(&string).0, "string_type");
        let missing = FieldIssue::invalid("email", "required", "");
        assert_eq!(pydantic(&missing), ("missing", "Field required".to_owned()));
        let query = FieldIssue::new("skip", Problem::WrongType(Expected::Integer)).in_query();
        assert_eq!(pydantic(&query).0, "int_parsing");
    }
}
