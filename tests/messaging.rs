//! Seed 001's messaging rows and its WebSocket, black-box over HTTP and
//! WebSocket, on both backends, and across two instances on PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::ws::Event;
use common::{Backend, TestApp, PASSWORD};
use serde_json::json;

const SOON: Duration = Duration::from_secs(2);
const QUIET: Duration = Duration::from_millis(300);

fn id_of(app: &TestApp, token: &str) -> i64 {
    app.get("/auth/me", Some(token)).json["id"]
        .as_i64()
        .unwrap()
}

backend_tests! {
    fn seed_001_messaging_walk(backend) {
        let app = TestApp::spawn(&backend);
        let alice = app.user_with_token("alice");
        let bob = app.user_with_token("bob");
        let bob_id = id_of(&app, &bob);
        let alice_id = id_of(&app, &alice);

        // The receiver has two devices, the sender one.
        let mut phone = app.socket(&bob);
        let mut laptop = app.socket(&bob);
        let mut alice_socket = app.socket(&alice);

        // Envoyer un message.
        let started = Instant::now();
        let sent = app.post("/messages/", Some(&alice), json!({"content": "Bonjour !", "receiver_id": bob_id}));
        assert_eq!(sent.status, 200, "{}", sent.text);
        assert_eq!(sent.json["content"], "Bonjour !");
        assert_eq!(sent.json["sender_id"], alice_id);
        assert_eq!(sent.json["receiver_id"], bob_id);
        assert_eq!(sent.json["is_read"], false);
        assert!(sent.json["created_at"].as_str().unwrap().ends_with('Z'));
        for socket in [&mut phone, &mut laptop] {
            let frame = socket.json(SOON);
            assert_eq!(frame["type"], "new_message");
            assert_eq!(frame["message"], sent.json);
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(alice_socket.next(QUIET), Event::Nothing);

        // Récupérer les messages reçus / envoyés.
        app.post("/messages/", Some(&alice), json!({"content": "Second", "receiver_id": bob_id}));
        phone.json(SOON);
        let received = app.get("/messages/received?skip=0&limit=100", Some(&bob));
        assert_eq!(received.status, 200);
        let contents: Vec<_> = received.json.as_array().unwrap().iter().map(|m| m["content"].clone()).collect();
        assert_eq!(contents, vec![json!("Second"), json!("Bonjour !")]);
        let sent_list = app.get("/messages/sent?skip=0&limit=100", Some(&alice));
        assert_eq!(sent_list.json.as_array().unwrap().len(), 2);
        assert_eq!(app.get("/messages/received?skip=1&limit=1", Some(&bob)).json[0]["content"], "Bonjour !");
        assert_eq!(app.get("/messages/received", Some(&alice)).json, json!([]));
        assert_eq!(app.get("/messages/unread_count", Some(&bob)).json, json!({"count": 2}));

        // Marquer un message comme lu: only the receiver; twice is harmless.
        let path = format!("/messages/{}/read", sent.json["id"]);
        assert_eq!(app.put(&path, Some(&alice), json!({})).status, 404);
        let read = app.put(&path, Some(&bob), json!({}));
        assert_eq!(read.status, 200);
        assert_eq!(read.json["is_read"], true);
        let receipt = alice_socket.json(SOON);
        assert_eq!(receipt["type"], "message_read");
        assert_eq!(receipt["message"]["id"], sent.json["id"]);
        assert_eq!(app.put(&path, Some(&bob), json!({})).status, 200);
        assert_eq!(alice_socket.next(QUIET), Event::Nothing);
        assert_eq!(app.get("/messages/unread_count", Some(&bob)).json, json!({"count": 1}));
        assert_eq!(app.put("/messages/99999/read", Some(&bob), json!({})).status, 404);
    }

    fn bad_messages_get_clear_errors(backend) {
        let app = TestApp::spawn(&backend);
        let alice = app.user_with_token("alice");
        let bob_id = id_of(&app, &app.user_with_token("bob"));
        let unknown = app.post("/messages/", Some(&alice), json!({"content": "hi", "receiver_id": 424242}));
        assert_eq!(unknown.status, 404);
        assert_eq!(unknown.json["detail"], "Receiver not found");
        let blank = app.post("/messages/", Some(&alice), json!({"content": "   ", "receiver_id": bob_id}));
        assert_eq!(blank.status, 422);
        assert_eq!(blank.json["detail"][0]["loc"], json!(["body", "content"]));
        let long = app.post("/messages/", Some(&alice), json!({"content": "x".repeat(5001), "receiver_id": bob_id}));
        assert_eq!(long.status, 422);
        let longest = app.post("/messages/", Some(&alice), json!({"content": "é".repeat(5000), "receiver_id": bob_id}));
        assert_eq!(longest.status, 200);
        let wrong_type = app.post("/messages/", Some(&alice), json!({"content": "hi", "receiver_id": "bob"}));
        assert_eq!(wrong_type.status, 422);
        assert_eq!(wrong_type.json["detail"][0]["loc"], json!(["body", "receiver_id"]));
        let missing = app.post("/messages/", Some(&alice), json!({}));
        assert_eq!(missing.status, 422);
        assert_eq!(missing.json["detail"].as_array().unwrap().len(), 2);
        assert_eq!(app.post("/messages/", None, json!({"content": "hi", "receiver_id": bob_id})).status, 401);
        assert_eq!(app.get("/messages/received", Some("garbage")).status, 401);
    }

    fn bad_and_revoked_tokens_are_closed_with_1008(backend) {
        let app = TestApp::spawn(&backend);
        let mut socket = app.socket("not-a-token");
        match socket.next(SOON) {
            Event::Closed(code, reason) => {
                assert_eq!(code, 1008);
                assert!(!reason.is_empty());
            }
            other => panic!("expected a close, got {other:?}"),
        }

        let token = app.user_with_token("carol");
        let mut open = app.socket(&token);
        assert_eq!(app.post("/auth/logout", Some(&token), json!({})).status, 200);
        assert!(matches!(open.next(SOON), Event::Closed(1008, _)), "logout closes that session's sockets");
        assert!(matches!(app.socket(&token).next(SOON), Event::Closed(1008, _)));
    }

    fn opaque_tokens_open_sockets_too(backend) {
        let app = TestApp::spawn(&backend);
        let registered = app.post("/auth/register", None, json!({"username": "dora", "password": PASSWORD}));
        assert_eq!(registered.status, 200, "{}", registered.text);
        let opaque = registered.str("token");
        let dora_id = id_of(&app, &opaque);
        let mut socket = app.socket(&opaque);
        let alice = app.user_with_token("alice");
        app.post("/messages/", Some(&alice), json!({"content": "to dora", "receiver_id": dora_id}));
        assert_eq!(socket.json(SOON)["message"]["content"], "to dora");
    }
}

#[test]
fn a_socket_that_stops_answering_pings_is_closed() {
    let app = TestApp::spawn_with(&Backend::Sqlite, |config| {
        config.http.ws_ping_interval_seconds = 1
    });
    let token = app.user_with_token("sleepy");
    let socket = app.socket(&token);
    // tungstenite answers pings only while it reads: hold the socket without reading.
    let mut raw = socket.into_inner();
    std::thread::sleep(Duration::from_millis(3500));
    raw.get_mut()
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut closed = None;
    while let Ok(message) = raw.read() {
        if let tungstenite::Message::Close(frame) = message {
            closed = frame.map(|f| u16::from(f.code));
            break;
        }
    }
    assert_eq!(closed, Some(1008));
}

#[test]
fn a_message_stored_on_one_instance_reaches_sockets_on_another() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let first = TestApp::spawn(&backend);
    let second = first.spawn_beside();
    let alice = first.user_with_token("alice");
    let bob = first.user_with_token("bob");
    let bob_id = id_of(&first, &bob);
    let mut on_second = second.socket(&bob);
    let mut on_first = first.socket(&bob);
    let started = Instant::now();
    let sent = first.post(
        "/messages/",
        Some(&alice),
        json!({"content": "across", "receiver_id": bob_id}),
    );
    assert_eq!(sent.status, 200);
    assert_eq!(on_second.json(SOON)["message"]["content"], "across");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(on_first.json(SOON)["message"]["content"], "across");
    let mut alice_on_first = first.socket(&alice);
    let path = format!("/messages/{}/read", sent.json["id"]);
    assert_eq!(second.put(&path, Some(&bob), json!({})).status, 200);
    assert_eq!(
        alice_on_first.json(SOON)["type"],
        "message_read",
        "the receipt crosses instances too"
    );
    assert_eq!(second.put(&path, Some(&bob), json!({})).status, 200);
    assert_eq!(
        alice_on_first.next(QUIET),
        Event::Nothing,
        "a second read sends no receipt"
    );
}
