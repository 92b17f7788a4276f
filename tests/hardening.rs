//! Rate limits and security headers, black-box.

mod common;

use common::{Backend, TestApp, PASSWORD};
use serde_json::json;

fn limited(adjust: impl FnOnce(&mut sesame_server::Config)) -> TestApp {
    TestApp::spawn_with(&Backend::Sqlite, |config| {
        config.rate_limit.enabled = true;
        adjust(config);
    })
}

#[test]
fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn(&Backend::Sqlite);
    for reply in [
        app.get("/healthz", None),
        app.get("/auth/users/me/", None),
        app.get("/nowhere", None),
    ] {
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(reply.header("x-frame-options"), Some("DENY"));
        assert_eq!(reply.header("referrer-policy"), Some("strict-origin"));
        assert_eq!(
            reply.header("content-security-policy"),
            Some("frame-ancestors 'none'")
        );
        assert_eq!(reply.header("strict-transport-security"), None);
        assert_eq!(reply.header("cache-control"), Some("no-store"));
    }
    let token = app.post(
        "/auth/jwt/create/",
        None,
        json!({"username": "x", "password": "y"}),
    );
    assert_eq!(token.header("cache-control"), Some("no-store"));
    // What may be kept says so.
    let keys = app.get("/.well-known/jwks.json", None);
    assert_eq!(keys.header("cache-control"), Some("public, max-age=300"));
    let behind_tls = TestApp::spawn_with(&Backend::Sqlite, |c| c.http.hsts_seconds = 31_536_000);
    assert_eq!(
        behind_tls
            .get("/healthz", None)
            .header("strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
}

#[test]
fn credential_routes_are_limited_per_ip_in_each_surface_shape() {
    let app = limited(|c| {
        c.rate_limit.per_ip_burst = 3;
        c.rate_limit.per_ip_per_minute = 1;
    });
    let body = json!({"username": "nobody", "password": "wrong-password-1"});
    for _ in 0..3 {
        assert_eq!(
            app.post("/auth/jwt/create/", None, body.clone()).status,
            401
        );
    }
    let refused = app.post("/auth/jwt/create/", None, body.clone());
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json["code"], "throttled");
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let fastapi = app.post(
        "/login",
        None,
        json!({"email": "x@example.com", "password": "y"}),
    );
    assert_eq!(fastapi.status, 429);
    assert!(fastapi.json["detail"].is_string());
    let opaque = app.post(
        "/auth/register",
        None,
        json!({"username": "u", "password": PASSWORD}),
    );
    assert_eq!(opaque.status, 429);
    assert!(opaque.json["Erreur"].is_string());
    // Other routes are not counted.
    assert_eq!(app.get("/healthz", None).status, 200);
}

#[test]
fn repeated_failed_logins_lock_that_account_only() {
    let app = limited(|c| c.rate_limit.failed_logins_per_account = 2);
    app.register("target");
    app.register("bystander");
    // Two failures are allowed; the third locks, and is answered as locked.
    for expected in [401, 401, 429] {
        let wrong = app.post(
            "/auth/jwt/create/",
            None,
            json!({"username": "target", "password": "not-the-password"}),
        );
        assert_eq!(wrong.status, expected);
    }
    let locked = app.post(
        "/auth/jwt/create/",
        None,
        json!({"username": "TARGET", "password": PASSWORD}),
    );
    assert_eq!(locked.status, 429, "{}", locked.text);
    assert!(locked.header("retry-after").is_some());
    let other_surface = app.post(
        "/auth/token",
        None,
        json!({"username": "target", "password": PASSWORD}),
    );
    assert_eq!(other_surface.status, 429);
    app.login("bystander", PASSWORD);
}

