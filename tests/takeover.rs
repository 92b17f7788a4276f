//! Issue 17: what a stolen access token must not be enough for, and what
//! ends a session at once (API.md "A user never changes their own email in
//! one step", "Revocation reaches sockets").

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use common::outbox::{nth_mail, outbox};
use common::{Body, TestApp, PASSWORD};
use serde_json::{json, Value};

const CONFIRM: &str = "http://localhost:8080/account/email/confirm/";
const PASSWORD_RESET: &str = "http://localhost:8080/account/password/reset/confirm/";
const BOUNDARY: &str = "takeover-test-boundary-Zq81";
const MULTIPART: &str = "multipart/form-data; boundary=takeover-test-boundary-Zq81";

/// A `multipart/form-data` body of text fields.
fn form(fields: &[(&str, &str)]) -> String {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body
}

/// PUT or PATCH `path` with `fields`, as JSON or as a multipart form.
fn edit(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    multipart: bool,
    fields: &[(&str, &str)],
) -> common::Reply {
    let body = if multipart {
        Body::Raw(MULTIPART, form(fields))
    } else {
        let map: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        Body::Json(Value::Object(map))
    };
    app.request(method, path, Some(token), body)
}

fn email_of(app: &TestApp, token: &str) -> Value {
    app.get("/auth/users/me/", Some(token)).json["email"].clone()
}

