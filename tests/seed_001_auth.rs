//! Seed 001 (surface `events_messages`, FastAPI style), its account rows
//! walked in the document's order, black-box over HTTP, on both backends:
//! POST /register, POST /login, POST /auth/logout, GET /auth/me, GET /users/,
//! GET /users/{user_id}.

mod common;

use common::{Body, TestApp, PASSWORD};
use serde_json::{json, Value};

fn register(app: &TestApp, username: &str) -> Value {
    let reply = app.post(
        "/register",
        None,
        json!({"username": username, "email": format!("{username}@example.com"), "password": PASSWORD}),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json
}

fn login(app: &TestApp, email: &str) -> String {
    let reply = app.post(
        "/login",
        None,
        json!({"email": email, "password": PASSWORD}),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.str("access_token")
}

fn names(reply: &common::Reply) -> Vec<String> {
    reply
        .json
        .as_array()
        .unwrap_or_else(|| panic!("a list: {}", reply.text))
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

backend_tests! {
    fn seed_001_auth_walk(backend) {
        let app = TestApp::spawn(&backend);

        // Inscription: 200 {id, username, email}.
        let reply = app.post("/register", None, json!({"username": "string", "email": "user@example.com", "password": PASSWORD}));
        assert_eq!(reply.status, 200, "{}", reply.text);
        let id = reply.json["id"].as_i64().expect("an integer id");
        assert_eq!(reply.json, json!({"id": id, "username": "string", "email": "user@example.com"}));

        // ... 400 "Email déjà utilisé" (the address in any case), and a used username too.
        let email_used = app.post("/register", None, json!({"username": "other", "email": "USER@example.com", "password": PASSWORD}));
        assert_eq!(email_used.status, 400, "{}", email_used.text);
        assert_eq!(email_used.json, json!({"detail": "Email already registered"}));
        let username_used = app.post("/register", None, json!({"username": "STRING", "email": "fresh@example.com", "password": PASSWORD}));
        assert_eq!(username_used.status, 400, "{}", username_used.text);
        assert_eq!(username_used.json, json!({"detail": "Username already registered"}));

        // Connexion by email: 200 {access_token, token_type: "bearer"}.
        let reply = app.post("/login", None, json!({"email": "user@example.com", "password": PASSWORD}));
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json["token_type"], "bearer");
        assert_eq!(reply.json.as_object().unwrap().len(), 2, "{}", reply.text);
        let token = reply.str("access_token");

        // ... 401 "Identifiants invalides": wrong password, unknown email.
        for body in [
            json!({"email": "user@example.com", "password": "wrong-password-1"}),
            json!({"email": "nobody@example.com", "password": PASSWORD}),
        ] {
            let refused = app.post("/login", None, body);
            assert_eq!(refused.status, 401, "{}", refused.text);
            assert_eq!(refused.json, json!({"detail": "Incorrect email or password"}));
            assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
        }

        // Déconnexion: 200 {"detail"}, and the token stops working everywhere.
        let second = login(&app, "user@example.com");
        assert_eq!(app.get("/auth/me", Some(&token)).status, 200);
        let out = app.post("/auth/logout", Some(&token), json!({}));
        assert_eq!(out.status, 200, "{}", out.text);
        assert!(out.json["detail"].is_string(), "{}", out.text);
        for (method, path) in [("GET", "/auth/me"), ("GET", "/users/"), ("GET", "/auth/users/me/"), ("GET", "/"), ("POST", "/auth/logout")] {
            let reply = app.request(method, path, Some(&token), Body::None);
            assert_eq!(reply.status, 401, "{method} {path}: {}", reply.text);
        }
        let dead = app.get("/auth/me", Some(&token));
        assert_eq!(dead.json, json!({"detail": "Could not validate credentials"}));
        let no_token = app.post("/auth/logout", None, json!({}));
        assert_eq!(no_token.status, 401);
        assert_eq!(no_token.json, json!({"detail": "Not authenticated"}));

        // Récupérer l'utilisateur connecté, with the other (still live) session.
        let me = app.get("/auth/me", Some(&second));
        assert_eq!(me.status, 200, "{}", me.text);
        assert_eq!(me.json, json!({"id": id, "username": "string", "email": "user@example.com"}));
        let anonymous = app.get("/auth/me", None);
        assert_eq!(anonymous.status, 401);
        assert_eq!(anonymous.json, json!({"detail": "Not authenticated"}));
        assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));

        // Récupérer tous les utilisateurs: a token is needed by default.
        register(&app, "bob");
        register(&app, "carol");
        let all = app.get("/users/", Some(&second));
        assert_eq!(all.status, 200, "{}", all.text);
        assert_eq!(names(&all), ["string", "bob", "carol"]);
        assert_eq!(all.json[0], json!({"id": id, "username": "string", "email": "user@example.com"}));
        assert_eq!(names(&app.get("/users/?skip=1&limit=1", Some(&second))), ["bob"]);
        assert_eq!(names(&app.get("/users/?skip=2", Some(&second))), ["carol"]);
        assert_eq!(names(&app.get("/users/?skip=10", Some(&second))).len(), 0);
        let bad_limit = app.get("/users/?limit=lots", Some(&second));
        assert_eq!(bad_limit.status, 422, "{}", bad_limit.text);
        assert_eq!(bad_limit.json["detail"][0]["loc"], json!(["query", "limit"]));
        let anonymous = app.get("/users/", None);
        assert_eq!(anonymous.status, 401);
        assert_eq!(anonymous.json, json!({"detail": "Not authenticated"}));

        // Récupérer un utilisateur par ID: 200, 404 "Utilisateur non trouvé".
        let one = app.get(&format!("/users/{id}"), Some(&second));
        assert_eq!(one.status, 200, "{}", one.text);
        assert_eq!(one.json, json!({"id": id, "username": "string", "email": "user@example.com"}));
        let unknown = app.get("/users/99999", Some(&second));
        assert_eq!(unknown.status, 404, "{}", unknown.text);
        assert_eq!(unknown.json, json!({"detail": "User not found"}));
        let not_a_number = app.get("/users/abc", Some(&second));
        assert_eq!(not_a_number.status, 422, "{}", not_a_number.text);
        assert_eq!(not_a_number.json["detail"][0]["loc"], json!(["path", "user_id"]));
        assert_eq!(app.get(&format!("/users/{id}"), None).status, 401);
        assert_eq!(app.get(&format!("/users/{id}"), Some(&token)).status, 401);
    }

    fn public_directory_needs_no_token(backend) {
        let app = TestApp::spawn_with(&backend, |config| config.users.public_directory = true);
        let alice = register(&app, "alice");
        register(&app, "bob");
        let all = app.get("/users/", None);
        assert_eq!(all.status, 200, "{}", all.text);
        assert_eq!(names(&all), ["alice", "bob"]);
        assert_eq!(names(&app.get("/users/?skip=1&limit=5", None)), ["bob"]);
        let one = app.get(&format!("/users/{}", alice["id"]), None);
        assert_eq!(one.status, 200, "{}", one.text);
        assert_eq!(one.json, alice);
        assert_eq!(app.get("/users/424242", None).status, 404);
        // Public or not, /auth/me still needs a token.
        assert_eq!(app.get("/auth/me", None).status, 401);
    }

    fn page_size_is_capped_at_100(backend) {
        let app = TestApp::spawn_with(&backend, |config| config.users.public_directory = true);
        for i in 0..102 {
            let reply = app.post("/auth/", None, json!({"username": format!("user{i:03}"), "password": PASSWORD}));
            assert_eq!(reply.status, 201, "{}", reply.text);
        }
        assert_eq!(names(&app.get("/users/", None)).len(), 100);
        assert_eq!(names(&app.get("/users/?limit=500", None)).len(), 100);
        assert_eq!(names(&app.get("/users/?skip=100", None)), ["user100", "user101"]);
    }

    fn login_takes_a_username_in_place_of_the_email(backend) {
        let app = TestApp::spawn(&backend);
        register(&app, "dora");
        assert!(!login(&app, "DORA@example.com").is_empty());
        assert!(!login(&app, "dora").is_empty());
        let by_username_key = app.post("/login", None, json!({"username": "dora", "password": PASSWORD}));
        assert_eq!(by_username_key.status, 200, "{}", by_username_key.text);
    }

    fn bad_input_is_a_fastapi_422(backend) {
        let app = TestApp::spawn(&backend);
        let missing = app.post("/register", None, json!({"username": "x"}));
        assert_eq!(missing.status, 422, "{}", missing.text);
        let locs: Vec<_> = missing.json["detail"].as_array().unwrap().iter().map(|d| d["loc"].clone()).collect();
        assert_eq!(locs, [json!(["body", "email"]), json!(["body", "password"])]);
        let bad_email = app.post("/register", None, json!({"username": "x", "email": "not-an-email", "password": PASSWORD}));
        assert_eq!(bad_email.status, 422, "{}", bad_email.text);
        assert_eq!(bad_email.json["detail"][0]["loc"], json!(["body", "email"]));
        let malformed = app.request("POST", "/login", None, Body::Raw("application/json", "{".into()));
        assert_eq!(malformed.status, 422, "{}", malformed.text);
        let missing_password = app.post("/login", None, json!({"email": "x@example.com"}));
        assert_eq!(missing_password.status, 422, "{}", missing_password.text);
        assert_eq!(missing_password.json["detail"][0]["loc"], json!(["body", "password"]));
    }

    fn a_wrong_type_does_not_hide_the_other_bad_fields(backend) {
        let app = TestApp::spawn(&backend);
        let string_type = |field: &str| json!({"type": "string_type", "loc": ["body", field], "msg": "Input should be a valid string"});
        let missing = |field: &str| json!({"type": "missing", "loc": ["body", field], "msg": "Field required"});
        let reply = app.post("/register", None, json!({"username": 7, "email": "x@example.com"}));
        assert_eq!(reply.status, 422, "{}", reply.text);
        assert_eq!(reply.json, json!({"detail": [string_type("username"), missing("password")]}));
        // Neither `email` nor `username` to log in with, and a list for a password.
        let reply = app.post("/login", None, json!({"password": ["x"]}));
        assert_eq!(reply.status, 422, "{}", reply.text);
        assert_eq!(reply.json, json!({"detail": [missing("email"), string_type("password")]}));
        register(&app, "sender");
        let token = login(&app, "sender@example.com");
        let reply = app.post("/messages/", Some(&token), json!({"content": 5}));
        assert_eq!(reply.status, 422, "{}", reply.text);
        assert_eq!(reply.json, json!({"detail": [string_type("content"), missing("receiver_id")]}));
        // A refused token is answered as such before the body is read.
        for (path, body) in [("/messages/", json!({"content": 5})), ("/events/", json!({"title": 5}))] {
            let refused = app.post(path, Some("not.a.token"), body);
            assert_eq!(refused.status, 401, "{path}: {}", refused.text);
        }
        let refused = app.patch("/events/1", Some("not.a.token"), json!({"capacity": "many"}));
        assert_eq!(refused.status, 401, "{}", refused.text);
    }
}