#[test]
fn guessing_the_current_password_with_a_token_locks_the_account() {
    // A stolen token is no better at guessing the password than the login
    // form: wrong current passwords, on every route that asks for one,
    // count as failed logins of the account, and a locked account confirms
    // nothing, its right password included.
    let app = limited(|c| c.rate_limit.failed_logins_per_account = 2);
    let token = app.user_with_token("target");
    let bystander = app.user_with_token("bystander");
    let guesses = [
        (
            "POST",
            "/auth/users/set_password/",
            json!({"current_password": "guess-1", "new_password": "Fresh-Pass-9!", "re_new_password": "Fresh-Pass-9!"}),
        ),
        (
            "POST",
            "/auth/passkeys/register/begin/",
            json!({"current_password": "guess-2"}),
        ),
        (
            "DELETE",
            "/auth/users/me/",
            json!({"current_password": "guess-3"}),
        ),
    ];
    // The third wrong one locks the account, and is answered as locked.
    for (index, (method, path, body)) in guesses.into_iter().enumerate() {
        let wrong = app.request(method, path, Some(&token), common::Body::Json(body));
        if index == 2 {
            assert_eq!(wrong.status, 429, "{path}: {}", wrong.text);
            continue;
        }
        assert_eq!(wrong.status, 400, "{path}: {}", wrong.text);
        assert_eq!(
            wrong.json["current_password"],
            json!(["Invalid password."]),
            "{path}"
        );
    }
    let right = json!({"current_password": PASSWORD});
    let locked = app.post(
        "/auth/passkeys/register/begin/",
        Some(&token),
        right.clone(),
    );
    assert_eq!(locked.status, 429, "{}", locked.text);
    assert_eq!(locked.json["code"], "throttled");
    assert!(locked.header("retry-after").is_some());
    let removal = app.delete("/auth/passkeys/x/", Some(&token), right.clone());
    assert_eq!(removal.status, 429, "{}", removal.text);
    let login = app.post(
        "/auth/jwt/create/",
        None,
        json!({"username": "target", "password": PASSWORD}),
    );
    assert_eq!(login.status, 429, "{}", login.text);
    // Nothing changed, and other accounts are not held back.
    assert_eq!(app.get("/auth/users/me/", Some(&token)).status, 200);
    let theirs = app.post("/auth/passkeys/register/begin/", Some(&bystander), right);
    assert_eq!(theirs.status, 200, "{}", theirs.text);
}

#[test]
fn message_sending_is_limited_per_user() {
    let app = limited(|c| c.rate_limit.messages_per_minute = 2);
    let alice = app.user_with_token("alice");
    let bob = app.user_with_token("bob");
    let bob_id = app.get("/auth/me", Some(&bob)).json["id"].clone();
    for _ in 0..2 {
        assert_eq!(
            app.post(
                "/messages/",
                Some(&alice),
                json!({"content": "hi", "receiver_id": bob_id})
            )
            .status,
            200
        );
    }
    let refused = app.post(
        "/messages/",
        Some(&alice),
        json!({"content": "hi", "receiver_id": bob_id}),
    );
    assert_eq!(refused.status, 429);
    assert!(refused.header("retry-after").is_some());
    assert_eq!(
        app.get("/messages/received", Some(&bob))
            .json
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn event_creation_is_limited_per_user() {
    // Every public search scans the events' titles: one account must not
    // grow the table without bound.
    let app = limited(|c| c.rate_limit.events_per_minute = 2);
    let alice = app.user_with_token("alice");
    let bob = app.user_with_token("bob");
    let event = |title: &str| json!({"title": title, "description": "d", "date": "2031-05-01T10:00:00Z", "location": "Lyon"});
    for title in ["One", "Two"] {
        let created = app.post("/events/", Some(&alice), event(title));
        assert_eq!(created.status, 200, "{}", created.text);
    }
    let refused = app.post("/events/", Some(&alice), event("Three"));
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert!(refused.header("retry-after").is_some());
    assert_eq!(refused.json["detail"], "Too many events. Try again later.");
    assert_eq!(app.post("/events/", Some(&bob), event("Bob's")).status, 200);
    assert_eq!(app.get("/events/", None).json.as_array().unwrap().len(), 3);
}

#[test]
fn cors_answers_only_allowed_origins() {
    let app = TestApp::spawn_with(&Backend::Sqlite, |c| {
        c.http.cors_allowed_origins = vec!["https://app.example.com".into()];
    });
    let preflight = |origin: &str| {
        app.request_with_headers(
            "OPTIONS",
            "/auth/jwt/create/",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
            common::Body::None,
        )
    };
    let allowed = preflight("https://app.example.com");
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        allowed.header("access-control-allow-credentials"),
        Some("true")
    );
    let refused = preflight("https://evil.example.com");
    assert_ne!(
        refused.header("access-control-allow-origin"),
        Some("https://evil.example.com")
    );
    let simple = app.request_with_headers(
        "GET",
        "/healthz",
        &[("Origin", "https://evil.example.com")],
        common::Body::None,
    );
    assert_eq!(simple.header("access-control-allow-origin"), None);

    let closed = TestApp::spawn(&Backend::Sqlite);
    let reply = closed.request_with_headers(
        "GET",
        "/healthz",
        &[("Origin", "https://app.example.com")],
        common::Body::None,
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("access-control-allow-origin"), None);
}
