//! Seed 004's email flows, black-box over HTTP on both backends: activation,
//! resend, password reset and username reset, each read back from the
//! outbox folder the way a user would click the link.

mod common;

use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use common::outbox::{nth_mail, outbox, Mail};
use common::{Body, TestApp, PASSWORD};
use serde_json::json;

const ACTIVATE: &str = "http://localhost:8080/account/activate/";
const PASSWORD_RESET: &str = "http://localhost:8080/account/password/reset/confirm/";
const USERNAME_RESET: &str = "http://localhost:8080/account/username/reset/confirm/";
const NEW_PASSWORD: &str = "Another-long-pass-42";

fn outbox_of(app: &TestApp) -> PathBuf {
    app.data_dir.join("outbox")
}

fn with_activation(backend: &common::Backend) -> TestApp {
    TestApp::spawn_with(backend, |c| c.accounts.require_activation = true)
}

/// `base64url(decimal id)` without padding, as djoser makes it.
fn uid_of(id: i64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = id.to_string().into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Gives a background flow time to run, for checks that nothing was sent.
fn settle() {
    thread::sleep(Duration::from_millis(400));
}

fn login_status(app: &TestApp, username: &str, password: &str) -> u16 {
    app.post(
        "/auth/jwt/create/",
        None,
        json!({"username": username, "password": password}),
    )
    .status
}

backend_tests! {
    fn activation_walk(backend) {
        let app = with_activation(&backend);

        // Inscription: the account exists but is inactive (seed 004's example answer).
        let reply = app.post("/auth/users/", None, json!({
            "username": "testuser", "email": "test@example.com",
            "password": PASSWORD, "re_password": PASSWORD,
        }));
        assert_eq!(reply.status, 201, "{}", reply.text);
        assert_eq!(reply.json["is_active"], false);
        assert_eq!(reply.json["avatar"], json!(null));
        let id = reply.json["id"].as_i64().unwrap();

        // An inactive account cannot log in through any login route.
        let refused = app.post("/auth/jwt/create/", None, json!({"username": "testuser", "password": PASSWORD}));
        assert_eq!(refused.status, 401);
        assert_eq!(refused.json["detail"], "No active account found with the given credentials");
        assert_eq!(app.post("/auth/jwt/create/", None, json!({"email": "test@example.com", "password": PASSWORD})).status, 401);
        assert_eq!(app.post("/login", None, json!({"email": "test@example.com", "password": PASSWORD})).status, 401);
        let form = format!("username=testuser&password={PASSWORD}");
        assert_eq!(app.request("POST", "/auth/token", None, Body::Raw("application/x-www-form-urlencoded", form)).status, 401);
        assert_eq!(app.post("/auth/login", None, json!({"login": "testuser", "password": PASSWORD})).status, 401);
        assert_eq!(app.post("/auth/re-authenticate", None, json!({"username": "testuser", "password": PASSWORD})).status, 401);

        // The activation email: RFC 5322, to the address, with the link.
        let mail = nth_mail(&outbox_of(&app), "test@example.com", 1);
        assert!(mail.file.ends_with(".eml"));
        assert_eq!(mail.subject(), "Activate your Sesame account");
        assert!(mail.header("From").unwrap().contains("noreply@localhost"));
        assert!(mail.header("Date").is_some() && mail.header("Message-ID").is_some());
        assert!(mail.raw.contains("\r\n"), "CRLF line ends");
        let (uid, token) = mail.uid_token(ACTIVATE);
        assert_eq!(uid, uid_of(id));
        assert!(token.len() >= 43, "{token}");
        assert!(!mail.raw.contains(PASSWORD));

        // Activation de compte: 204, then every login route works.
        let activated = app.post("/auth/users/activation/", None, json!({"uid": uid, "token": token}));
        assert_eq!(activated.status, 204, "{}", activated.text);
        let (access, _) = app.login("testuser", PASSWORD);
        assert_eq!(app.get("/auth/users/me/", Some(&access)).json["is_active"], true);
        assert_eq!(app.post("/login", None, json!({"email": "test@example.com", "password": PASSWORD})).status, 200);
        assert_eq!(app.post("/auth/login", None, json!({"login": "testuser", "password": PASSWORD})).status, 200);

        // The same link again: the account is already active.
        let again = app.post("/auth/users/activation/", None, json!({"uid": uid, "token": token}));
        assert_eq!(again.status, 403);
        assert_eq!(again.json, json!({"detail": "Stale token for given user.", "code": "permission_denied"}));
    }

    fn activation_refuses_bad_input(backend) {
        let app = with_activation(&backend);
        let user = app.post("/auth/users/", None, json!({
            "username": "alice", "email": "alice@example.com",
            "password": PASSWORD, "re_password": PASSWORD,
        }));
        assert_eq!(user.status, 201);
        assert_eq!(login_status(&app, "alice", PASSWORD), 401);
        let (uid, token) = nth_mail(&outbox_of(&app), "alice@example.com", 1).uid_token(ACTIVATE);

        let missing = app.post("/auth/users/activation/", None, json!({}));
        assert_eq!(missing.status, 400);
        assert_eq!(missing.json, json!({"uid": ["This field is required."], "token": ["This field is required."]}));
        for bad_uid in ["", "!!", "OTk5OTk", &uid_of(987_654)] {
            let reply = app.post("/auth/users/activation/", None, json!({"uid": bad_uid, "token": token}));
            assert_eq!(reply.status, 400, "{bad_uid}");
            assert_eq!(reply.json, json!({"uid": ["Invalid user id or user doesn't exist."]}), "{bad_uid}");
        }
        let tampered = format!("{}x", &token[..token.len() - 1]);
        for bad_token in ["", "nope", tampered.as_str()] {
            let reply = app.post("/auth/users/activation/", None, json!({"uid": uid, "token": bad_token}));
            assert_eq!(reply.status, 400, "{bad_token}");
            assert_eq!(reply.json, json!({"token": ["Invalid token for given user."]}));
        }
        assert_eq!(login_status(&app, "alice", PASSWORD), 401);
        assert_eq!(app.post("/auth/users/activation/", None, json!({"uid": uid, "token": token})).status, 204);
    }

    fn resend_activation_answers_the_same_for_every_address(backend) {
        let app = with_activation(&backend);
        app.post("/auth/users/", None, json!({
            "username": "alice", "email": "alice@example.com",
            "password": PASSWORD, "re_password": PASSWORD,
        }));
        let first = nth_mail(&outbox_of(&app), "alice@example.com", 1);

        for email in ["nobody@example.com", "alice@example.com", "not an address", ""] {
            let reply = app.post("/auth/users/resend_activation/", None, json!({"email": email}));
            assert_eq!((reply.status, reply.text.as_str()), (204, ""), "{email}");
        }
        let missing = app.post("/auth/users/resend_activation/", None, json!({}));
        assert_eq!(missing.status, 400);
        assert_eq!(missing.json, json!({"email": ["This field is required."]}));

        let second = nth_mail(&outbox_of(&app), "alice@example.com", 2);
        assert_ne!(first.uid_token(ACTIVATE).1, second.uid_token(ACTIVATE).1);
        let (uid, token) = second.uid_token(ACTIVATE);
        assert_eq!(app.post("/auth/users/activation/", None, json!({"uid": uid, "token": token})).status, 204);

        // Active now: no more activation emails; unknown addresses never got one.
        app.post("/auth/users/resend_activation/", None, json!({"email": "alice@example.com"}));
        settle();
        let all = outbox(&outbox_of(&app));
        assert_eq!(all.len(), 2, "{:?}", all.iter().map(Mail::to).collect::<Vec<_>>());
        app.login("alice", PASSWORD);
    }

    fn an_account_an_admin_deactivated_is_not_activated_again_by_a_link(backend) {
        let app = with_activation(&backend);
        let reply = app.post("/auth/users/", None, json!({
            "username": "alice", "email": "alice@example.com",
            "password": PASSWORD, "re_password": PASSWORD,
        }));
        let id = reply.json["id"].as_i64().unwrap();
        let (uid, token) = nth_mail(&outbox_of(&app), "alice@example.com", 1).uid_token(ACTIVATE);
        assert_eq!(app.post("/auth/users/activation/", None, json!({"uid": uid, "token": token})).status, 204);
        let admin = app.admin_token("root");
        let path = format!("/auth/users/{id}/");
        assert_eq!(app.patch(&path, Some(&admin), json!({"is_active": false})).status, 200);

        // The deactivated owner asks for a new link: it activates nothing.
        app.post("/auth/users/resend_activation/", None, json!({"email": "alice@example.com"}));
        let (uid, token) = nth_mail(&outbox_of(&app), "alice@example.com", 2).uid_token(ACTIVATE);
        let refused = app.post("/auth/users/activation/", None, json!({"uid": uid, "token": token}));
        assert_eq!(refused.status, 400, "{}", refused.text);
        assert_eq!(login_status(&app, "alice", PASSWORD), 401);
        assert_eq!(app.get(&path, Some(&admin)).json["is_active"], false);

        // Only an admin makes it active again.
        assert_eq!(app.patch(&path, Some(&admin), json!({"is_active": true})).status, 200);
        assert_eq!(login_status(&app, "alice", PASSWORD), 200);
    }

    fn an_account_awaiting_activation_an_admin_deactivated_is_not_activated_by_a_link(backend) {
        let app = with_activation(&backend);
        let reply = app.post("/auth/users/", None, json!({
            "username": "spam", "email": "spam@example.com",
            "password": PASSWORD, "re_password": PASSWORD,
        }));
        let id = reply.json["id"].as_i64().unwrap();
        let first = nth_mail(&outbox_of(&app), "spam@example.com", 1).uid_token(ACTIVATE);
        let admin = app.admin_token("root");
        let path = format!("/auth/users/{id}/");
        let banned = app.patch(&path, Some(&admin), json!({"is_active": false}));
        assert_eq!((banned.status, &banned.json["is_active"]), (200, &json!(false)));

        // Neither the link it had nor a new one activates it.
        app.post("/auth/users/resend_activation/", None, json!({"email": "spam@example.com"}));
        let second = nth_mail(&outbox_of(&app), "spam@example.com", 2).uid_token(ACTIVATE);
        for (uid, token) in [first, second] {
            let refused = app.post("/auth/users/activation/", None, json!({"uid": uid, "token": token}));
            assert_eq!(refused.status, 400, "{}", refused.text);
        }
        assert_eq!(login_status(&app, "spam", PASSWORD), 401);
        assert_eq!(app.patch(&path, Some(&admin), json!({"is_active": true})).status, 200);
        assert_eq!(login_status(&app, "spam", PASSWORD), 200);
    }

    fn password_reset_walk(backend) {
        let app = TestApp::spawn(&backend);
        let alice = app.register("alice")["id"].as_i64().unwrap();
        let (first_access, first_refresh) = app.login("alice", PASSWORD);
        let (second_access, _) = app.login("alice", PASSWORD);

        // Réinitialisation: 204 for a known and an unknown address alike.
        for email in ["alice@example.com", "nobody@example.com"] {
            let reply = app.post("/auth/users/reset_password/", None, json!({"email": email}));
            assert_eq!((reply.status, reply.text.as_str()), (204, ""), "{email}");
        }
        let mail = nth_mail(&outbox_of(&app), "alice@example.com", 1);
        assert_eq!(mail.subject(), "Reset your Sesame password");
        let (uid, token) = mail.uid_token(PASSWORD_RESET);

        let confirm = |password: &str, again: &str| {
            app.post("/auth/users/reset_password_confirm/", None, json!({
                "uid": uid, "token": token, "new_password": password, "re_new_password": again,
            }))
        };
        let mismatch = confirm(NEW_PASSWORD, "something-else-77");
        assert_eq!(mismatch.status, 400);
        assert_eq!(mismatch.json, json!({"non_field_errors": ["The two password fields didn't match."]}));
        let weak = confirm("password", "password");
        assert_eq!(weak.status, 400);
        assert_eq!(weak.json, json!({"new_password": ["This password is too common."]}));
        let short = confirm("aB3$", "aB3$");
        assert_eq!(short.status, 400);
        assert!(short.json["new_password"][0].as_str().unwrap().contains("too short"));

        // Confirmation: 204; every session of the account ends.
        let done = confirm(NEW_PASSWORD, NEW_PASSWORD);
        assert_eq!(done.status, 204, "{}", done.text);
        assert_eq!(app.get("/auth/users/me/", Some(&first_access)).status, 401);
        assert_eq!(app.get("/auth/users/me/", Some(&second_access)).status, 401);
        assert_eq!(app.post("/auth/jwt/refresh/", None, json!({"refresh": first_refresh})).status, 401);
        assert_eq!(login_status(&app, "alice", PASSWORD), 401);
        assert_eq!(login_status(&app, "alice", NEW_PASSWORD), 200);

        // Single use.
        let reused = confirm("Yet-another-pass-93", "Yet-another-pass-93");
        assert_eq!(reused.status, 400);
        assert_eq!(reused.json, json!({"token": ["Invalid token for given user."]}));
        assert_eq!(login_status(&app, "alice", NEW_PASSWORD), 200);

        // Audited once, for the account, from the caller's address.
        let admin = app.admin_token("boss");
        let audit = app.get("/auth/audit/?kind=password_reset", Some(&admin)).json;
        let entries = audit.as_array().unwrap();
        assert_eq!(entries.len(), 1, "{audit}");
        assert_eq!(entries[0]["user_id"], alice);
        assert_eq!(entries[0]["ip"], "127.0.0.1");

        // The unknown address got nothing.
        settle();
        assert_eq!(outbox(&outbox_of(&app)).len(), 1);
    }

    fn a_password_change_kills_reset_links(backend) {
        let app = TestApp::spawn(&backend);
        let access = app.user_with_token("alice");
        app.post("/auth/users/reset_password/", None, json!({"email": "alice@example.com"}));
        let (uid, token) = nth_mail(&outbox_of(&app), "alice@example.com", 1).uid_token(PASSWORD_RESET);

        let changed = app.post("/auth/users/set_password/", Some(&access), json!({
            "current_password": PASSWORD, "new_password": NEW_PASSWORD, "re_new_password": NEW_PASSWORD,
        }));
        assert_eq!(changed.status, 204);
        let reply = app.post("/auth/users/reset_password_confirm/", None, json!({
            "uid": uid, "token": token, "new_password": "Yet-another-pass-93", "re_new_password": "Yet-another-pass-93",
        }));
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json, json!({"token": ["Invalid token for given user."]}));
        assert_eq!(login_status(&app, "alice", NEW_PASSWORD), 200);
    }

    fn reset_links_expire(backend) {
        let app = TestApp::spawn_with(&backend, |c| c.accounts.password_reset_ttl_seconds = 1);
        app.register("alice");
        app.post("/auth/users/reset_password/", None, json!({"email": "alice@example.com"}));
        let mail = nth_mail(&outbox_of(&app), "alice@example.com", 1);
        assert!(mail.body.contains("expires in 1 second"));
        let (uid, token) = mail.uid_token(PASSWORD_RESET);
        thread::sleep(Duration::from_millis(1100));
        let reply = app.post("/auth/users/reset_password_confirm/", None, json!({
            "uid": uid, "token": token, "new_password": NEW_PASSWORD, "re_new_password": NEW_PASSWORD,
        }));
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json, json!({"token": ["Invalid token for given user."]}));
        assert_eq!(login_status(&app, "alice", PASSWORD), 200);
    }

    fn username_reset_walk(backend) {
        let app = TestApp::spawn(&backend);
        app.register("alice");
        app.register("bob");
        let reply = app.post("/auth/users/reset_username/", None, json!({"email": "alice@example.com"}));
        assert_eq!((reply.status, reply.text.as_str()), (204, ""));
        assert_eq!(app.post("/auth/users/reset_username/", None, json!({"email": "ghost@example.com"})).status, 204);
        let mail = nth_mail(&outbox_of(&app), "alice@example.com", 1);
        assert_eq!(mail.subject(), "Reset your Sesame username");
        let (uid, token) = mail.uid_token(USERNAME_RESET);

        let confirm = |body: serde_json::Value| app.post("/auth/users/reset_username_confirm/", None, body);
        let taken = confirm(json!({"uid": uid, "token": token, "new_username": "BOB"}));
        assert_eq!(taken.status, 400);
        assert_eq!(taken.json, json!({"new_username": ["A user with that username already exists."]}));
        let mismatch = confirm(json!({"uid": uid, "token": token, "new_username": "alicia", "re_new_username": "alicio"}));
        assert_eq!(mismatch.status, 400);
        assert_eq!(mismatch.json, json!({"non_field_errors": ["The two username fields didn't match."]}));
        let missing = confirm(json!({"uid": uid, "token": token}));
        assert_eq!(missing.json, json!({"new_username": ["This field is required."]}));

        let done = confirm(json!({"uid": uid, "token": token, "new_username": "alicia", "re_new_username": "alicia"}));
        assert_eq!(done.status, 204, "{}", done.text);
        assert_eq!(login_status(&app, "alicia", PASSWORD), 200);
        assert_eq!(login_status(&app, "alice", PASSWORD), 401);
        let reused = confirm(json!({"uid": uid, "token": token, "new_username": "alicia2"}));
        assert_eq!(reused.json, json!({"token": ["Invalid token for given user."]}));

        settle();
        assert_eq!(outbox(&outbox_of(&app)).len(), 1);
    }

    fn links_come_from_the_configured_templates(backend) {
        let app = TestApp::spawn_with(&backend, |c| {
            c.accounts.require_activation = true;
            c.mail.activation_url = Some("https://app.example.org/#/activate?u={uid}&t={token}".into());
            c.mail.from = "Accounts <accounts@example.org>".into();
        });
        let reply = app.post("/auth/users/", None, json!({
            "username": "alice", "email": "alice@example.com",
            "password": PASSWORD, "re_password": PASSWORD,
        }));
        let id = reply.json["id"].as_i64().unwrap();
        let mail = nth_mail(&outbox_of(&app), "alice@example.com", 1);
        assert_eq!(mail.header("From").unwrap(), "Accounts <accounts@example.org>");
        let link = mail.link("https://app.example.org/#/activate?u=");
        let query = link.split_once('?').unwrap().1;
        let (u, t) = query.split_once('&').unwrap();
        assert_eq!(u, format!("u={}", uid_of(id)));
        let token = t.strip_prefix("t=").unwrap();
        assert_eq!(app.post("/auth/users/activation/", None, json!({"uid": uid_of(id), "token": token})).status, 204);
    }

    fn without_required_activation_registration_sends_nothing(backend) {
        let app = TestApp::spawn(&backend);
        assert_eq!(app.register("alice")["is_active"], true);
        assert_eq!(app.post("/auth/users/resend_activation/", None, json!({"email": "alice@example.com"})).status, 204);
        settle();
        assert!(outbox(&outbox_of(&app)).is_empty());
        // Accounts from other surfaces too.
        assert_eq!(app.post("/register", None, json!({"username": "bob", "email": "bob@example.com", "password": PASSWORD})).status, 200);
        settle();
        assert!(outbox(&outbox_of(&app)).is_empty());
    }
}
