//! Avatars on the primary surface: profile changes as `multipart/form-data`
//! (a file in `avatar`, the other fields as text, read into the same wire
//! type as the JSON body) and `GET /media/avatars/{file}`.

use std::borrow::Cow;

use actix_multipart::Multipart;
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{get, web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde_json::{Map, Value};
use sesame_users::AvatarChange;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::users::ProfileUpdate;
use super::Drf;
use crate::body::BodyError;
use crate::error_schemas as doc;
use crate::shape::{Shape, Words};
use crate::wire::{decode, Body};
use crate::{ApiError, AppState};

/// A profile change, from a JSON or a `multipart/form-data` body.
pub(super) struct ProfileChange {
    /// The fields.
    pub(super) fields: ProfileUpdate,
    /// What happens to the avatar.
    pub(super) avatar: AvatarChange,
}

impl FromRequest for ProfileChange {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if !request
            .content_type()
            .eq_ignore_ascii_case("multipart/form-data")
        {
            let body = Body::<ProfileUpdate, Drf>::from_request(request, payload);
            return Box::pin(async move {
                let fields = body.await?.into_inner();
                // Any other value than `null` was refused as not a file.
                let avatar = match fields.avatar {
                    Some(_) => AvatarChange::Remove,
                    None => AvatarChange::Keep,
                };
                Ok(ProfileChange { fields, avatar })
            });
        }
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let multipart = Multipart::new(request.headers(), payload.take());
        Box::pin(async move {
            let state = state.ok_or_else(Drf::unavailable)?;
            let Form { fields, avatar } = read_form(&state, multipart).await?;
            let fields = decode::<ProfileUpdate>(fields).map_err(|issues| Drf::invalid(&issues))?;
            Ok(ProfileChange { fields, avatar })
        })
    }
}

/// [`ProfileUpdate`]'s fields as a `multipart/form-data` form, with a file in `avatar`.
pub(super) enum ProfileForm {}

impl PartialSchema for ProfileForm {
    fn schema() -> RefOr<Schema> {
        let mut schema = ProfileUpdate::schema();
        if let RefOr::T(Schema::Object(form)) = &mut schema {
            let file = ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
                .description(Some(
                    "PNG, JPEG, WebP or GIF (told by content), 2 MiB at most by default; \
                     an empty text field removes it.",
                ));
            form.properties.insert("avatar".to_owned(), file.into());
            form.description = Some("Profile changes with an avatar upload.".to_owned());
        }
        schema
    }
}

impl ToSchema for ProfileForm {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("primary.ProfileForm")
    }
}

/// A multipart form: its text fields, and what it does to the avatar.
struct Form {
    fields: Map<String, Value>,
    avatar: AvatarChange,
}

/// The most parts a profile form may have (a user has a handful of fields).
const MAX_PARTS: usize = 32;

fn parse_error(error: impl std::fmt::Display) -> ApiError {
    Drf::coded(
        StatusCode::BAD_REQUEST,
        &format!("Multipart form parse error - {error}"),
        "parse_error",
    )
}

fn too_large() -> ApiError {
    Drf::body_error(BodyError::TooLarge)
}

/// Reads a multipart form. A file in `avatar` is kept up to one byte past
/// the avatar limit (enough for the domain to refuse it as too large);
/// an empty text `avatar` removes the avatar, another is a text field (that
/// the wire type refuses); text fields share the JSON body limit. A body far
/// past both limits is cut off with 413.
async fn read_form(state: &AppState, mut multipart: Multipart) -> Result<Form, ApiError> {
    let max_avatar = state.accounts.max_avatar_bytes();
    let max_text = state.settings.max_json_bytes;
    let hard_limit = max_avatar
        .saturating_mul(2)
        .saturating_add(max_text)
        .saturating_add(64 * 1024);
    let mut form = Form {
        fields: Map::new(),
        avatar: AvatarChange::Keep,
    };
    let (mut total, mut text_bytes, mut parts) = (0usize, 0usize, 0usize);
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(parse_error)?;
        parts += 1;
        if parts > MAX_PARTS {
            return Err(too_large());
        }
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .map(str::to_owned);
        let keep = match (&filename, name.as_str()) {
            (Some(_), "avatar") => max_avatar.saturating_add(1),
            _ => max_text.saturating_sub(text_bytes).saturating_add(1),
        };
        let mut data = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(parse_error)?;
            total = total.saturating_add(chunk.len());
            if total > hard_limit {
                return Err(too_large());
            }
            let room = keep.saturating_sub(data.len());
            data.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        match (filename, name.as_str()) {
            // A file input left empty by a browser: no file.
            (Some(filename), "avatar") if filename.is_empty() && data.is_empty() => {}
            (Some(_), "avatar") => form.avatar = AvatarChange::Upload(data),
            (None, "avatar") if data.is_empty() => form.avatar = AvatarChange::Remove,
            // Other files are not fields of the user.
            (Some(_), _) => {}
            (None, _) => {
                text_bytes = text_bytes.saturating_add(data.len());
                if text_bytes > max_text {
                    return Err(too_large());
                }
                let text = String::from_utf8(data)
                    .map_err(|_| parse_error(format!("field {name:?} is not UTF-8 text")))?;
                form.fields.insert(name, Value::String(text));
            }
        }
    }
    Ok(form)
}

/// Serves a stored avatar with the content type of its format. Only names
/// of the random form avatars are stored under can be asked for, so no path
/// reaches outside the avatar folder.
#[utoipa::path(
    params(("file" = String, Path, description = "The file name of a user's `avatar`")),
    responses(
        (status = 200, description = "The image", content(
            ("image/png"), ("image/jpeg"), ("image/webp"), ("image/gif")
        )),
        (status = 404, description = "No such avatar", body = doc::DrfError),
    )
)]
#[get("/media/avatars/{file}")]
pub(super) async fn avatar_file(
    state: web::Data<AppState>,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = file.into_inner();
    let found = Drf::call(&state.accounts, move |a| a.avatar_file(&name)).await?;
    let Some((bytes, kind)) = found else {
        return Err(Drf::not_found());
    };
    Ok(HttpResponse::Ok()
        .content_type(kind.content_type())
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'; sandbox",
        ))
        // Names are never reused: a new upload gets a new name.
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(bytes))
}
