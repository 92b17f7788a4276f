//! Avatars on the primary surface: multipart profile updates (field
//! `avatar`, other text fields alongside) and `GET /media/avatars/{file}`.

use actix_multipart::Multipart;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde_json::{Map, Value};
use sesame_users::AvatarChange;

use super::{users_error, Drf};
use crate::openapi::schemas as doc;
use crate::shape::Shape;
use crate::surfaces::run;
use crate::{ApiError, AppState};

pub(super) fn configure(config: &mut web::ServiceConfig) {
    config.route("/media/avatars/{file}", web::get().to(avatar_file));
}

/// A multipart form: its text fields, and what it does to the avatar.
pub(super) struct Form {
    pub(super) fields: Map<String, Value>,
    pub(super) avatar: AvatarChange,
}

/// Whether the body is `multipart/form-data`.
pub(super) fn is_multipart(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// The most parts a profile form may have (a user has a handful of fields).
const MAX_PARTS: usize = 32;

fn parse_error(error: impl std::fmt::Display) -> ApiError {
    Drf::detail(
        StatusCode::BAD_REQUEST,
        &format!("Multipart form parse error - {error}"),
        "parse_error",
    )
}

fn too_large() -> ApiError {
    Drf::message(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
}

/// Reads a multipart form. A file in `avatar` is kept up to one byte past
/// the avatar limit (enough for the domain to refuse it as too large);
/// an empty text `avatar` removes the avatar; text fields share the JSON
/// body limit. A body far past both limits is cut off with 413.
pub(super) async fn read_form(
    state: &AppState,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<Form, ApiError> {
    let max_avatar = state.accounts.max_avatar_bytes();
    let max_text = state.settings.max_json_bytes;
    let hard_limit = max_avatar
        .saturating_mul(2)
        .saturating_add(max_text)
        .saturating_add(64 * 1024);
    let mut multipart = Multipart::new(request.headers(), payload);
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
            (None, "avatar") => {
                return Err(Drf::field(
                    "avatar",
                    "The submitted data was not a file. Check the encoding type on the form.",
                ))
            }
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
    get,
    path = "/media/avatars/{file}",
    params(("file" = String, Path, description = "The file name of a user's `avatar`")),
    responses(
        (status = 200, description = "The image", content(
            ("image/png"), ("image/jpeg"), ("image/webp"), ("image/gif")
        )),
        (status = 404, description = "No such avatar", body = doc::DrfError),
    )
)]
async fn avatar_file(
    state: web::Data<AppState>,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = file.into_inner();
    let accounts = state.accounts.clone();
    let found = run::<Drf, _, _>(move || accounts.avatar_file(&name))
        .await?
        .map_err(users_error)?;
    let Some((bytes, kind)) = found else {
        return Err(Drf::message(StatusCode::NOT_FOUND, "Not found."));
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
