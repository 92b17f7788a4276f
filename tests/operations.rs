//! Operations: metrics, readiness, graceful shutdown.

mod common;

use std::process::Command;
use std::time::Duration;

use common::ws::{Event, Socket};
use common::{Backend, TestApp, PASSWORD};
use serde_json::json;

#[test]
fn metrics_count_requests_by_route_pattern() {
    let app = TestApp::spawn(&Backend::Sqlite);
    let token = app.user_with_token("metered");
    let id = app.get("/auth/users/me/", Some(&token)).json["id"].clone();
    app.get(&format!("/auth/users/{id}/"), Some(&token));
    app.post(
        "/auth/jwt/create/",
        None,
        json!({"username": "metered", "password": "wrong-password-1"}),
    );
    let _socket = app.socket(&token);
    let reply = app.get("/metrics", None);
    assert_eq!(reply.status, 200);
    assert!(reply.header("content-type").unwrap().contains("text"));
    let text = reply.text;
    assert!(
        text.contains(
            r#"sesame_http_requests_total{method="GET",route="/auth/users/{id}/",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="/auth/jwt/create/",status="401""#));
    assert!(text.contains("sesame_http_request_duration_seconds_bucket"));
    assert!(text.contains("sesame_login_failures_total 1"));
    assert!(text.contains("sesame_open_websockets 1"));
    assert!(
        text.contains(
            r#"sesame_http_requests_total{method="GET",route="/ws/{token}",status="101"} 1"#
        ),
        "the upgrade is counted like any request: {text}"
    );
    assert!(text.contains("sesame_db_pool_connections"));
    assert!(!text.contains(&token), "no token in label values");
}

/// Starts the real binary in a temporary directory; returns it and its port.
fn start_binary(dir: &tempfile::TempDir) -> (std::process::Child, u16) {
    let mut binary = common::binary::start(dir.path(), &[]);
    binary.drain_log(drop);
    (binary.child, binary.port)
}

#[test]
fn sigterm_closes_sockets_with_1001_and_exits_cleanly() {
    let dir = tempfile::TempDir::new().unwrap();
    let (mut child, port) = start_binary(&dir);
    let base = format!("http://127.0.0.1:{port}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let token = agent
        .post(format!("{base}/auth/register"))
        .header("Content-Type", "application/json")
        .send(json!({"username": "leaving", "password": PASSWORD}).to_string())
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let token: serde_json::Value = serde_json::from_str(&token).unwrap();
    let mut socket = Socket::connect(&base, token["token"].as_str().unwrap());
    assert_eq!(socket.next(Duration::from_millis(200)), Event::Nothing);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    match socket.next(Duration::from_secs(5)) {
        Event::Closed(code, _) => assert_eq!(code, 1001),
        other => panic!("expected a 1001 close, got {other:?}"),
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn a_stalled_log_reader_does_not_stop_the_service() {
    let dir = tempfile::TempDir::new().unwrap();
    let mut stopping = common::binary::Stopping(common::binary::start(dir.path(), &[]));
    let binary = &mut stopping.0;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    // Nobody reads the log: its pipe (64 KiB) holds a few hundred access
    // lines, the writer's queue 8,192 more, and these requests log 10,000.
    std::thread::scope(|scope| {
        for client in 0..4 {
            let (agent, healthz) = (agent.clone(), format!("{}/healthz", binary.base));
            scope.spawn(move || {
                for n in 0..2_500 {
                    let answer = agent.get(&healthz).call();
                    assert!(answer.is_ok(), "client {client}, request {n}: {answer:?}");
                }
            });
        }
    });
    // Once read again, the log goes on.
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = lines.clone();
    binary.drain_log(move |line| sink.lock().unwrap().push(line));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let seen = loop {
        let answer = agent
            .get(format!("{}/healthz", binary.base))
            .header("X-Request-Id", "after-the-stall")
            .call();
        assert!(answer.is_ok(), "{answer:?}");
        let seen = lines
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains("after-the-stall"));
        if seen || std::time::Instant::now() > deadline {
            break seen;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let metrics = agent.get(format!("{}/metrics", binary.base)).call();
    let metrics = metrics.unwrap().body_mut().read_to_string().unwrap();
    assert!(seen, "no access line once the log was read again");
    let dropped = metrics
        .lines()
        .find_map(|line| line.strip_prefix("sesame_log_lines_dropped_total "))
        .and_then(|count| count.parse::<u64>().ok());
    assert!(
        dropped.is_some_and(|n| n > 0),
        "lines lost are counted: {dropped:?}"
    );
}

#[test]
fn every_response_carries_a_request_id() {
    let app = TestApp::spawn(&Backend::Sqlite);
    let generated = app.get("/healthz", None);
    let id = generated.header("x-request-id").expect("a request id");
    assert_eq!(id.len(), 16);
    assert_ne!(app.get("/healthz", None).header("x-request-id"), Some(id));
    let echoed = app.request_with_headers(
        "GET",
        "/healthz",
        &[("X-Request-Id", "trace-42")],
        common::Body::None,
    );
    assert_eq!(echoed.header("x-request-id"), Some("trace-42"));
    let refused = app.request_with_headers(
        "GET",
        "/healthz",
        &[("X-Request-Id", "bad id\\r\\n")],
        common::Body::None,
    );
    assert_ne!(refused.header("x-request-id"), Some("bad id\\r\\n"));
}
