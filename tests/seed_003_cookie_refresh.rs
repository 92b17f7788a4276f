//! Seed 003 (surface `cookie_refresh`: access JWT in the body, refresh token
//! in an HttpOnly cookie) walked in the document's order, black-box over
//! HTTP, on both backends: Auth/Create User (POST /auth/signup), Auth/Login
//! (POST /auth/login), Auth/Refresh Token (POST /auth/refresh).

mod common;

use common::{Body, Reply, TestApp, PASSWORD};
use serde_json::{json, Value};

const TAKEN: &str = "Username or email already taken";
const INCORRECT: &str = "Username or password is incorrect";

fn signup(app: &TestApp, username: &str, email: &str) -> Reply {
    app.post(
        "/auth/signup",
        None,
        json!({
            "firstname": "John", "lastname": "Doe",
            "email": email, "username": username, "password": PASSWORD,
        }),
    )
}

fn login(app: &TestApp, login: &str) -> Reply {
    let reply = app.post(
        "/auth/login",
        None,
        json!({"login": login, "password": PASSWORD}),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
}

/// POST /auth/refresh carrying `cookie` as the browser would.
fn refresh(app: &TestApp, cookie: Option<&str>) -> Reply {
    let header = cookie.map(|value| format!("refresh_token={value}"));
    let headers: Vec<(&str, &str)> = header
        .as_deref()
        .map(|value| ("Cookie", value))
        .into_iter()
        .collect();
    app.request_with_headers("POST", "/auth/refresh", &headers, Body::None)
}

/// Checks the refresh cookie's attributes and returns its value.
fn refresh_cookie(reply: &Reply, secure: bool) -> String {
    let header = reply
        .set_cookie("refresh_token")
        .unwrap_or_else(|| panic!("no refresh cookie in {:?}", reply.headers));
    let attributes: Vec<String> = header
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for wanted in ["httponly", "samesite=strict", "path=/auth/refresh"] {
        assert!(
            attributes.iter().any(|a| a == wanted),
            "{wanted} missing: {header}"
        );
    }
    assert_eq!(attributes.iter().any(|a| a == "secure"), secure, "{header}");
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain=")),
        "{header}"
    );
    let value = reply.cookie("refresh_token").unwrap();
    assert!(!value.is_empty(), "{header}");
    value
}

const BINDING: &str = "__Host-refresh_binding";

/// Checks the binding cookie of a reply with Secure cookies and returns its value.
fn binding_cookie(reply: &Reply) -> String {
    let header = reply
        .set_cookie(BINDING)
        .unwrap_or_else(|| panic!("no binding cookie in {:?}", reply.headers));
    let attributes: Vec<String> = (header.split(';').skip(1))
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for wanted in ["httponly", "samesite=strict", "path=/", "secure"] {
        assert!(
            attributes.iter().any(|a| a == wanted),
            "{wanted} missing: {header}"
        );
    }
    reply.cookie(BINDING).unwrap()
}

fn token(reply: &Reply) -> String {
    assert_eq!(
        reply.json.as_object().map(|o| o.len()),
        Some(1),
        "{}",
        reply.text
    );
    let token = reply.str("token");
    assert_eq!(token.split('.').count(), 3, "an access JWT: {token}");
    token
}

fn me(app: &TestApp, token: &str) -> Value {
    let reply = app.get("/auth/users/me/", Some(token));
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json
}

