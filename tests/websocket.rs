//! The WebSocket at `/ws/{token}` at the protocol level: what an upgrade
//! request to another path gets, bad handshakes, frame limits, pings and
//! closes from the client, and what the access log says about sockets.
//! (Delivery itself is in messaging.rs.)

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::ws::{Event, Socket};
use common::{Backend, TestApp, PASSWORD};
use serde_json::json;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, WebSocket};

const SOON: Duration = Duration::from_secs(2);

/// Sends a raw HTTP/1.1 request asking for a WebSocket on `path` and reads
/// until the server hangs up: the whole answer, as text.
fn raw_upgrade(base: &str, path: &str, extra_headers: &str) -> String {
    let address = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\n{extra_headers}\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("the server answers and hangs up");
    String::from_utf8(answer).unwrap()
}

/// The rest of a valid handshake.
const KEY: &str = "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

fn has_header(answer: &str, name: &str, value: &str) -> bool {
    let head = answer.split("\r\n\r\n").next().unwrap_or_default();
    head.lines().any(|line| {
        line.split_once(':').is_some_and(|(n, v)| {
            n.trim().eq_ignore_ascii_case(name) && v.trim().eq_ignore_ascii_case(value)
        })
    })
}

#[test]
fn an_upgrade_to_another_path_gets_what_the_app_answers_there() {
    let app = TestApp::spawn(&Backend::Sqlite);
    let answer = raw_upgrade(&app.base, "/nowhere", KEY);
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(answer.ends_with(r#"{"detail":"Not found."}"#), "{answer}");
    assert!(has_header(&answer, "connection", "close"), "{answer}");
    // Through the same middlewares as any request.
    assert!(
        has_header(&answer, "x-content-type-options", "nosniff"),
        "{answer}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("x-request-id:"),
        "{answer}"
    );

    // An existing route answers as it would without the upgrade header.
    let answer = raw_upgrade(&app.base, "/healthz", KEY);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn bad_handshakes_are_refused_and_plain_gets_are_no_upgrade() {
    let app = TestApp::spawn(&Backend::Sqlite);
    let token = app.user_with_token("shaky");
    let no_key = raw_upgrade(
        &app.base,
        &format!("/ws/{token}"),
        "Sec-WebSocket-Version: 13\r\n",
    );
    assert!(no_key.starts_with("HTTP/1.1 400"), "{no_key}");
    let bad_version = raw_upgrade(
        &app.base,
        &format!("/ws/{token}"),
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n",
    );
    // RFC 6455: an unsupported version names the one spoken.
    assert!(bad_version.starts_with("HTTP/1.1 426"), "{bad_version}");
    assert!(
        has_header(&bad_version, "sec-websocket-version", "13"),
        "{bad_version}"
    );
    let plain = app.get(&format!("/ws/{token}"), None);
    assert_eq!(plain.status, 400);
    // Nothing was left subscribed by the refused attempts.
    let metrics = app.get("/metrics", None).text;
    assert!(metrics.contains("sesame_open_websockets 0"), "{metrics}");
}

#[test]
fn with_the_events_messages_surface_off_there_is_no_socket() {
    let app = TestApp::spawn_with(&Backend::Sqlite, |config| {
        config.http.surfaces = vec!["primary".into()]
    });
    let token = app.user_with_token("surfaceless");
    let answer = raw_upgrade(&app.base, &format!("/ws/{token}"), KEY);
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
}

#[test]
fn frames_over_64_kib_close_the_socket_with_1009() {
    let app = TestApp::spawn(&Backend::Sqlite);
    let token = app.user_with_token("chatty");
    let me = app.get("/auth/users/me/", Some(&token)).json["id"]
        .as_i64()
        .unwrap();
    let sender = app.user_with_token("sender");

    // 64 KiB exactly is accepted (and ignored): the socket still delivers.
    let mut socket = Socket::connect(&app.base, &token).into_inner();
    socket
        .send(Message::Binary(vec![7; 64 * 1024].into()))
        .unwrap();
    let sent = app.post(
        "/messages/",
        Some(&sender),
        json!({"content": "still here", "receiver_id": me}),
    );
    assert_eq!(sent.status, 200);
    match read_until_data_or_close(&mut socket) {
        Message::Text(text) => assert!(text.contains("still here"), "{text}"),
        other => panic!("expected the message, got {other:?}"),
    }

    // One byte more is refused.
    socket
        .send(Message::Binary(vec![7; 64 * 1024 + 1].into()))
        .unwrap();
    match read_until_data_or_close(&mut socket) {
        Message::Close(frame) => assert_eq!(frame.map(|f| u16::from(f.code)), Some(1009)),
        other => panic!("expected a 1009 close, got {other:?}"),
    }
}

/// The next text or close frame (pings are answered by tungstenite).
fn read_until_data_or_close(socket: &mut WebSocket<TcpStream>) -> Message {
    socket.get_mut().set_read_timeout(Some(SOON)).unwrap();
    loop {
        match socket.read().expect("a frame in time") {
            message @ (Message::Text(_) | Message::Close(_)) => return message,
            _ => continue,
        }
    }
}

#[test]
fn client_pings_get_pongs_and_a_client_close_is_answered() {
    let app = TestApp::spawn(&Backend::Sqlite);
    let token = app.user_with_token("polite");
    let mut socket = Socket::connect(&app.base, &token).into_inner();
    socket
        .send(Message::Ping(b"are you there".to_vec().into()))
        .unwrap();
    socket
        .get_mut()
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    match socket.read().expect("an answer") {
        Message::Pong(payload) => assert_eq!(&payload[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
    socket
        .close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))
        .unwrap();
    let started = Instant::now();
    loop {
        match socket.read() {
            Ok(Message::Close(frame)) => {
                assert_eq!(frame.map(|f| u16::from(f.code)), Some(1000));
                break;
            }
            Ok(_) => continue,
            Err(e) => panic!("expected the close to be answered, got {e}"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    // Then the server hangs up.
    assert!(matches!(
        socket.read(),
        Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed)
    ));
    let metrics = app.get("/metrics", None).text;
    assert!(metrics.contains("sesame_open_websockets 0"), "{metrics}");
}

/// The binary's log lines, JSON, collected as they come.
struct Logged {
    child: std::process::Child,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

fn start_logged_binary(dir: &tempfile::TempDir) -> Logged {
    let mut binary = common::binary::start(dir.path(), &[]);
    let collected = Arc::new(Mutex::new(Vec::new()));
    let sink = collected.clone();
    binary.drain_log(move |line| sink.lock().unwrap().push(line));
    Logged {
        child: binary.child,
        base: binary.base,
        lines: collected,
    }
}

#[test]
fn socket_requests_are_logged_without_their_token() {
    let dir = tempfile::TempDir::new().unwrap();
    let mut server = start_logged_binary(&dir);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let registered = agent
        .post(format!("{}/auth/register", server.base))
        .header("Content-Type", "application/json")
        .send(json!({"username": "logged", "password": PASSWORD}).to_string())
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let registered: serde_json::Value = serde_json::from_str(&registered).unwrap();
    let token = registered["token"].as_str().unwrap().to_owned();
    let mut socket = Socket::connect(&server.base, &token);
    assert_eq!(socket.next(Duration::from_millis(200)), Event::Nothing);
    let mut refused = Socket::connect(&server.base, "not-a-real-token-but-secret");
    assert!(matches!(refused.next(SOON), Event::Closed(1008, _)));

    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(matches!(
        socket.next(Duration::from_secs(5)),
        Event::Closed(1001, _)
    ));
    assert!(server.child.wait().unwrap().success());
    let lines = server.lines.lock().unwrap();
    let upgrades: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|log| log["fields"]["path"] == "/ws/***")
        .collect();
    assert_eq!(upgrades.len(), 2, "{lines:#?}");
    assert!(upgrades.iter().all(|log| log["fields"]["status"] == 101));
    for line in lines.iter() {
        assert!(!line.contains(&token), "a token in the log: {line}");
        assert!(
            !line.contains("not-a-real-token"),
            "a token in the log: {line}"
        );
    }
}
