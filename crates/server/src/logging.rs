use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use sesame_kernel::secrets::{hex, random_bytes};
use tracing_subscriber::EnvFilter;

use crate::{Config, LogFormat};

/// Installs the global subscriber. `RUST_LOG` wins over the configured level.
pub(crate) fn init(config: &Config) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Paths whose last segment is a credential: logged with it masked.
const SECRET_PATH_PREFIXES: [&str; 2] = ["/ws/", "/auth/validate/"];

/// The request path as it may appear in a log line: tokens masked, no query string.
pub(crate) fn loggable_path(path: &str) -> String {
    for prefix in SECRET_PATH_PREFIXES {
        if path.starts_with(prefix) && path.len() > prefix.len() {
            return format!("{prefix}***");
        }
    }
    path.to_owned()
}

/// The caller's `X-Request-Id` if it is a short plain token, else a new one.
fn request_id(request: &ServiceRequest) -> String {
    request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| hex(&random_bytes(8)))
}

const REQUEST_ID: &str = "x-request-id";

/// One log line per request: request id, method, path (tokens masked),
/// status, duration. The id is echoed in the `X-Request-Id` response header.
pub(crate) async fn access_log(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&request);
    let method = request.method().clone();
    let path = loggable_path(request.path());
    let mut response = next.call(request).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID), value);
    }
    tracing::info!(
        target: "sesame::http",
        request_id = %id,
        %method,
        path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn tokens_in_paths_are_masked() {
        assert_eq!(loggable_path("/ws/eyJhbGciOi.abc.def"), "/ws/***");
        assert_eq!(
            loggable_path("/auth/validate/7f8d9a63"),
            "/auth/validate/***"
        );
        assert_eq!(loggable_path("/auth/users/me/"), "/auth/users/me/");
    }
}
