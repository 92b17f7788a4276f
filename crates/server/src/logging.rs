use std::cell::Cell;
use std::io::{BufWriter, IsTerminal};
use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use sesame_kernel::secrets::random_bytes;
use tracing::{Instrument, Level, Metadata};
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;

use crate::{Config, LogFormat};

/// Counts the lines dropped by the writer [`init`] installs.
static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// How many log lines were dropped because stderr's reader lagged.
pub(crate) fn dropped_lines() -> u64 {
    DROPPED
        .get()
        .map_or(0, |counter| counter.dropped_lines() as u64)
}

/// Log lines that may wait for stderr's reader; past them, new lines are
/// dropped (and counted) until it catches up.
const QUEUED_LINES: usize = 8_192;

/// Installs the global subscriber. `RUST_LOG` wins over the configured level.
/// Records of the `log` facade (r2d2, rustls, actix) go through it too.
///
/// Lines are formatted where they are logged and written to stderr by a
/// thread of their own, so that a reader that stalls (a full pipe, a paused
/// terminal) never blocks a request: lines it cannot take are dropped. The
/// returned guard writes what is queued when it is dropped, before exit.
pub(crate) fn init(config: &Config) -> WorkerGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let (stderr, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(QUEUED_LINES)
        .lossy(true)
        .thread_name("sesame-log")
        // The writer thread takes every queued line, then flushes: under
        // load one write carries many lines; alone, a line goes at once.
        .finish(BufWriter::with_capacity(64 * 1024, std::io::stderr()));
    let _ = DROPPED.set(stderr.error_counter());
    // Colours only for a terminal: escape codes in a log file are noise, and
    // writing them cost as much as the rest of the access line.
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let lines = match config.log.format {
        LogFormat::Text => lines.boxed(),
        LogFormat::Json => lines.json().boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(
            lines
                .with_filter(filter)
                .with_filter(filter_fn(for_an_operator)),
        )
        .try_init();
    guard
}

/// The HTTP/1 dispatcher logs at ERROR what a client did to its own
/// connection (bytes that are not HTTP, a reset mid-answer): nothing an
/// operator can act on. ERROR is kept for what they must.
fn for_an_operator(metadata: &Metadata<'_>) -> bool {
    !(*metadata.level() == Level::ERROR && metadata.target() == "actix_http::h1::dispatcher")
}

/// Paths that end in a credential: logged with everything past the prefix
/// masked (the emailed links' uid too: an email change's carries the new
/// address).
const SECRET_PATH_PREFIXES: [&str; 6] = [
    "/ws/",
    "/auth/validate/",
    "/account/activate/",
    "/account/password/reset/confirm/",
    "/account/username/reset/confirm/",
    "/account/email/confirm/",
];

/// The request path as it may appear in a log line: tokens masked, no query
/// string. The prefixes are looked for in the decoded path too, since the
/// router routes `/%77s/{token}` as `/ws/{token}`.
pub(crate) fn loggable_path(path: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    for prefix in SECRET_PATH_PREFIXES {
        if decoded.starts_with(prefix) && decoded.len() > prefix.len() {
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
        .unwrap_or_else(new_request_id)
}

/// A fresh request id: 16 hex digits counted from a random start on each
/// thread, unique without a system call per request (ids correlate log
/// lines; they are not secrets).
fn new_request_id() -> String {
    thread_local! {
        static NEXT: Cell<u64> =
            Cell::new(random_bytes(8).iter().fold(0, |n, b| n << 8 | u64::from(*b)));
    }
    NEXT.with(|next| {
        let id = next.get();
        next.set(id.wrapping_add(1));
        format!("{id:016x}")
    })
}

const REQUEST_ID: &str = "x-request-id";

/// One log line per request: request id, method, path (tokens masked),
/// status, duration. The id is echoed in the `X-Request-Id` response header,
/// and every line the request causes is in a `request` span carrying it.
pub(crate) async fn access_log(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&request);
    let method = request.method().clone();
    let path = loggable_path(request.path());
    // At ERROR level, so that it is on whatever the configured level: a
    // warning or an error of the request must carry its id too.
    let span = tracing::error_span!("request", request_id = %id);
    let mut response = next.call(request).instrument(span.clone()).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID), value);
    }
    let _in_request = span.enter();
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
    use super::{loggable_path, new_request_id};

    #[test]
    fn new_request_ids_are_sixteen_hex_digits_and_never_repeat() {
        let ids: Vec<String> = (0..1000).map(|_| new_request_id()).collect();
        assert!(ids
            .iter()
            .all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())));
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
    }

    #[test]
    fn tokens_in_paths_are_masked() {
        assert_eq!(loggable_path("/ws/eyJhbGciOi.abc.def"), "/ws/***");
        assert_eq!(
            loggable_path("/auth/validate/7f8d9a63"),
            "/auth/validate/***"
        );
        assert_eq!(loggable_path("/%77s/eyJhbGciOi.abc.def"), "/ws/***");
        assert_eq!(
            loggable_path("/auth/%76alidate/7f8d9a63"),
            "/auth/validate/***"
        );
        assert_eq!(
            loggable_path("/account/password/reset/confirm/MQ/c2VjcmV0"),
            "/account/password/reset/confirm/***"
        );
        assert_eq!(
            loggable_path("/%61ccount/email/confirm/MQ/c2VjcmV0"),
            "/account/email/confirm/***"
        );
        assert_eq!(loggable_path("/auth/users/me/"), "/auth/users/me/");
        assert_eq!(loggable_path("/auth/%6Cogin/"), "/auth/%6Cogin/");
    }
}
