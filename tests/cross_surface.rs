//! One model under every surface (issue 7, point 5), black-box over HTTP on
//! both backends: a user made on any surface logs in on every other; a token
//! from any login route is accepted by every protected route; logout on one
//! surface kills that token on all; switched-off surfaces answer 404.

mod common;

use common::{Body, Reply, TestApp, PASSWORD};
use serde_json::json;

const FORM: &str = "application/x-www-form-urlencoded";

/// Creates `username` through `surface`; returns the answer.
fn create_on(app: &TestApp, surface: &str, username: &str) -> Reply {
    let email = format!("{username}@example.com");
    let reply = match surface {
        "primary" => app.post("/auth/users/", None, json!({
            "username": username, "email": email, "password": PASSWORD, "re_password": PASSWORD,
        })),
        "events_messages" => app.post("/register", None, json!({"username": username, "email": email, "password": PASSWORD})),
        "token_form" => app.post("/auth/", None, json!({"username": username, "password": PASSWORD})),
        "opaque" => app.post("/auth/register", None, json!({"username": username, "password": PASSWORD})),
        "cookie_refresh" => app.post("/auth/signup", None, json!({
            "firstname": "F", "lastname": "L", "email": email, "username": username, "password": PASSWORD,
        })),
        other => unreachable!("{other}"),
    };
    assert!(
        matches!(reply.status, 200 | 201),
        "{surface}: {}",
        reply.text
    );
    reply
}

/// Logs `username` in through every login route; returns (route, token).
/// The opaque surface has no login route that hands out a token: its
/// credential check is re-authenticate.
fn login_everywhere(app: &TestApp, username: &str) -> Vec<(&'static str, String)> {
    let mut tokens = Vec::new();
    let jwt = app.post(
        "/auth/jwt/create/",
        None,
        json!({"username": username, "password": PASSWORD}),
    );
    assert_eq!(jwt.status, 200, "jwt/create {username}: {}", jwt.text);
    tokens.push(("/auth/jwt/create/", jwt.str("access")));
    let login = app.post(
        "/login",
        None,
        json!({"email": username, "password": PASSWORD}),
    );
    assert_eq!(login.status, 200, "/login {username}: {}", login.text);
    tokens.push(("/login", login.str("access_token")));
    let form = app.request(
        "POST",
        "/auth/token",
        None,
        Body::Raw(
            FORM,
            format!(
                "username={username}&password={}",
                PASSWORD.replace('!', "%21")
            ),
        ),
    );
    assert_eq!(form.status, 200, "/auth/token {username}: {}", form.text);
    tokens.push(("/auth/token", form.str("access_token")));
    let cookie = app.post(
        "/auth/login",
        None,
        json!({"login": username, "password": PASSWORD}),
    );
    assert_eq!(
        cookie.status, 200,
        "/auth/login {username}: {}",
        cookie.text
    );
    tokens.push(("/auth/login", cookie.str("token")));
    let again = app.post(
        "/auth/re-authenticate",
        None,
        json!({"username": username, "password": PASSWORD}),
    );
    assert_eq!(
        again.status, 200,
        "/auth/re-authenticate {username}: {}",
        again.text
    );
    tokens
}

/// Asserts that `token` proves `username` on the protected routes of the
/// primary, events_messages and token_form surfaces.
fn accepted_everywhere(app: &TestApp, token: &str, username: &str, origin: &str) {
    let primary = app.get("/auth/users/me/", Some(token));
    assert_eq!(
        primary.status, 200,
        "{origin} on /auth/users/me/: {}",
        primary.text
    );
    assert_eq!(primary.json["username"], username);
    let fastapi = app.get("/auth/me", Some(token));
    assert_eq!(
        fastapi.status, 200,
        "{origin} on /auth/me: {}",
        fastapi.text
    );
    assert_eq!(fastapi.json["username"], username);
    let root = app.get("/", Some(token));
    assert_eq!(root.status, 200, "{origin} on /: {}", root.text);
    assert_eq!(root.json["User"]["username"], username);
    assert_eq!(
        app.get("/users/", Some(token)).status,
        200,
        "{origin} on /users/"
    );
}

fn refused_everywhere(app: &TestApp, token: &str, origin: &str) {
    for path in [
        "/auth/users/me/",
        "/auth/me",
        "/",
        "/users/",
        "/auth/users/",
        "/auth/sessions/",
    ] {
        let reply = app.get(path, Some(token));
        if path == "/auth/sessions/" && reply.status == 404 {
            continue; // not served yet
        }
        assert_eq!(
            reply.status, 401,
            "{origin} on {path} after logout: {}",
            reply.text
        );
    }
    assert_eq!(
        app.post("/auth/logout", Some(token), json!({})).status,
        401,
        "{origin}: logout twice"
    );
}

