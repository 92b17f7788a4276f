use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::Value;

/// An error answer: a status and a body already in the shape of the surface
/// that produced it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
    www_authenticate: bool,
}

impl ApiError {
    /// An answer with this status and body (one of the error body types).
    pub fn new(status: StatusCode, body: impl serde::Serialize) -> Self {
        ApiError {
            status,
            body: serde_json::to_value(body).unwrap_or(Value::Null),
            retry_after: None,
            www_authenticate: false,
        }
    }

    /// Adds `WWW-Authenticate: Bearer` (for 401 answers).
    pub fn with_bearer_challenge(mut self) -> Self {
        self.www_authenticate = true;
        self
    }

    /// Adds `Retry-After` (for 429 answers).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.www_authenticate {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(&self.body)
    }
}
