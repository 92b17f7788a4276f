use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
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

/// One log line per request: method, path (tokens masked), status, duration.
pub(crate) async fn access_log(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = loggable_path(request.path());
    let response = next.call(request).await?;
    tracing::info!(
        target: "sesame::http",
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