const SURFACES: [&str; 5] = [
    "primary",
    "events_messages",
    "token_form",
    "opaque",
    "cookie_refresh",
];

backend_tests! {
    fn a_user_made_anywhere_logs_in_everywhere(backend) {
        let app = TestApp::spawn(&backend);
        for surface in SURFACES {
            let username = format!("from_{surface}");
            create_on(&app, surface, &username);
            for (route, token) in login_everywhere(&app, &username) {
                accepted_everywhere(&app, &token, &username, &format!("{surface} user via {route}"));
            }
            // By email too, where the surface took one.
            if !matches!(surface, "token_form" | "opaque") {
                let email = format!("{username}@example.com");
                assert_eq!(app.post("/login", None, json!({"email": email, "password": PASSWORD})).status, 200);
                assert_eq!(app.post("/auth/login", None, json!({"login": email, "password": PASSWORD})).status, 200);
                assert_eq!(app.post("/auth/jwt/create/", None, json!({"username": email, "password": PASSWORD})).status, 200);
            }
        }
        // One identity: a name taken on one surface is taken on all.
        create_on(&app, "primary", "shared");
        assert_eq!(app.post("/auth/", None, json!({"username": "SHARED", "password": PASSWORD})).status, 400);
        assert_eq!(app.post("/auth/register", None, json!({"username": "shared", "password": PASSWORD})).status, 400);
        assert_eq!(app.post("/register", None, json!({"username": "x1", "email": "shared@example.com", "password": PASSWORD})).status, 400);
        assert_eq!(app.post("/auth/signup", None, json!({"email": "y@example.com", "username": "Shared", "password": PASSWORD})).status, 409);
    }

    fn every_login_routes_token_is_accepted_and_dies_at_logout(backend) {
        let app = TestApp::spawn(&backend);
        let opaque = create_on(&app, "opaque", "walker").str("token");
        let mut tokens = login_everywhere(&app, "walker");
        tokens.push(("/auth/register", opaque));
        let primary_refresh = app.login("walker", PASSWORD).1;
        for (route, token) in &tokens {
            accepted_everywhere(&app, token, "walker", route);
        }
        // Logging out one session on the events_messages surface kills that
        // token on every surface, and only that one.
        for (index, (route, token)) in tokens.iter().enumerate() {
            let out = app.post("/auth/logout", Some(token), json!({}));
            assert_eq!(out.status, 200, "{route}: {}", out.text);
            refused_everywhere(&app, token, route);
            for (other_route, other) in &tokens[index + 1..] {
                accepted_everywhere(&app, other, "walker", &format!("{other_route} after logging out {route}"));
            }
        }
        let opaque_token = &tokens.last().unwrap().1;
        assert_eq!(app.get(&format!("/auth/validate/{opaque_token}"), None).status, 401);
        // The untouched session's refresh token still works.
        assert_eq!(app.post("/auth/jwt/refresh/", None, json!({"refresh": primary_refresh})).status, 200);
    }

    fn switched_off_surfaces_answer_404(backend) {
        let app = TestApp::spawn_with(&backend, |config| config.http.surfaces = vec!["primary".into()]);
        let token = app.user_with_token("alone");
        let off = [
            app.post("/auth/token", None, json!({"username": "alone", "password": PASSWORD})),
            app.request("POST", "/auth/token", None, Body::Raw(FORM, "username=alone&password=x".into())),
            app.post("/auth/", None, json!({"username": "other", "password": PASSWORD})),
            app.get("/", Some(&token)),
            app.post("/login", None, json!({"email": "alone@example.com", "password": PASSWORD})),
            app.post("/register", None, json!({"username": "o", "email": "o@example.com", "password": PASSWORD})),
            app.get("/auth/me", Some(&token)),
            app.post("/auth/logout", Some(&token), json!({})),
            app.get("/users/", Some(&token)),
            app.post("/auth/register", None, json!({"username": "other", "password": PASSWORD})),
            app.get("/auth/get/alone", None),
            app.get("/auth/validate/abc", None),
            app.post("/auth/re-authenticate", None, json!({"username": "alone", "password": PASSWORD})),
            app.post("/auth/signup", None, json!({"email": "s@example.com", "username": "s", "password": PASSWORD})),
            app.post("/auth/login", None, json!({"login": "alone", "password": PASSWORD})),
            app.post("/auth/refresh", None, json!({})),
        ];
        for reply in off {
            assert_eq!(reply.status, 404, "{}", reply.text);
        }
        let users = app.get("/auth/users/", Some(&token));
        assert_eq!(users.status, 200, "{}", users.text);
        assert_eq!(users.json[0]["username"], "alone");
        assert_eq!(app.get("/auth/users/me/", Some(&token)).status, 200, "the token still works");
        assert_eq!(app.get("/auth/get/other", None).status, 404);
    }

    fn one_surface_alone_serves_only_itself(backend) {
        let app = TestApp::spawn_with(&backend, |config| config.http.surfaces = vec!["opaque".into()]);
        let reply = app.post("/auth/register", None, json!({"username": "solo", "password": PASSWORD}));
        assert_eq!(reply.status, 200, "{}", reply.text);
        let token = reply.str("token");
        assert_eq!(app.get(&format!("/auth/validate/{token}"), None).text, "solo");
        assert_eq!(app.get("/auth/users/me/", Some(&token)).status, 404);
        assert_eq!(app.post("/auth/jwt/create/", None, json!({"username": "solo", "password": PASSWORD})).status, 404);
        assert_eq!(app.get("/", Some(&token)).status, 404);
    }

    fn long_passwords_are_never_truncated(backend) {
        let app = TestApp::spawn(&backend);
        let long = format!("{}-{}", "Lw9!".repeat(20), "tail");
        let cut: String = long.chars().take(72).collect();
        let reply = app.post("/auth/register", None, json!({"username": "longpass", "password": long}));
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(app.post("/auth/re-authenticate", None, json!({"username": "longpass", "password": long})).status, 200);
        for (route, body) in [
            ("/auth/re-authenticate", json!({"username": "longpass", "password": cut})),
            ("/auth/token", json!({"username": "longpass", "password": cut})),
            ("/login", json!({"email": "longpass", "password": cut})),
            ("/auth/login", json!({"login": "longpass", "password": cut})),
            ("/auth/jwt/create/", json!({"username": "longpass", "password": cut})),
        ] {
            assert_eq!(app.post(route, None, body).status, 401, "{route} took the first 72 bytes");
        }
        assert_eq!(app.post("/auth/token", None, json!({"username": "longpass", "password": long})).status, 200);
        let too_long = app.post("/auth/", None, json!({"username": "toolong", "password": "Lw9!".repeat(33)}));
        assert_eq!(too_long.status, 422, "{}", too_long.text);
    }

    fn no_response_body_contains_the_password(backend) {
        let app = TestApp::spawn(&backend);
        let mut replies = Vec::new();
        for surface in SURFACES {
            let username = format!("quiet_{surface}");
            replies.push(create_on(&app, surface, &username));
            // Taken now: the error answers must not echo the password either.
            replies.push(app.post("/auth/users/", None, json!({"username": username, "email": format!("{username}@example.com"), "password": PASSWORD, "re_password": PASSWORD})));
            replies.push(app.post("/register", None, json!({"username": username, "email": format!("{username}@example.com"), "password": PASSWORD})));
            replies.push(app.post("/auth/", None, json!({"username": username, "password": PASSWORD})));
            replies.push(app.post("/auth/register", None, json!({"username": username, "password": PASSWORD})));
            replies.push(app.post("/auth/signup", None, json!({"email": format!("{username}@example.com"), "username": username, "password": PASSWORD})));
            for wrong in [format!("{PASSWORD}!"), PASSWORD.to_owned()] {
                replies.push(app.post("/auth/jwt/create/", None, json!({"username": username, "password": wrong})));
                replies.push(app.post("/login", None, json!({"email": username, "password": wrong})));
                replies.push(app.post("/auth/token", None, json!({"username": username, "password": wrong})));
                replies.push(app.post("/auth/login", None, json!({"login": username, "password": wrong})));
                replies.push(app.post("/auth/re-authenticate", None, json!({"username": username, "password": wrong})));
            }
            replies.push(app.get(&format!("/auth/get/{username}"), None));
            let token = app.post("/login", None, json!({"email": username, "password": PASSWORD})).str("access_token");
            replies.push(app.get("/auth/me", Some(&token)));
            replies.push(app.get("/auth/users/me/", Some(&token)));
            replies.push(app.get("/", Some(&token)));
            replies.push(app.get("/users/", Some(&token)));
        }
        // Bad input that carries the password.
        replies.push(app.post("/auth/register", None, json!({"username": "bad name", "password": PASSWORD})));
        replies.push(app.post("/auth/signup", None, json!({"email": "nope", "username": "x", "password": PASSWORD})));
        replies.push(app.post("/register", None, json!({"username": "x", "email": "nope", "password": PASSWORD})));
        replies.push(app.post("/auth/", None, json!({"username": "bad name", "password": PASSWORD})));
        for reply in replies {
            assert!(!reply.text.contains(PASSWORD), "password leaked: {}", reply.text);
            assert!(!reply.text.contains("$2b$") && !reply.text.contains("$2y$"), "hash leaked: {}", reply.text);
            assert!(!reply.text.contains("password_hash"), "hash field leaked: {}", reply.text);
        }
    }
}
