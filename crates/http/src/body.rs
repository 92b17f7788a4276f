use actix_web::{web, HttpMessage, HttpRequest};
use serde_json::{Map, Value};

/// Why a request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the configured limit.
    TooLarge,
    /// Not valid JSON (or form data); the text says where.
    Malformed(String),
    /// A content type this route does not read.
    UnsupportedMediaType(String),
    /// Valid JSON, but not an object.
    NotAnObject,
}

/// Reads the body as a JSON object of fields. Content types an HTML form
/// can send cross-site without a preflight (form, multipart, `text/plain`)
/// are refused, so a foreign page cannot post credentials (login CSRF). An
/// empty body reads as `{}`. With `form_allowed`, for the routes whose
/// contract asks for it, `application/x-www-form-urlencoded` is read too
/// (what OAuth2 password clients and a bare `curl -d` send; a form body that
/// is a JSON object is read as JSON).
pub(crate) async fn read(
    request: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    form_allowed: bool,
) -> Result<Map<String, Value>, BodyError> {
    let content_type = request.content_type().to_ascii_lowercase();
    let is_form = form_allowed && content_type == "application/x-www-form-urlencoded";
    let is_json = content_type.is_empty()
        || content_type == "application/json"
        || (content_type.starts_with("application/") && content_type.ends_with("+json"));
    if !(is_json || is_form) {
        return Err(BodyError::UnsupportedMediaType(content_type));
    }
    let bytes = payload
        .to_bytes_limited(limit)
        .await
        .map_err(|_| BodyError::TooLarge)?
        .map_err(|e| BodyError::Malformed(e.to_string()))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    if is_form && bytes.first() != Some(&b'{') {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| BodyError::Malformed(e.to_string()))?;
        return Ok(pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(BodyError::NotAnObject),
        Err(e) => Err(BodyError::Malformed(e.to_string())),
    }
}
