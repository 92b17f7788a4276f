//! API.md "Account security": sessions you can see and end.

mod common;

use std::time::Duration;

use common::ws::Event;
use common::{Body, TestApp, PASSWORD};
use serde_json::json;

backend_tests! {
    fn sessions_are_listed_and_ended(backend) {
        let app = TestApp::spawn(&backend);
        app.register("alice");
        let (first, first_refresh) = app.login("alice", PASSWORD);
        let second = app.request_with_headers(
            "POST",
            "/auth/jwt/create/",
            &[("User-Agent", "phone/1.0")],
            Body::Json(json!({"username": "alice", "password": PASSWORD})),
        ).str("access");
        let opaque = app.post("/auth/re-authenticate", None, json!({"username": "alice", "password": PASSWORD}));
        assert_eq!(opaque.status, 200);

        let listed = app.get("/auth/sessions/", Some(&first));
        assert_eq!(listed.status, 200, "{}", listed.text);
        let sessions = listed.json.as_array().unwrap().clone();
        assert_eq!(sessions.len(), 2);
        let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
        assert_eq!(current.len(), 1);
        for session in &sessions {
            assert_eq!(session["ip"], "127.0.0.1");
            assert!(session["created_at"].as_str().unwrap().ends_with('Z'));
            assert!(session["last_used_at"].is_string());
        }
        assert!(sessions.iter().any(|s| s["user_agent"] == "phone/1.0"));
        let phone_id = sessions.iter().find(|s| s["user_agent"] == "phone/1.0").unwrap()["id"].as_str().unwrap().to_owned();

        // Another user cannot see or end them.
        let mallory = app.user_with_token("mallory");
        assert_eq!(app.get("/auth/sessions/", Some(&mallory)).json.as_array().unwrap().len(), 1);
        assert_eq!(app.delete(&format!("/auth/sessions/{phone_id}/"), Some(&mallory), json!({})).status, 404);
        assert_eq!(app.get("/auth/users/me/", Some(&second)).status, 200);

        // Ending one session kills its tokens and its sockets at once.
        let mut phone_socket = app.socket(&second);
        assert_eq!(app.delete(&format!("/auth/sessions/{phone_id}/"), Some(&first), json!({})).status, 204);
        assert_eq!(app.get("/auth/users/me/", Some(&second)).status, 401);
        assert!(matches!(phone_socket.next(Duration::from_secs(2)), Event::Closed(1008, _)));
        assert_eq!(app.get("/auth/users/me/", Some(&first)).status, 200);
        assert_eq!(app.delete("/auth/sessions/unknown/", Some(&first), json!({})).status, 404);
        assert_eq!(app.get("/auth/sessions/", None).status, 401);

        // Logging out everywhere ends this session too.
        let (third, _) = app.login("alice", PASSWORD);
        assert_eq!(app.post("/auth/logout/all/", Some(&first), json!({})).status, 204);
        for token in [&first, &third] {
            assert_eq!(app.get("/auth/users/me/", Some(token)).status, 401);
        }
        assert_eq!(app.post("/auth/jwt/refresh/", None, json!({"refresh": first_refresh})).status, 401);
        assert_eq!(app.get("/auth/users/me/", Some(&mallory)).status, 200);
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn code(secret: &str, offset: i64) -> String {
    sesame_tokens::totp_code(secret, now() + offset).unwrap()
}

mod totp {
    use super::*;

    backend_tests! {
        fn totp_guards_every_login_route(backend) {
            let app = TestApp::spawn(&backend);
            let token = app.user_with_token("grace");

            let wrong = app.post("/auth/mfa/totp/setup/", Some(&token), json!({"current_password": "not-my-password"}));
            assert_eq!(wrong.status, 400);
            let setup = app.post("/auth/mfa/totp/setup/", Some(&token), json!({"current_password": PASSWORD}));
            assert_eq!(setup.status, 200, "{}", setup.text);
            let secret = setup.str("secret");
            assert!(secret.len() >= 32);
            assert_eq!(setup.str("otpauth_url"), format!("otpauth://totp/Sesame:grace?secret={secret}&issuer=Sesame"));
            app.login("grace", PASSWORD); // not on until confirmed

            assert_eq!(app.post("/auth/mfa/totp/confirm/", Some(&token), json!({"code": "000000"})).status, 400);
            let first_code = code(&secret, 0);
            let confirmed = app.post("/auth/mfa/totp/confirm/", Some(&token), json!({"code": first_code}));
            assert_eq!(confirmed.status, 200, "{}", confirmed.text);
            let recovery: Vec<String> = confirmed.json["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
            assert_eq!(recovery.len(), 10);
            assert_eq!(app.post("/auth/mfa/totp/setup/", Some(&token), json!({"current_password": PASSWORD})).status, 409);

            // The password is checked first, with no hint to a caller who lacks it.
            let no_password = app.post("/auth/jwt/create/", None, json!({"username": "grace", "password": "wrong-password-7"}));
            assert_eq!((no_password.status, no_password.json["code"].clone()), (401, json!("no_active_account")));
            let required = app.post("/auth/jwt/create/", None, json!({"username": "grace", "password": PASSWORD}));
            assert_eq!((required.status, required.json["code"].clone()), (401, json!("otp_required")));
            let invalid = app.post("/auth/jwt/create/", None, json!({"username": "grace", "password": PASSWORD, "otp": "123456"}));
            assert_eq!((invalid.status, invalid.json["code"].clone()), (401, json!("otp_invalid")));
            let replayed = app.post("/auth/jwt/create/", None, json!({"username": "grace", "password": PASSWORD, "otp": first_code}));
            assert_eq!(replayed.status, 401, "the confirming code cannot log in again");
            let next = app.post("/auth/jwt/create/", None, json!({"username": "grace", "password": PASSWORD, "otp": code(&secret, 30)}));
            assert_eq!(next.status, 200, "{}", next.text);

            // Every other login route asks for it too, and takes recovery codes.
            assert_eq!(app.post("/login", None, json!({"email": "grace@example.com", "password": PASSWORD})).status, 401);
            assert_eq!(app.post("/login", None, json!({"email": "grace@example.com", "password": PASSWORD, "otp": recovery[0]})).status, 200);
            assert_eq!(app.post("/login", None, json!({"email": "grace@example.com", "password": PASSWORD, "otp": recovery[0]})).status, 401);
            let form = format!("username=grace&password={}&otp={}", "Xk92%21dumbo-lamp", recovery[1]);
            assert_eq!(app.request("POST", "/auth/token", None, Body::Raw("application/x-www-form-urlencoded", form)).status, 200);
            assert_eq!(app.post("/auth/token", None, json!({"username": "grace", "password": PASSWORD})).status, 401);
            assert_eq!(app.post("/auth/login", None, json!({"login": "grace", "password": PASSWORD})).status, 401);
            assert_eq!(app.post("/auth/login", None, json!({"login": "grace", "password": PASSWORD, "otp": recovery[2]})).status, 200);
            assert_eq!(app.post("/auth/re-authenticate", None, json!({"username": "grace", "password": PASSWORD})).status, 401);

            // Turning it off takes the password and a code.
            assert_eq!(app.delete("/auth/mfa/totp/", Some(&token), json!({"current_password": PASSWORD, "code": "111111"})).status, 400);
            assert_eq!(app.delete("/auth/mfa/totp/", Some(&token), json!({"current_password": "nope-nope-nope", "code": recovery[3]})).status, 400);
            assert_eq!(app.delete("/auth/mfa/totp/", Some(&token), json!({"current_password": PASSWORD, "code": recovery[3]})).status, 204);
            app.login("grace", PASSWORD);
        }
    }
}