backend_tests! {
    fn seed_003_walk(backend) {
        let app = TestApp::spawn(&backend);

        // Auth/Create User: 201 {id, firstname, lastname, email, username}.
        let created = signup(&app, "johnDoe", "johndoe@gmail.com");
        assert_eq!(created.status, 201, "{}", created.text);
        let id = created.json["id"].as_i64().expect("an integer id");
        assert_eq!(created.json, json!({
            "id": id, "firstname": "John", "lastname": "Doe",
            "email": "johndoe@gmail.com", "username": "johnDoe",
        }));

        // ... 409 when the username or the email is taken, whatever the case.
        for (username, email) in [
            ("johnDoe", "other@gmail.com"),
            ("JOHNDOE", "other@gmail.com"),
            ("other", "johndoe@gmail.com"),
            ("other", "JohnDoe@Gmail.com"),
        ] {
            let taken = signup(&app, username, email);
            assert_eq!(taken.status, 409, "{}", taken.text);
            assert_eq!(taken.json, json!({"message": TAKEN}));
        }

        // Auth/Login, by username and by email: 200 {"token"} and the refresh cookie.
        let by_username = login(&app, "johnDoe");
        let access = token(&by_username);
        let cookie = refresh_cookie(&by_username, false);
        assert_eq!(me(&app, &access)["id"], id);
        let by_email = login(&app, "JohnDoe@gmail.com");
        assert_eq!(me(&app, &token(&by_email))["id"], id);
        let other_cookie = refresh_cookie(&by_email, false);
        assert_ne!(cookie, other_cookie);
        for key in ["username", "email"] {
            let reply = app.post("/auth/login", None, json!({key: "johnDoe@gmail.com", "password": PASSWORD}));
            assert_eq!(reply.status, 200, "{key}: {}", reply.text);
        }

        // ... 401 "Username or password is incorrect", and no cookie.
        for (login, password) in [("johnDoe", "wrong-password-1"), ("johndoe@gmail.com", "wrong-password-1"), ("nobody", PASSWORD)] {
            let refused = app.post("/auth/login", None, json!({"login": login, "password": password}));
            assert_eq!(refused.status, 401, "{}", refused.text);
            assert_eq!(refused.json, json!({"message": INCORRECT}));
            assert!(refused.set_cookie("refresh_token").is_none(), "{:?}", refused.headers);
        }

        // Auth/Refresh Token: no body, the cookie; a new token and a rotated cookie.
        let refreshed = refresh(&app, Some(&cookie));
        assert_eq!(refreshed.status, 200, "{}", refreshed.text);
        let access2 = token(&refreshed);
        assert_ne!(access2, access);
        let cookie2 = refresh_cookie(&refreshed, false);
        assert_ne!(cookie2, cookie);
        assert_eq!(me(&app, &access2)["id"], id);
        let refreshed = refresh(&app, Some(&cookie2));
        assert_eq!(refreshed.status, 200, "{}", refreshed.text);
        let access3 = token(&refreshed);
        let cookie3 = refresh_cookie(&refreshed, false);

        // ... replaying a used cookie is refused and revokes the whole session.
        let replay = refresh(&app, Some(&cookie));
        assert_eq!(replay.status, 401, "{}", replay.text);
        assert!(replay.json["message"].is_string(), "{}", replay.text);
        assert_eq!(app.get("/auth/users/me/", Some(&access3)).status, 401);
        assert_eq!(app.get("/auth/users/me/", Some(&access)).status, 401);
        assert_eq!(refresh(&app, Some(&cookie3)).status, 401);
        // The other session (the login by email) lives on.
        assert_eq!(refresh(&app, Some(&other_cookie)).status, 200);

        // ... without a cookie, or with garbage: 401.
        for cookie in [None, Some("garbage"), Some("")] {
            let refused = refresh(&app, cookie);
            assert_eq!(refused.status, 401, "{cookie:?}: {}", refused.text);
            assert!(refused.json["message"].is_string(), "{}", refused.text);
        }
        // The access token is not a refresh token.
        assert_eq!(refresh(&app, Some(&access2)).status, 401);
    }

    fn racing_refreshes_with_one_cookie_give_one_token(backend) {
        let app = TestApp::spawn(&backend);
        assert_eq!(signup(&app, "racer", "racer@example.com").status, 201);
        let cookie = refresh_cookie(&login(&app, "racer"), false);
        let replies: Vec<Reply> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (app, cookie) = (&app, &cookie);
                    scope.spawn(move || refresh(app, Some(cookie)))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 7, "{statuses:?}");
        // The replays revoked the session: the winner's token and cookie are dead too.
        let winner = replies.iter().find(|r| r.status == 200).unwrap();
        assert_eq!(app.get("/auth/users/me/", Some(&token(winner))).status, 401);
        assert_eq!(refresh(&app, Some(&refresh_cookie(winner, false))).status, 401);
    }

    fn another_origin_of_the_same_site_gets_no_refresh_cookie(backend) {
        // SameSite lets a sibling subdomain in: it could log the browser
        // into an account of its own. Sec-Fetch-Site tells it apart.
        let app = TestApp::spawn_with(&backend, |config| {
            config.http.cors_allowed_origins = vec!["https://app.example.com/".into()];
            config.http.public_url = "http://auth.example.com/".into();
        });
        assert_eq!(signup(&app, "john", "john@example.com").status, 201);
        let body = json!({"login": "john", "password": PASSWORD});
        let from = |path: &str, site: &str, origin: &str, cookie: &str| {
            let mut headers = vec![("Sec-Fetch-Site", site), ("Origin", origin)];
            if !cookie.is_empty() {
                headers.push(("Cookie", cookie));
            }
            let body = if path == "/auth/login" { Body::Json(body.clone()) } else { Body::None };
            app.request_with_headers("POST", path, &headers, body)
        };
        let sibling = from("/auth/login", "same-site", "https://evil.example.com", "");
        assert_eq!(sibling.status, 403, "{}", sibling.text);
        assert_eq!(sibling.json, json!({"message": "Cross-origin requests may not use the refresh cookie"}));
        assert!(sibling.set_cookie("refresh_token").is_none(), "{:?}", sibling.headers);
        let cookie = format!("refresh_token={}", refresh_cookie(&login(&app, "john"), false));
        assert_eq!(from("/auth/refresh", "same-site", "https://evil.example.com", &cookie).status, 403);

        // The same origin, and origins CORS allows, are served.
        assert_eq!(from("/auth/login", "same-origin", "http://localhost:8080", "").status, 200);
        let allowed = from("/auth/refresh", "same-site", "https://app.example.com", &cookie);
        assert_eq!(allowed.status, 200, "{}", allowed.text);

        // A browser without Fetch Metadata is told apart by its Origin alone.
        let origin_only = |origin: &str| {
            app.request_with_headers("POST", "/auth/login", &[("Origin", origin)], Body::Json(body.clone()))
        };
        for foreign in ["https://evil.example.com", "null"] {
            let refused = origin_only(foreign);
            assert_eq!(refused.status, 403, "{foreign}: {}", refused.text);
            assert!(refused.set_cookie("refresh_token").is_none(), "{:?}", refused.headers);
        }
        // Forwarding headers name no host of Sesame's: any client may send them.
        for forwarded in [("X-Forwarded-Host", "evil.example.com"), ("Forwarded", "host=evil.example.com")] {
            let headers = [("Origin", "https://evil.example.com"), forwarded];
            let refused = app.request_with_headers("POST", "/auth/login", &headers, Body::Json(body.clone()));
            assert_eq!(refused.status, 403, "{forwarded:?}: {}", refused.text);
        }
        assert_eq!(origin_only(&app.base).status, 200, "{}", app.base);
        // Behind a proxy `Host` may name another: the public origin is Sesame's own.
        assert_eq!(origin_only("http://auth.example.com").status, 200);
        assert_eq!(origin_only("https://app.example.com").status, 200);
    }

    fn secure_cookies_when_configured(backend) {
        let app = TestApp::spawn_with(&backend, |config| config.http.secure_cookies = true);
        assert_eq!(signup(&app, "tls", "tls@example.com").status, 201);
        let reply = login(&app, "tls");
        let (cookie, binding) = (refresh_cookie(&reply, true), binding_cookie(&reply));
        let sent = |cookies: &str| app.request_with_headers("POST", "/auth/refresh", &[("Cookie", cookies)], Body::None);
        let refreshed = sent(&format!("refresh_token={cookie}; {BINDING}={binding}"));
        assert_eq!(refreshed.status, 200, "{}", refreshed.text);
        refresh_cookie(&refreshed, true);
        binding_cookie(&refreshed);
    }

    fn a_refresh_cookie_a_sibling_subdomain_planted_is_passed_over(backend) {
        // evil.example.com may set `refresh_token` for the whole site, with
        // a token of its own account; it cannot set a `__Host-` cookie.
        let app = TestApp::spawn_with(&backend, |config| config.http.secure_cookies = true);
        assert_eq!(signup(&app, "john", "john@example.com").status, 201);
        assert_eq!(signup(&app, "mallory", "mallory@example.com").status, 201);
        let mallorys = login(&app, "mallory");
        let (planted, mallorys_binding) = (refresh_cookie(&mallorys, true), binding_cookie(&mallorys));
        let johns = login(&app, "john");
        let (own, binding) = (refresh_cookie(&johns, true), binding_cookie(&johns));
        let sent = |cookies: &str| app.request_with_headers("POST", "/auth/refresh", &[("Cookie", cookies)], Body::None);

        // Alone, or with john's binding: refused, so no browser is logged into mallory's account.
        for cookies in [format!("refresh_token={planted}"), format!("refresh_token={planted}; {BINDING}={binding}")] {
            let refused = sent(&cookies);
            assert_eq!(refused.status, 401, "{cookies}: {}", refused.text);
        }
        // Sent first, beside john's own: john's is the one used.
        let refreshed = sent(&format!("refresh_token={planted}; refresh_token={own}; {BINDING}={binding}"));
        assert_eq!(refreshed.status, 200, "{}", refreshed.text);
        let me = app.get("/auth/users/me/", Some(&token(&refreshed)));
        assert_eq!(me.json["username"], "john", "{}", me.text);
        // Mallory's token was not spent: it was never tried.
        let in_her_browser = sent(&format!("refresh_token={planted}; {BINDING}={mallorys_binding}"));
        assert_eq!(in_her_browser.status, 200, "{}", in_her_browser.text);
    }

    fn logout_ends_the_refresh_cookie_too(backend) {
        let app = TestApp::spawn(&backend);
        assert_eq!(signup(&app, "leaver", "leaver@example.com").status, 201);
        let reply = login(&app, "leaver");
        let access = token(&reply);
        let cookie = refresh_cookie(&reply, false);
        assert_eq!(app.post("/auth/logout", Some(&access), json!({})).status, 200);
        assert_eq!(app.get("/auth/users/me/", Some(&access)).status, 401);
        assert_eq!(refresh(&app, Some(&cookie)).status, 401);
    }

    fn the_cookie_surface_alone_logs_out_with_its_cookie(backend) {
        // With no other surface there is no Bearer logout, and the page's
        // script cannot reach the HttpOnly cookie: DELETE /auth/refresh ends it.
        let app = TestApp::spawn_with(&backend, |config| config.http.surfaces = vec!["cookie_refresh".into()]);
        assert_eq!(signup(&app, "leaver", "leaver@example.com").status, 201);
        let logout = |headers: &[(&str, &str)]| app.request_with_headers("DELETE", "/auth/refresh", headers, Body::None);
        let cookie = refresh_cookie(&login(&app, "leaver"), false);
        let sent = format!("refresh_token={cookie}");

        let sibling = logout(&[("Cookie", &sent), ("Sec-Fetch-Site", "same-site"), ("Origin", "https://evil.example.com")]);
        assert_eq!(sibling.status, 403, "{}", sibling.text);
        let out = logout(&[("Cookie", &sent)]);
        assert_eq!(out.status, 204, "{}", out.text);
        let cleared = out.set_cookie("refresh_token").unwrap_or_else(|| panic!("{:?}", out.headers));
        assert!(cleared.to_ascii_lowercase().contains("max-age=0"), "{cleared}");
        assert_eq!(refresh(&app, Some(&cookie)).status, 401, "the session is over");
        // Again, or with no cookie at all: the same answer.
        assert_eq!(logout(&[("Cookie", &sent)]).status, 204);
        assert_eq!(logout(&[]).status, 204);

        // A cookie the session has rotated past ends it too, as a refresh with it would.
        let stale = refresh_cookie(&login(&app, "leaver"), false);
        let fresh = refresh_cookie(&refresh(&app, Some(&stale)), false);
        assert_eq!(logout(&[("Cookie", &format!("refresh_token={stale}"))]).status, 204);
        assert_eq!(refresh(&app, Some(&fresh)).status, 401);
    }

    fn signup_validation_is_a_400_message(backend) {
        let app = TestApp::spawn(&backend);
        for body in [
            json!({"firstname": "A", "lastname": "B", "email": "not-an-email", "username": "abc", "password": PASSWORD}),
            json!({"firstname": "A", "lastname": "B", "email": "a@example.com", "username": "abc", "password": "password"}),
            json!({"firstname": "A", "lastname": "B", "email": "a@example.com", "password": PASSWORD}),
            json!({"firstname": "A", "lastname": "B", "email": "a@example.com", "username": 42, "password": PASSWORD}),
        ] {
            let reply = app.post("/auth/signup", None, body);
            assert_eq!(reply.status, 400, "{}", reply.text);
            assert!(reply.json["message"].is_string(), "{}", reply.text);
            assert!(!reply.text.contains(PASSWORD), "{}", reply.text);
        }
        let malformed = app.request("POST", "/auth/login", None, Body::Raw("application/json", "{".into()));
        assert_eq!(malformed.status, 400, "{}", malformed.text);
        assert!(malformed.json["message"].is_string(), "{}", malformed.text);
        // Optional names: a signup without them still answers both keys.
        let bare = app.post("/auth/signup", None, json!({"email": "bare@example.com", "username": "bare", "password": PASSWORD}));
        assert_eq!(bare.status, 201, "{}", bare.text);
        assert_eq!((bare.json["firstname"].clone(), bare.json["lastname"].clone()), (json!(""), json!("")));
    }

    fn a_wrong_type_does_not_hide_the_other_fields(backend) {
        let app = TestApp::spawn(&backend);
        let signup = app.post("/auth/signup", None, json!({"username": 42, "password": PASSWORD, "firstname": null}));
        assert_eq!(signup.status, 400, "{}", signup.text);
        assert_eq!(signup.json, json!({"message": "Email is required; Username must be a string"}));
        let login = app.post("/auth/login", None, json!({"password": 5}));
        assert_eq!(login.status, 400, "{}", login.text);
        assert_eq!(login.json, json!({"message": "Login is required; Password must be a string"}));
        assert!(login.set_cookie("refresh_token").is_none(), "{:?}", login.headers);
    }
}