/// The detail of the newest audit entry of `kind` that contains `needle`
/// (entries are written just after the answer: waits up to 5 s).
fn audit_detail(app: &TestApp, admin: &str, kind: &str, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let audit = app.get(&format!("/auth/audit/?kind={kind}"), Some(admin));
        assert_eq!(audit.status, 200, "{}", audit.text);
        let detail = audit.json[0]["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if detail.contains(needle) || std::time::Instant::now() > deadline {
            return detail;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// The emails in the outbox to `to`, after a pause long enough for the
/// sender to have written any that were queued.
fn mails_to(app: &TestApp, to: &str) -> usize {
    thread::sleep(Duration::from_millis(500));
    outbox(&app.data_dir.join("outbox"))
        .iter()
        .filter(|m| m.to() == to)
        .count()
}

mod email_takeover {
    use super::*;

    backend_tests! {
        fn a_stolen_token_alone_cannot_change_the_email(backend) {
            let app = TestApp::spawn(&backend);
            let token = app.user_with_token("alice");
            let id = app.get("/auth/users/me/", Some(&token)).json["id"].as_i64().unwrap();
            let own_path = format!("/auth/users/{id}/");
            for path in ["/auth/users/me/", own_path.as_str()] {
                for method in ["PUT", "PATCH"] {
                    for multipart in [false, true] {
                        let what = format!("{method} {path} multipart={multipart}");
                        let missing = edit(&app, method, path, &token, multipart, &[("email", "mallory@evil.test")]);
                        assert_eq!(missing.status, 400, "{what}: {}", missing.text);
                        assert!(missing.json["current_password"].is_array(), "{what}: {}", missing.text);
                        let wrong = edit(&app, method, path, &token, multipart, &[
                            ("email", "mallory@evil.test"), ("current_password", "guessed-wrong-1"),
                        ]);
                        assert_eq!(wrong.status, 400, "{what}: {}", wrong.text);
                        assert_eq!(wrong.json, json!({"current_password": ["Invalid password."]}), "{what}");
                        // Removing the address is no easier.
                        let removed = edit(&app, method, path, &token, multipart, &[("email", "")]);
                        assert_eq!(removed.status, 400, "{what}: {}", removed.text);
                        assert_eq!(email_of(&app, &token), "alice@example.com", "{what}");
                    }
                }
            }
            // Nothing changed in one step: nothing was queued to the attacker,
            // and a reset still reaches the owner only.
            assert_eq!(app.post("/auth/users/reset_password/", None, json!({"email": "mallory@evil.test"})).status, 204);
            assert_eq!(app.post("/auth/users/reset_password/", None, json!({"email": "alice@example.com"})).status, 204);
            nth_mail(&app.data_dir.join("outbox"), "alice@example.com", 1);
            assert_eq!(mails_to(&app, "mallory@evil.test"), 0);

            // The same address in another case or with spaces is no change.
            let same = edit(&app, "PATCH", "/auth/users/me/", &token, false, &[("email", " ALICE@Example.com ")]);
            assert_eq!(same.status, 200, "{}", same.text);
            assert_eq!(same.json["email"].as_str().unwrap().to_lowercase(), "alice@example.com");

            // An address that only folds to the stored one is another mailbox:
            // `ß` folds to `ss`, but `glaß.example` is not `glass.example`.
            let carol = app.post("/auth/users/", None, json!({
                "username": "carol", "email": "carol@glass.example", "password": PASSWORD, "re_password": PASSWORD,
            }));
            assert_eq!(carol.status, 201, "{}", carol.text);
            let carol = app.login("carol", PASSWORD).0;
            let folded = edit(&app, "PATCH", "/auth/users/me/", &carol, false, &[("email", "carol@glaß.example")]);
            assert_eq!(folded.status, 400, "{}", folded.text);
            assert!(folded.json["current_password"].is_array(), "{}", folded.text);
            assert_eq!(email_of(&app, &carol), "carol@glass.example");
        }

        fn with_the_password_the_change_waits_for_the_link(backend) {
            let app = TestApp::spawn(&backend);
            let token = app.user_with_token("bruno");
            let outbox_dir = app.data_dir.join("outbox");
            let asked = edit(&app, "PATCH", "/auth/users/me/", &token, true, &[
                ("email", "bruno@new.example.com"), ("current_password", PASSWORD), ("first_name", "Bruno"),
            ]);
            assert_eq!(asked.status, 200, "{}", asked.text);
            assert_eq!(asked.json["email"], "bruno@example.com", "the address in force until the link is used");
            assert_eq!(asked.json["first_name"], "Bruno");
            let link = nth_mail(&outbox_dir, "bruno@new.example.com", 1);
            let notice = nth_mail(&outbox_dir, "bruno@example.com", 1);
            assert!(notice.subject().contains("changing"), "{}", notice.subject());
            assert_eq!(email_of(&app, &token), "bruno@example.com");

            // Until it is confirmed, a reset goes to the old address only.
            app.post("/auth/users/reset_password/", None, json!({"email": "bruno@new.example.com"}));
            app.post("/auth/users/reset_password/", None, json!({"email": "bruno@example.com"}));
            let reset = nth_mail(&outbox_dir, "bruno@example.com", 2);
            assert!(reset.link(PASSWORD_RESET).starts_with(PASSWORD_RESET));
            assert_eq!(mails_to(&app, "bruno@new.example.com"), 1, "only the confirmation link");

            let (uid, link_token) = link.uid_token(CONFIRM);
            let confirmed = app.post("/auth/users/set_email_confirm/", None, json!({"uid": uid, "token": link_token}));
            assert_eq!(confirmed.status, 204, "{}", confirmed.text);
            assert_eq!(email_of(&app, &token), "bruno@new.example.com");

            // PUT with JSON works the same.
            let put = edit(&app, "PUT", "/auth/users/me/", &token, false, &[
                ("email", "bruno@third.example.com"), ("current_password", PASSWORD),
            ]);
            assert_eq!(put.status, 200, "{}", put.text);
            assert_eq!(put.json["email"], "bruno@new.example.com");
            nth_mail(&outbox_dir, "bruno@third.example.com", 1);
        }

        fn an_admin_changes_another_users_email_at_once_and_it_is_audited(backend) {
            let app = TestApp::spawn(&backend);
            let admin = app.admin_token("root");
            let bob = app.user_with_token("bob");
            let bob_id = app.get("/auth/users/me/", Some(&bob)).json["id"].as_i64().unwrap();
            let path = format!("/auth/users/{bob_id}/");
            // The admin's token alone is not enough: with it, a second admin
            // could move the first one's address and reset its password.
            let token_alone = app.patch(&path, Some(&admin), json!({"email": "bob@new.example.com"}));
            assert_eq!(token_alone.status, 400, "{}", token_alone.text);
            assert!(token_alone.json["current_password"].is_array(), "{}", token_alone.text);
            assert_eq!(email_of(&app, &bob), "bob@example.com");
            let changed = app.patch(&path, Some(&admin), json!({"email": "bob@new.example.com", "current_password": PASSWORD}));
            assert_eq!(changed.status, 200, "{}", changed.text);
            assert_eq!(changed.json["email"], "bob@new.example.com");
            assert_eq!(email_of(&app, &bob), "bob@new.example.com");
            let detail = audit_detail(&app, &admin, "admin_changed_user", "email");
            assert_eq!(detail, format!("user {bob_id}: email"));

            // An admin's own address follows the user rule.
            let root_id = app.get("/auth/users/me/", Some(&admin)).json["id"].as_i64().unwrap();
            let own = app.patch(&format!("/auth/users/{root_id}/"), Some(&admin), json!({"email": "root@evil.test"}));
            assert_eq!(own.status, 400, "{}", own.text);
            assert!(own.json["current_password"].is_array());
        }
    }
}

mod email_flows_end {
    use super::*;

    const USERNAME_RESET: &str = "http://localhost:8080/account/username/reset/confirm/";
    const NEW_PASSWORD: &str = "Another-long-pass-42";

    fn reset_password(app: &TestApp, uid: &str, token: &str) -> common::Reply {
        app.post("/auth/users/reset_password_confirm/", None, json!({
            "uid": uid, "token": token, "new_password": NEW_PASSWORD, "re_new_password": NEW_PASSWORD,
        }))
    }

    backend_tests! {
        fn a_confirmed_email_change_ends_every_outstanding_flow_token(backend) {
            let app = TestApp::spawn(&backend);
            let token = app.user_with_token("carla");
            let outbox_dir = app.data_dir.join("outbox");
            app.post("/auth/users/reset_password/", None, json!({"email": "carla@example.com"}));
            let (uid, reset) = nth_mail(&outbox_dir, "carla@example.com", 1).uid_token(PASSWORD_RESET);
            app.post("/auth/users/reset_username/", None, json!({"email": "carla@example.com"}));
            let (_, rename) = nth_mail(&outbox_dir, "carla@example.com", 2).uid_token(USERNAME_RESET);
            let ask = |email: &str| app.post("/auth/users/set_email/", Some(&token), json!({"current_password": PASSWORD, "new_email": email}));
            assert_eq!(ask("carla@first.example.com").status, 204);
            assert_eq!(ask("carla@second.example.com").status, 204);
            let (_, first) = nth_mail(&outbox_dir, "carla@first.example.com", 1).uid_token(CONFIRM);
            let (_, second) = nth_mail(&outbox_dir, "carla@second.example.com", 1).uid_token(CONFIRM);

            let confirmed = app.post("/auth/users/set_email_confirm/", None, json!({"uid": uid, "token": first}));
            assert_eq!(confirmed.status, 204, "{}", confirmed.text);

            let dead = reset_password(&app, &uid, &reset);
            assert_eq!(dead.status, 400, "a reset link sent to the old address dies: {}", dead.text);
            let dead = app.post("/auth/users/reset_username_confirm/", None, json!({"uid": uid, "token": rename, "new_username": "stolen"}));
            assert_eq!(dead.status, 400, "{}", dead.text);
            let dead = app.post("/auth/users/set_email_confirm/", None, json!({"uid": uid, "token": second}));
            assert_eq!(dead.status, 400, "another pending change dies: {}", dead.text);
            assert_eq!(email_of(&app, &token), "carla@first.example.com");
            app.login("carla", PASSWORD);
        }

        fn an_admin_email_change_ends_every_outstanding_flow_token(backend) {
            let app = TestApp::spawn(&backend);
            let admin = app.admin_token("root");
            let token = app.user_with_token("dave");
            let id = app.get("/auth/users/me/", Some(&token)).json["id"].as_i64().unwrap();
            let outbox_dir = app.data_dir.join("outbox");
            app.post("/auth/users/reset_password/", None, json!({"email": "dave@example.com"}));
            let (uid, reset) = nth_mail(&outbox_dir, "dave@example.com", 1).uid_token(PASSWORD_RESET);
            let changed = app.patch(&format!("/auth/users/{id}/"), Some(&admin), json!({"email": "dave@new.example.com", "current_password": PASSWORD}));
            assert_eq!(changed.status, 200, "{}", changed.text);
            let dead = reset_password(&app, &uid, &reset);
            assert_eq!(dead.status, 400, "{}", dead.text);
            app.login("dave", PASSWORD);

            // A fresh reset to the new address works.
            app.post("/auth/users/reset_password/", None, json!({"email": "dave@new.example.com"}));
            let (uid, reset) = nth_mail(&outbox_dir, "dave@new.example.com", 1).uid_token(PASSWORD_RESET);
            assert_eq!(reset_password(&app, &uid, &reset).status, 204);
        }

        fn a_request_held_open_through_a_reset_changes_nothing(backend) {
            let app = TestApp::spawn(&backend);
            let token = app.user_with_token("hattie");
            // Someone who knows the password sends a password change, and
            // holds back the end of its body while the owner takes the
            // account back.
            let stolen = "Thief-chosen-pass-77";
            let body = json!({"current_password": PASSWORD, "new_password": stolen, "re_new_password": stolen}).to_string();
            let (start, end) = body.split_at(10);
            let mut held = TcpStream::connect(app.base.trim_start_matches("http://")).unwrap();
            let head = format!(
                "POST /auth/users/set_password/ HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{start}",
                body.len()
            );
            held.write_all(head.as_bytes()).unwrap();
            // Time for the token to be checked, as it is before the body is read.
            thread::sleep(Duration::from_millis(300));
            app.post("/auth/users/reset_password/", None, json!({"email": "hattie@example.com"}));
            let (uid, reset) = nth_mail(&app.data_dir.join("outbox"), "hattie@example.com", 1).uid_token(PASSWORD_RESET);
            assert_eq!(reset_password(&app, &uid, &reset).status, 204);

            held.write_all(end.as_bytes()).unwrap();
            held.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut answer = [0u8; 512];
            let read = held.read(&mut answer).unwrap();
            let answer = String::from_utf8_lossy(&answer[..read]);
            assert!(answer.starts_with("HTTP/1.1 401"), "the session ended before the body was whole: {answer}");
            app.login("hattie", NEW_PASSWORD);
            let thief = app.post("/auth/jwt/create/", None, json!({"username": "hattie", "password": stolen}));
            assert_eq!(thief.status, 401, "{}", thief.text);
        }
    }
}

/// Whatever ends a session closes its sockets at once (1008), and nothing
/// reaches them afterwards.
mod sockets {
    use super::*;
    use common::ws::{Event, Socket};
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::sync::Barrier;
    use std::time::Instant;

    /// "At once": well under the 30 s heartbeat that used to catch it.
    const AT_ONCE: Duration = Duration::from_millis(1500);
    const NEW_PASSWORD: &str = "Another-long-pass-42";

    fn id_of(app: &TestApp, token: &str) -> i64 {
        app.get("/auth/users/me/", Some(token)).json["id"]
            .as_i64()
            .unwrap()
    }

    /// Asserts the socket closes with 1008 at once, then that a message
    /// sent to its user no longer arrives on it.
    fn closed_at_once(app: &TestApp, socket: &mut Socket, user_id: i64, what: &str) {
        match socket.next(AT_ONCE) {
            Event::Closed(1008, reason) => assert!(!reason.is_empty(), "{what}: a reason"),
            other => panic!("{what}: expected a 1008 close at once, got {other:?}"),
        }
        let sender = app.user_with_token(&format!("sender{user_id}"));
        app.post(
            "/messages/",
            Some(&sender),
            json!({"content": "after", "receiver_id": user_id}),
        );
        assert!(
            !matches!(socket.next(Duration::from_millis(300)), Event::Json(_)),
            "{what}: no later message"
        );
    }

    fn code(secret: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        sesame_tokens::totp_code(secret, now).unwrap()
    }

    backend_tests! {
        fn set_password_closes_the_sockets_of_the_other_sessions(backend) {
            let app = TestApp::spawn(&backend);
            app.register("alice");
            let (kept, _) = app.login("alice", PASSWORD);
            let (other, _) = app.login("alice", PASSWORD);
            let id = id_of(&app, &kept);
            let mut kept_socket = app.socket(&kept);
            let mut other_socket = app.socket(&other);
            let changed = app.post("/auth/users/set_password/", Some(&kept), json!({
                "current_password": PASSWORD, "new_password": NEW_PASSWORD, "re_new_password": NEW_PASSWORD,
            }));
            assert_eq!(changed.status, 204, "{}", changed.text);
            closed_at_once(&app, &mut other_socket, id, "set_password");
            // The session that changed it keeps its socket.
            assert_eq!(kept_socket.json(Duration::from_secs(2))["message"]["content"], "after");
        }

        fn reset_password_confirm_closes_every_socket(backend) {
            let app = TestApp::spawn(&backend);
            let token = app.user_with_token("bianca");
            let id = id_of(&app, &token);
            let mut socket = app.socket(&token);
            app.post("/auth/users/reset_password/", None, json!({"email": "bianca@example.com"}));
            let (uid, reset) = nth_mail(&app.data_dir.join("outbox"), "bianca@example.com", 1).uid_token(PASSWORD_RESET);
            let done = app.post("/auth/users/reset_password_confirm/", None, json!({
                "uid": uid, "token": reset, "new_password": NEW_PASSWORD, "re_new_password": NEW_PASSWORD,
            }));
            assert_eq!(done.status, 204, "{}", done.text);
            closed_at_once(&app, &mut socket, id, "reset_password_confirm");
        }

        fn deleting_the_account_closes_its_sockets(backend) {
            let app = TestApp::spawn(&backend);
            let token = app.user_with_token("cleo");
            let mut socket = app.socket(&token);
            assert_eq!(app.delete("/auth/users/me/", Some(&token), json!({"current_password": PASSWORD})).status, 204);
            match socket.next(AT_ONCE) {
                Event::Closed(1008, _) => {}
                other => panic!("DELETE me: expected a 1008 close at once, got {other:?}"),
            }

            // Surface opaque: DELETE /auth/delete/{username} with the user's own token.
            let registered = app.post("/auth/register", None, json!({"username": "dora", "password": PASSWORD}));
            assert_eq!(registered.status, 200, "{}", registered.text);
            let opaque = registered.str("token");
            let mut socket = app.socket(&opaque);
            assert_eq!(app.delete("/auth/delete/dora", Some(&opaque), json!({})).status, 200);
            match socket.next(AT_ONCE) {
                Event::Closed(1008, _) => {}
                other => panic!("opaque delete: expected a 1008 close at once, got {other:?}"),
            }
        }

        fn a_session_ended_while_its_socket_opens_closes_it(backend) {
            // No heartbeat during the test: only a change report, or the
            // check a socket makes right after it subscribes, can close it.
            let app = TestApp::spawn_with(&backend, |config| config.http.ws_ping_interval_seconds = 600);
            app.register("ivy");
            let address = app.base.trim_start_matches("http://").to_owned();
            for round in 0..60 {
                let (token, _) = app.login("ivy", PASSWORD);
                let request = &format!(
                    "POST /auth/logout HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let mut logout = TcpStream::connect(&address).unwrap();
                let opening = TcpStream::connect(&address).unwrap();
                let start = &Barrier::new(2);
                let mut socket = thread::scope(|scope| {
                    scope.spawn(move || {
                        start.wait();
                        // A little later each round, to land anywhere in the opening.
                        let at = Instant::now() + Duration::from_micros(round * 25);
                        while Instant::now() < at {}
                        logout.write_all(request.as_bytes()).unwrap();
                        let mut answer = String::new();
                        logout.read_to_string(&mut answer).unwrap();
                        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
                    });
                    start.wait();
                    Socket::over(opening, &app.base, &token)
                });
                match socket.next(Duration::from_millis(1500)) {
                    Event::Closed(1008, _) => {}
                    other => panic!("round {round}: expected a 1008 close, got {other:?}"),
                }
            }
        }

        fn a_socket_ends_when_the_access_token_that_opened_it_expires(backend) {
            // A stolen access token would otherwise listen for as long as
            // its session lives (days), long after the token expired.
            // Closed when it expires, not at the next ping (30 s away).
            let app = TestApp::spawn_with(&backend, |config| {
                config.tokens.access_ttl_seconds = 2;
            });
            app.register("kim");
            let (token, _) = app.login("kim", PASSWORD);
            let opened = Instant::now();
            let mut socket = app.socket(&token);
            assert_eq!(socket.next(Duration::from_millis(700)), Event::Nothing);
            assert_eq!(socket.next(Duration::from_secs(3)), Event::Closed(1008, "Token expired".into()));
            // `exp` counts whole seconds: 2 s after the login's second began.
            assert!(opened.elapsed() >= Duration::from_secs(1), "{:?}", opened.elapsed());
        }

        fn a_user_holds_at_most_the_configured_number_of_sockets(backend) {
            let app = TestApp::spawn_with(&backend, |config| config.http.ws_max_per_user = 3);
            let token = app.user_with_token("fred");
            let mut open: Vec<Socket> = (0..3).map(|_| app.socket(&token)).collect();
            for socket in &mut open {
                assert_eq!(socket.next(Duration::from_millis(200)), Event::Nothing);
            }
            match app.socket(&token).next(Duration::from_secs(2)) {
                Event::Closed(1008, reason) => assert!(reason.contains("Too many"), "{reason}"),
                other => panic!("expected a 1008 close past the cap, got {other:?}"),
            }
            // Per user: someone else still gets one.
            let other = app.user_with_token("gina");
            assert_eq!(app.socket(&other).next(Duration::from_millis(300)), Event::Nothing);
            // A closed socket frees its place.
            drop(open.pop());
            thread::sleep(Duration::from_millis(300));
            assert_eq!(app.socket(&token).next(Duration::from_millis(300)), Event::Nothing);
        }

        fn turning_totp_on_ends_every_other_session_and_its_sockets(backend) {
            let app = TestApp::spawn(&backend);
            app.register("erin");
            let (confirming, confirming_refresh) = app.login("erin", PASSWORD);
            let (other, other_refresh) = app.login("erin", PASSWORD);
            let id = id_of(&app, &confirming);
            let mut other_socket = app.socket(&other);
            let setup = app.post("/auth/mfa/totp/setup/", Some(&confirming), json!({"current_password": PASSWORD}));
            assert_eq!(setup.status, 200, "{}", setup.text);
            let confirmed = app.post("/auth/mfa/totp/confirm/", Some(&confirming), json!({"code": code(&setup.str("secret"))}));
            assert_eq!(confirmed.status, 200, "{}", confirmed.text);

            closed_at_once(&app, &mut other_socket, id, "TOTP on");
            assert_eq!(app.get("/auth/users/me/", Some(&other)).status, 401, "the other access token");
            assert_eq!(app.post("/auth/jwt/refresh/", None, json!({"refresh": other_refresh})).status, 401, "the other refresh token");
            assert_eq!(app.get("/auth/users/me/", Some(&confirming)).status, 200, "the confirming session goes on");
            assert_eq!(app.post("/auth/jwt/refresh/", None, json!({"refresh": confirming_refresh})).status, 200);
        }
    }
}

/// Admins lock accounts: `is_active` and `is_staff` of other users through
/// `/auth/users/{id}/`, and `sesame user deactivate|activate` (issue 17 #19).
mod lock {
    use super::*;
    use common::ws::Event;

    fn id_of(app: &TestApp, token: &str) -> i64 {
        app.get("/auth/users/me/", Some(token)).json["id"]
            .as_i64()
            .unwrap()
    }

    /// Asserts `username` cannot log in through any surface (or can).
    fn logins(app: &TestApp, username: &str, allowed: bool) {
        let expected = |ok: u16| if allowed { ok } else { 401 };
        let primary = app.post(
            "/auth/jwt/create/",
            None,
            json!({"username": username, "password": PASSWORD}),
        );
        assert_eq!(primary.status, expected(200), "primary: {}", primary.text);
        let fastapi = app.post(
            "/login",
            None,
            json!({"email": format!("{username}@example.com"), "password": PASSWORD}),
        );
        assert_eq!(
            fastapi.status,
            expected(200),
            "events_messages: {}",
            fastapi.text
        );
        let opaque = app.post(
            "/auth/re-authenticate",
            None,
            json!({"username": username, "password": PASSWORD}),
        );
        assert_eq!(
            opaque.status == 200,
            allowed,
            "opaque: {} {}",
            opaque.status,
            opaque.text
        );
    }

    backend_tests! {
        fn an_admin_deactivates_and_reactivates_another_account(backend) {
            let app = TestApp::spawn(&backend);
            let admin = app.admin_token("root");
            let bob = app.user_with_token("bob");
            let bob_id = id_of(&app, &bob);
            let path = format!("/auth/users/{bob_id}/");
            let mut socket = app.socket(&bob);

            // Not bob himself, not anyone but an admin.
            let own = app.patch("/auth/users/me/", Some(&bob), json!({"is_active": false, "is_staff": true}));
            assert_eq!((own.status, own.json["is_active"].clone()), (200, json!(true)), "read-only for non-admins");
            let carol = app.user_with_token("carol");
            assert_eq!(app.patch(&path, Some(&carol), json!({"is_active": false})).status, 404);
            assert_eq!(app.patch(&path, Some(&admin), json!({"is_active": "maybe"})).status, 400);

            let locked = app.patch(&path, Some(&admin), json!({"is_active": false}));
            assert_eq!(locked.status, 200, "{}", locked.text);
            assert_eq!(locked.json["is_active"], false);
            match socket.next(Duration::from_millis(1500)) {
                Event::Closed(1008, _) => {}
                other => panic!("expected the socket closed with 1008 at once, got {other:?}"),
            }
            assert_eq!(app.get("/auth/users/me/", Some(&bob)).status, 401, "his token fails at once");
            logins(&app, "bob", false);
            let detail = audit_detail(&app, &admin, "admin_changed_user", "is_active");
            assert_eq!(detail, format!("user {bob_id}: is_active=false"));

            let token_alone = app.put(&path, Some(&admin), json!({"is_active": true, "is_staff": true}));
            assert_eq!(token_alone.status, 400, "making an admin needs the password: {}", token_alone.text);
            assert!(token_alone.json["current_password"].is_array(), "{}", token_alone.text);
            let unlocked = app.put(&path, Some(&admin), json!({"is_active": true, "is_staff": true, "current_password": PASSWORD}));
            assert_eq!(unlocked.status, 200, "{}", unlocked.text);
            logins(&app, "bob", true);
            let (bob, _) = app.login("bob", PASSWORD);
            assert_eq!(app.get("/auth/users/", Some(&bob)).json.as_array().unwrap().len(), 3, "now an admin");

            // Never of themselves.
            let root_id = id_of(&app, &admin);
            let myself = app.patch(&format!("/auth/users/{root_id}/"), Some(&admin), json!({"is_active": false}));
            assert_eq!(myself.status, 400, "{}", myself.text);
            assert!(myself.json["is_active"].is_array(), "{}", myself.text);
            let myself = app.patch("/auth/users/me/", Some(&admin), json!({"is_staff": false}));
            assert_eq!(myself.status, 400, "{}", myself.text);
            assert_eq!(app.get("/auth/users/me/", Some(&admin)).status, 200);
        }

        fn an_admin_token_alone_cannot_lock_out_or_demote_another_admin(backend) {
            let app = TestApp::spawn(&backend);
            let admin = app.admin_token("root");
            let second = app.admin_token("root2");
            let path = format!("/auth/users/{}/", id_of(&app, &second));
            for change in [json!({"is_active": false}), json!({"is_staff": false})] {
                let token_alone = app.patch(&path, Some(&admin), change.clone());
                assert_eq!(token_alone.status, 400, "{change}: {}", token_alone.text);
                assert!(token_alone.json["current_password"].is_array(), "{}", token_alone.text);
                let mut wrong = change.clone();
                wrong["current_password"] = json!("not the password");
                assert_eq!(app.patch(&path, Some(&admin), wrong).status, 400);
            }
            let listed = |token: &str| app.get("/auth/users/", Some(token)).json.as_array().map(Vec::len);
            assert_eq!(listed(&second), Some(2), "still an active admin, who sees every account");

            let mut demoted = json!({"is_staff": false});
            demoted["current_password"] = json!(PASSWORD);
            let done = app.patch(&path, Some(&admin), demoted);
            assert_eq!((done.status, done.json["is_active"].clone()), (200, json!(true)), "{}", done.text);
            assert_eq!(listed(&second), Some(1), "no longer an admin");
            // No longer an admin: its flags take the token alone again.
            let locked = app.patch(&path, Some(&admin), json!({"is_active": false}));
            assert_eq!((locked.status, locked.json["is_active"].clone()), (200, json!(false)), "{}", locked.text);
        }

        fn the_command_line_deactivates_and_activates(backend) {
            // No heartbeat check during the test: only the change report can close it.
            let app = TestApp::spawn_with(&backend, |config| config.http.ws_ping_interval_seconds = 600);
            let bob = app.user_with_token("bob");
            let mut socket = app.socket(&bob);
            let done = app.cli(&["user", "deactivate", "bob"], "");
            assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
            // At once: on PostgreSQL by the change notice, on SQLite by the
            // change file beside the database.
            match socket.next(Duration::from_millis(1500)) {
                Event::Closed(1008, _) => {}
                other => panic!("expected the socket closed with 1008 at once, got {other:?}"),
            }
            assert_eq!(app.get("/auth/users/me/", Some(&bob)).status, 401);
            logins(&app, "bob", false);
            let audit = app.cli(&["audit", "--kind", "admin_changed_user"], "");
            assert!(String::from_utf8_lossy(&audit.stdout).contains("is_active=false"), "{}", String::from_utf8_lossy(&audit.stdout));

            let done = app.cli(&["user", "activate", "bob"], "");
            assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
            logins(&app, "bob", true);

            let unknown = app.cli(&["user", "deactivate", "nobody"], "");
            assert_eq!(unknown.status.code(), Some(1));
            let stderr = String::from_utf8_lossy(&unknown.stderr);
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
            assert!(stderr.contains("no such user"), "{stderr}");
        }
    }
}

/// On PostgreSQL the change notices reach every instance: a session ended on
/// one closes its sockets on the other at once.
#[test]
fn a_session_ended_on_one_instance_closes_its_sockets_on_another() {
    use common::ws::Event;
    let Some(backend) = common::Backend::postgres() else {
        return;
    };
    let first = TestApp::spawn(&backend);
    let second = first.spawn_beside();
    first.register("hana");
    let (kept, _) = first.login("hana", PASSWORD);
    let (ended, _) = first.login("hana", PASSWORD);
    let mut socket = second.socket(&ended);
    assert_eq!(socket.next(Duration::from_millis(200)), Event::Nothing);
    let new_password = "Another-long-pass-42";
    let changed = first.post("/auth/users/set_password/", Some(&kept), json!({
        "current_password": PASSWORD, "new_password": new_password, "re_new_password": new_password,
    }));
    assert_eq!(changed.status, 204, "{}", changed.text);
    match socket.next(Duration::from_millis(1500)) {
        Event::Closed(1008, _) => {}
        other => panic!("expected a 1008 close at once on the other instance, got {other:?}"),
    }
}
