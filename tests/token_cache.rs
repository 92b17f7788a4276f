//! Checked tokens are answered from memory (issue 9), and nothing a client
//! can see tells: every change to an account or a session is seen by the very
//! next request, on this instance and, on PostgreSQL, on every other one.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp, PASSWORD};
use serde_json::json;

/// Registers on the opaque surface; returns its opaque token.
fn opaque_user(app: &TestApp, username: &str) -> String {
    let reply = app.post(
        "/auth/register",
        None,
        json!({"username": username, "password": PASSWORD}),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.str("token")
}

backend_tests! {
    fn profile_changes_show_on_the_next_request(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("cached_ada");
        for _ in 0..3 {
            assert_eq!(app.get("/auth/users/me/", Some(&token)).json["first_name"], "");
        }
        let patched = app.patch("/auth/users/me/", Some(&token), json!({"first_name": "Ada"}));
        assert_eq!(patched.status, 200, "{}", patched.text);
        assert_eq!(app.get("/auth/users/me/", Some(&token)).json["first_name"], "Ada");
        let renamed = app.post(
            "/auth/users/set_username/",
            Some(&token),
            json!({"current_password": PASSWORD, "new_username": "cached_lovelace"}),
        );
        assert_eq!(renamed.status, 204, "{}", renamed.text);
        assert_eq!(app.get("/auth/users/me/", Some(&token)).json["username"], "cached_lovelace");
    }

    fn every_revocation_fails_a_cached_token_at_once(backend) {
        let app = TestApp::spawn(&backend);
        let opaque = opaque_user(&app, "cached_bob");
        let (token, _) = app.login("cached_bob", PASSWORD);
        let (other, _) = app.login("cached_bob", PASSWORD);
        for token in [&token, &other] {
            assert_eq!(app.get("/auth/users/me/", Some(token)).status, 200);
        }
        assert_eq!(app.get("/auth/me", Some(&opaque)).status, 200);

        let changed = app.post(
            "/auth/users/set_password/",
            Some(&token),
            json!({
                "current_password": PASSWORD,
                "new_password": "Fresh!horse-battery9",
                "re_new_password": "Fresh!horse-battery9",
            }),
        );
        assert_eq!(changed.status, 204, "{}", changed.text);
        assert_eq!(app.get("/auth/users/me/", Some(&other)).status, 401);
        assert_eq!(app.get("/auth/me", Some(&opaque)).status, 401);
        let out = app.post("/auth/logout/all/", Some(&token), json!({}));
        assert!(out.status < 300, "{}", out.text);
        assert_eq!(app.get("/auth/users/me/", Some(&token)).status, 401);
    }

    fn an_administrator_deleting_an_account_fails_its_cached_token(backend) {
        let app = TestApp::spawn(&backend);
        let admin = app.admin_token("cached_admin");
        let token = app.user_with_token("cached_carol");
        let me = app.get("/auth/users/me/", Some(&token));
        assert_eq!(me.status, 200);
        let path = format!("/auth/users/{}/", me.json["id"]);
        let deleted = app.delete(&path, Some(&admin), json!({"current_password": PASSWORD}));
        assert_eq!(deleted.status, 204, "{}", deleted.text);
        assert_eq!(app.get("/auth/users/me/", Some(&token)).status, 401);
    }

    fn an_opaque_logout_fails_the_cached_token_at_once(backend) {
        let app = TestApp::spawn(&backend);
        let opaque = opaque_user(&app, "cached_dan");
        assert_eq!(app.get("/auth/me", Some(&opaque)).status, 200);
        assert_eq!(app.get("/auth/users/me/", Some(&opaque)).status, 200);
        let out = app.post("/auth/logout", Some(&opaque), json!({}));
        assert!(out.status < 300, "{}", out.text);
        assert_eq!(app.get("/auth/me", Some(&opaque)).status, 401);
        assert_eq!(app.get("/auth/users/me/", Some(&opaque)).status, 401);
    }
}

/// Polls `path` on `app` with `token` until it answers `status`; returns how
/// long that took.
fn until_status(app: &TestApp, path: &str, token: &str, status: u16) -> Duration {
    let started = Instant::now();
    loop {
        let reply = app.get(path, Some(token));
        if reply.status == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path} still answers {} after 5 s",
            reply.status
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn postgres_changes_on_one_instance_reach_the_cache_of_another() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let first = TestApp::spawn(&backend);
    let second = first.spawn_beside();
    let opaque = opaque_user(&first, "cached_erin");
    let (token, _) = first.login("cached_erin", PASSWORD);
    // The second instance has checked both tokens and keeps them in memory.
    for _ in 0..3 {
        assert_eq!(second.get("/auth/users/me/", Some(&token)).status, 200);
        assert_eq!(second.get("/auth/me", Some(&opaque)).status, 200);
    }

    let patched = first.patch(
        "/auth/users/me/",
        Some(&token),
        json!({"last_name": "Moss"}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    let started = Instant::now();
    loop {
        let me = second.get("/auth/users/me/", Some(&token));
        if me.json["last_name"] == "Moss" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{}", me.text);
        std::thread::sleep(Duration::from_millis(2));
    }

    let out = first.post("/auth/logout", Some(&opaque), json!({}));
    assert!(out.status < 300, "{}", out.text);
    let opaque_seen = until_status(&second, "/auth/me", &opaque, 401);
    let out = first.post("/auth/logout/all/", Some(&token), json!({}));
    assert!(out.status < 300, "{}", out.text);
    let jwt_seen = until_status(&second, "/auth/users/me/", &token, 401);
    eprintln!("revocations seen by the other instance after {opaque_seen:?} (opaque) and {jwt_seen:?} (JWT)");
    assert!(opaque_seen < Duration::from_secs(1) && jwt_seen < Duration::from_secs(1));
}
