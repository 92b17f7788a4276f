//! Seed 000 (surface `token_form`, FastAPI with the OAuth2 password form)
//! walked in its order, black-box over HTTP, on both backends.
//!
//! The document's requests: 1. POST /auth/ (create user), 2. POST /auth/token
//! (login, JSON or form), 3. GET / (the current user).

mod common;

use common::{Body, TestApp, PASSWORD};
use serde_json::json;

const FORM: &str = "application/x-www-form-urlencoded";

/// `PASSWORD`, percent-encoded for a form body.
fn form_password() -> String {
    PASSWORD.replace('!', "%21")
}

backend_tests! {
    fn seed_000_walk(backend) {
        let app = TestApp::spawn(&backend);

        // 1. Create User: 201 {id, username}.
        let created = app.post("/auth/", None, json!({"username": "nouvel_utilisateur", "password": PASSWORD}));
        assert_eq!(created.status, 201, "{}", created.text);
        let id = created.json["id"].as_i64().expect("an integer id");
        assert_eq!(created.json, json!({"id": id, "username": "nouvel_utilisateur"}));

        // ... 400 "Username already registered" when it exists (whatever the case).
        for name in ["nouvel_utilisateur", "Nouvel_Utilisateur"] {
            let duplicate = app.post("/auth/", None, json!({"username": name, "password": PASSWORD}));
            assert_eq!(duplicate.status, 400, "{}", duplicate.text);
            assert_eq!(duplicate.json, json!({"detail": "Username already registered"}));
        }

        // 2. Login for Access Token, with the document's JSON body...
        let by_json = app.post("/auth/token", None, json!({"username": "nouvel_utilisateur", "password": PASSWORD}));
        assert_eq!(by_json.status, 200, "{}", by_json.text);
        assert_eq!(by_json.json["token_type"], "bearer");
        assert_eq!(by_json.json.as_object().unwrap().len(), 2, "{}", by_json.text);
        let json_token = by_json.str("access_token");

        // ... and with the OAuth2 password form that OAuth2 clients send.
        let form = format!(
            "grant_type=password&username=nouvel_utilisateur&password={}&scope=&client_id=&client_secret=",
            form_password()
        );
        let by_form = app.request("POST", "/auth/token", None, Body::Raw(FORM, form));
        assert_eq!(by_form.status, 200, "{}", by_form.text);
        assert_eq!(by_form.json["token_type"], "bearer");
        let form_token = by_form.str("access_token");
        assert_ne!(form_token, json_token);

        // ... 401 "Could not validate user." for a wrong password or an unknown user.
        let refused = [
            app.post("/auth/token", None, json!({"username": "nouvel_utilisateur", "password": "wrong-password-1"})),
            app.post("/auth/token", None, json!({"username": "nobody", "password": PASSWORD})),
            app.request("POST", "/auth/token", None, Body::Raw(FORM, "username=nouvel_utilisateur&password=wrong-password-1".into())),
        ];
        for reply in refused {
            assert_eq!(reply.status, 401, "{}", reply.text);
            assert_eq!(reply.json, json!({"detail": "Could not validate user."}));
        }

        // 3. Get User Information: {"User": {"username", "id"}} with either token.
        for token in [&json_token, &form_token] {
            let me = app.get("/", Some(token));
            assert_eq!(me.status, 200, "{}", me.text);
            assert_eq!(me.json, json!({"User": {"username": "nouvel_utilisateur", "id": id}}));
        }

        // ... 401 "Authentication Failed." for a missing, invalid or dead token.
        let (primary_access, _) = app.login("nouvel_utilisateur", PASSWORD);
        assert_eq!(app.post("/auth/logout", Some(&primary_access), json!({})).status, 200);
        let tampered = format!("{}x", &json_token[..json_token.len() - 1]);
        let failures = [
            app.get("/", None),
            app.get("/", Some("votre_token")),
            app.get("/", Some("a.b.c")),
            app.get("/", Some(&tampered)),
            app.get("/", Some(&primary_access)),
        ];
        for reply in failures {
            assert_eq!(reply.status, 401, "{}", reply.text);
            assert_eq!(reply.json, json!({"detail": "Authentication Failed."}));
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        }

        // The usage flow: whoever registered through /auth/ logs in and reads /.
        let other = app.post("/auth/", None, json!({"username": "second", "password": PASSWORD}));
        assert_eq!(other.status, 201);
        let token = app.post("/auth/token", None, json!({"username": "second", "password": PASSWORD})).str("access_token");
        assert_eq!(app.get("/", Some(&token)).json["User"]["username"], "second");
    }

    fn bad_input_is_a_fastapi_422(backend) {
        let app = TestApp::spawn(&backend);

        let missing = app.post("/auth/", None, json!({"username": "someone"}));
        assert_eq!(missing.status, 422, "{}", missing.text);
        assert_eq!(missing.json["detail"][0]["loc"], json!(["body", "password"]));
        assert_eq!(missing.json["detail"][0]["type"], "missing");

        let form_missing = app.request("POST", "/auth/token", None, Body::Raw(FORM, "username=someone".into()));
        assert_eq!(form_missing.status, 422, "{}", form_missing.text);
        assert_eq!(form_missing.json["detail"][0]["loc"], json!(["body", "password"]));

        let wrong_type = app.post("/auth/", None, json!({"username": 7, "password": PASSWORD}));
        assert_eq!(wrong_type.status, 422, "{}", wrong_type.text);
        assert_eq!(wrong_type.json["detail"][0]["loc"], json!(["body", "username"]));

        let malformed = app.request("POST", "/auth/token", None, Body::Raw("application/json", "{\"username\":".into()));
        assert_eq!(malformed.status, 422, "{}", malformed.text);
        assert!(malformed.json["detail"].is_array());

        let weak = app.post("/auth/", None, json!({"username": "someone", "password": "password"}));
        assert_eq!(weak.status, 422, "{}", weak.text);
        assert_eq!(weak.json["detail"][0]["loc"], json!(["body", "password"]));
        assert!(!weak.text.contains("\"password\":\"password\""));
    }

    fn responses_never_carry_the_password(backend) {
        let app = TestApp::spawn(&backend);
        let texts = [
            app.post("/auth/", None, json!({"username": "quiet", "password": PASSWORD})).text,
            app.post("/auth/", None, json!({"username": "quiet", "password": PASSWORD})).text,
            app.post("/auth/token", None, json!({"username": "quiet", "password": PASSWORD})).text,
            app.request("POST", "/auth/token", None, Body::Raw(FORM, format!("username=quiet&password={}", form_password()))).text,
            app.post("/auth/token", None, json!({"username": "quiet", "password": format!("{PASSWORD}x")})).text,
        ];
        for text in texts {
            assert!(!text.contains(PASSWORD), "password leaked: {text}");
            assert!(!text.contains("$2b$"), "hash leaked: {text}");
        }
    }
}
