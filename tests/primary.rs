//! Seed 004 (djoser layout) walked in its order, black-box over HTTP, on
//! both backends, plus the primary rules of API.md.

mod common;

use common::{Body, TestApp, PASSWORD};
use serde_json::json;

backend_tests! {
    fn seed_004_walk(backend) {
        let app = TestApp::spawn(&backend);

        // Inscription: 201 with the user object, no password anywhere.
        let reply = app.post("/auth/users/", None, json!({
            "username": "testuser", "email": "test@example.com",
            "password": PASSWORD, "re_password": PASSWORD,
        }));
        assert_eq!(reply.status, 201, "{}", reply.text);
        assert_eq!(reply.json["username"], "testuser");
        assert_eq!(reply.json["email"], "test@example.com");
        assert_eq!(reply.json["first_name"], "");
        assert_eq!(reply.json["last_name"], "");
        assert_eq!(reply.json["avatar"], json!(null));
        assert_eq!(reply.json["is_active"], true);
        assert!(reply.json["id"].is_i64());
        let id = reply.json["id"].as_i64().unwrap();

        // Connexion: access and refresh.
        let login = app.post("/auth/jwt/create/", None, json!({"username": "testuser", "password": PASSWORD}));
        assert_eq!(login.status, 200, "{}", login.text);
        let access = login.str("access");
        let refresh = login.str("refresh");
        assert_eq!(access.split('.').count(), 3);

        // Rafraîchissement: a new access token (and a rotated refresh token).
        let refreshed = app.post("/auth/jwt/refresh/", None, json!({"refresh": refresh}));
        assert_eq!(refreshed.status, 200, "{}", refreshed.text);
        let access2 = refreshed.str("access");
        let refresh2 = refreshed.str("refresh");
        assert_ne!(refresh2, refresh);

        // Verify.
        let verified = app.post("/auth/jwt/verify/", None, json!({"token": access2}));
        assert_eq!((verified.status, verified.json.clone()), (200, json!({})));

        // Profil utilisateur.
        let me = app.get("/auth/users/me/", Some(&access2));
        assert_eq!(me.status, 200);
        assert_eq!(me.json["id"], id);
        assert_eq!(me.json["username"], "testuser");
        assert!(me.json["date_joined"].as_str().unwrap().ends_with('Z'));

        // Mise à jour du profil.
        let patched = app.patch("/auth/users/me/", Some(&access2), json!({"first_name": "John", "last_name": "Doe"}));
        assert_eq!(patched.status, 200, "{}", patched.text);
        assert_eq!(patched.json["first_name"], "John");
        assert_eq!(patched.json["last_name"], "Doe");
        assert_eq!(app.get("/auth/users/me/", Some(&access2)).json["first_name"], "John");

        // Changement de mot de passe: 204, the other session dies, this one lives.
        let (other_access, _) = app.login("testuser", PASSWORD);
        let new_password = "Another-long-pass-42";
        let changed = app.post("/auth/users/set_password/", Some(&access2), json!({
            "current_password": PASSWORD, "new_password": new_password, "re_new_password": new_password,
        }));
        assert_eq!(changed.status, 204, "{}", changed.text);
        assert_eq!(app.get("/auth/users/me/", Some(&other_access)).status, 401);
        assert_eq!(app.get("/auth/users/me/", Some(&access2)).status, 200);
        let old = app.post("/auth/jwt/create/", None, json!({"username": "testuser", "password": PASSWORD}));
        assert_eq!(old.status, 401);
        assert_eq!(old.json["detail"], "No active account found with the given credentials");
        app.login("testuser", new_password);
    }

    fn registration_errors_are_field_errors(backend) {
        let app = TestApp::spawn(&backend);
        app.register("taken");
        let reply = app.post("/auth/users/", None, json!({
            "username": "TAKEN", "email": "TAKEN@example.com", "password": "password", "re_password": "password",
        }));
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json["username"][0], "A user with that username already exists.");
        assert_eq!(reply.json["email"][0], "A user with that email already exists.");
        assert_eq!(reply.json["password"][0], "This password is too common.");

        let reply = app.post("/auth/users/", None, json!({"username": "x"}));
        assert_eq!(reply.status, 400);
        for field in ["email", "password", "re_password"] {
            assert_eq!(reply.json[field][0], "This field is required.", "{}", reply.text);
        }

        let reply = app.post("/auth/users/", None, json!({
            "username": "fresh", "email": "fresh@example.com", "password": PASSWORD, "re_password": "different-Pass-1",
        }));
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json["non_field_errors"][0], "The two password fields didn't match.");

        let reply = app.post("/auth/users/", None, json!({
            "username": 12, "email": "fresh@example.com", "password": PASSWORD, "re_password": PASSWORD,
        }));
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json["username"][0], "Not a valid string.");
    }

    fn a_wrong_type_does_not_hide_the_other_bad_fields(backend) {
        let app = TestApp::spawn(&backend);
        let reply = app.post("/auth/users/", None, json!({
            "username": 12, "email": null, "password": PASSWORD,
        }));
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json, json!({
            "username": ["Not a valid string."],
            "email": ["This field may not be null."],
            "re_password": ["This field is required."],
        }));

        let login = app.post("/auth/jwt/create/", None, json!({"otp": 7}));
        assert_eq!(login.json, json!({
            "username": ["This field is required."],
            "password": ["This field is required."],
            "otp": ["Not a valid string."],
        }));

        let token = app.user_with_token("alice");
        let patch = app.patch("/auth/users/me/", Some(&token), json!({
            "first_name": ["Alice"], "is_active": "maybe", "avatar": "/media/avatars/x.png",
        }));
        assert_eq!(patch.status, 400);
        assert_eq!(patch.json, json!({
            "first_name": ["Not a valid string."],
            "is_active": ["Must be a valid boolean."],
            "avatar": ["The submitted data was not a file. Check the encoding type on the form."],
        }));
        assert_eq!(app.get("/auth/users/me/", Some(&token)).json["first_name"], "");
        // The token is checked before the body: no field feedback without one.
        for token in [None, Some("not.a.token")] {
            let refused = app.patch("/auth/users/me/", token, json!({"is_active": "maybe"}));
            assert_eq!(refused.status, 401, "{}", refused.text);
        }
    }

    fn bad_bodies_get_clear_4xx(backend) {
        let app = TestApp::spawn(&backend);
        let malformed = app.request("POST", "/auth/users/", None, Body::Raw("application/json", "{\"username\": ".into()));
        assert_eq!(malformed.status, 400);
        assert_eq!(malformed.json["code"], "parse_error");
        let wrong_type = app.request("POST", "/auth/jwt/create/", None, Body::Raw("text/plain", "hello".into()));
        assert_eq!(wrong_type.status, 415);
        assert!(wrong_type.json["detail"].is_string());
        let not_object = app.request("POST", "/auth/jwt/create/", None, Body::Raw("application/json", "[1,2]".into()));
        assert_eq!(not_object.status, 400);
        let huge = format!("{{\"username\": \"{}\"}}", "a".repeat(70 * 1024));
        let too_large = app.request("POST", "/auth/users/", None, Body::Raw("application/json", huge));
        assert_eq!(too_large.status, 413);
        assert!(too_large.json["detail"].is_string());
        assert_eq!(app.get("/auth/users/abc/", Some(&app.user_with_token("someone"))).status, 404);
        let bad_page = app.get("/auth/users/?limit=lots", Some(&app.login("someone", PASSWORD).0));
        assert_eq!(bad_page.status, 400);
        assert!(bad_page.json["limit"].is_array());
    }

    fn tokens_fail_once_revoked(backend) {
        let app = TestApp::spawn(&backend);
        app.register("alice");
        let (access, refresh) = app.login("alice", PASSWORD);
        assert_eq!(app.get("/auth/users/me/", Some(&access)).status, 200);

        // Missing and garbage tokens.
        let missing = app.get("/auth/users/me/", None);
        assert_eq!(missing.status, 401);
        assert_eq!(missing.json["code"], "not_authenticated");
        assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
        assert_eq!(app.get("/auth/users/me/", Some("not.a.token")).status, 401);
        let bad_verify = app.post("/auth/jwt/verify/", None, json!({"token": "garbage"}));
        assert_eq!(bad_verify.status, 401);
        assert_eq!(bad_verify.json, json!({"detail": "Token is invalid or expired", "code": "token_not_valid"}));

        // A refresh token used twice revokes its whole session.
        let first = app.post("/auth/jwt/refresh/", None, json!({"refresh": refresh}));
        assert_eq!(first.status, 200);
        let replay = app.post("/auth/jwt/refresh/", None, json!({"refresh": refresh}));
        assert_eq!(replay.status, 401);
        assert_eq!(replay.json["code"], "token_not_valid");
        assert_eq!(app.get("/auth/users/me/", Some(&first.str("access"))).status, 401);
        assert_eq!(app.post("/auth/jwt/refresh/", None, json!({"refresh": first.str("refresh")})).status, 401);
        assert_eq!(app.get("/auth/users/me/", Some(&access)).status, 401);

        // Logout kills that session's tokens, not the others.
        let (a1, r1) = app.login("alice", PASSWORD);
        let (a2, _) = app.login("alice", PASSWORD);
        assert_eq!(app.post("/auth/logout", Some(&a1), json!({})).status, 200);
        assert_eq!(app.get("/auth/users/me/", Some(&a1)).status, 401);
        assert_eq!(app.post("/auth/jwt/verify/", None, json!({"token": a1})).status, 401);
        assert_eq!(app.post("/auth/jwt/refresh/", None, json!({"refresh": r1})).status, 401);
        assert_eq!(app.get("/auth/users/me/", Some(&a2)).status, 200);
    }

    fn admins_see_everyone_others_only_themselves(backend) {
        let app = TestApp::spawn(&backend);
        let alice = app.user_with_token("alice");
        let bob_id = app.register("bob")["id"].as_i64().unwrap();
        let admin = app.admin_token("boss");

        let listed = app.get("/auth/users/", Some(&alice));
        assert_eq!(listed.status, 200);
        let names: Vec<_> = listed.json.as_array().unwrap().iter().map(|u| u["username"].clone()).collect();
        assert_eq!(names, vec![json!("alice")]);
        let all = app.get("/auth/users/", Some(&admin));
        assert_eq!(all.json.as_array().unwrap().len(), 3);
        assert_eq!(app.get("/auth/users/?skip=1&limit=1", Some(&admin)).json.as_array().unwrap().len(), 1);

        // Others' ids are 404 for non-admins, whatever the method.
        let path = format!("/auth/users/{bob_id}/");
        assert_eq!(app.get(&path, Some(&alice)).status, 404);
        assert_eq!(app.patch(&path, Some(&alice), json!({"first_name": "X"})).status, 404);
        assert_eq!(app.delete(&path, Some(&alice), json!({"current_password": PASSWORD})).status, 404);
        assert_eq!(app.get("/auth/users/99999/", Some(&admin)).status, 404);

        // Admins may edit and delete others.
        let edited = app.put(&path, Some(&admin), json!({"first_name": "Robert"}));
        assert_eq!(edited.status, 200, "{}", edited.text);
        assert_eq!(edited.json["first_name"], "Robert");
        assert_eq!(app.delete(&path, Some(&admin), json!({"current_password": PASSWORD})).status, 204);
        assert_eq!(app.get(&path, Some(&admin)).status, 404);
    }

    fn patch_cannot_raise_privileges_or_set_password(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("mallory");
        let reply = app.patch("/auth/users/me/", Some(&token), json!({
            "id": 999, "is_staff": true, "is_active": false, "password": "Another-long-pass-42", "username": "root",
        }));
        assert_eq!(reply.status, 200);
        assert_ne!(reply.json["id"], 999);
        assert_eq!(reply.json["is_active"], true);
        assert_eq!(reply.json["username"], "mallory");
        assert_eq!(app.get("/auth/users/", Some(&token)).json.as_array().unwrap().len(), 1);
        app.login("mallory", PASSWORD);
        let email_taken = {
            app.register("other");
            app.patch("/auth/users/me/", Some(&token), json!({"email": "OTHER@example.com"}))
        };
        assert_eq!(email_taken.status, 400);
        assert!(email_taken.json["email"].is_array());
    }

    fn delete_me_needs_the_current_password(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("leaving");
        let wrong = app.delete("/auth/users/me/", Some(&token), json!({"current_password": "nope-nope-nope"}));
        assert_eq!(wrong.status, 400);
        assert_eq!(wrong.json["current_password"][0], "Invalid password.");
        let missing = app.delete("/auth/users/me/", Some(&token), json!({}));
        assert_eq!(missing.status, 400);
        assert_eq!(app.delete("/auth/users/me/", Some(&token), json!({"current_password": PASSWORD})).status, 204);
        assert_eq!(app.get("/auth/users/me/", Some(&token)).status, 401);
        let relogin = app.post("/auth/jwt/create/", None, json!({"username": "leaving", "password": PASSWORD}));
        assert_eq!(relogin.status, 401);
    }

    fn set_username_renames_and_keeps_uniqueness(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("oldname");
        app.register("occupied");
        let taken = app.post("/auth/users/set_username/", Some(&token), json!({"current_password": PASSWORD, "new_username": "OCCUPIED"}));
        assert_eq!(taken.status, 400);
        assert!(taken.json["new_username"].is_array(), "{}", taken.text);
        let wrong = app.post("/auth/users/set_username/", Some(&token), json!({"current_password": "wrong-password-1", "new_username": "newname"}));
        assert_eq!(wrong.status, 400);
        let done = app.post("/auth/users/set_username/", Some(&token), json!({"current_password": PASSWORD, "new_username": "newname", "re_new_username": "newname"}));
        assert_eq!(done.status, 204, "{}", done.text);
        assert_eq!(app.get("/auth/users/me/", Some(&token)).json["username"], "newname");
        app.login("NewName", PASSWORD);
    }

    fn login_by_email_and_case_insensitive_username(backend) {
        let app = TestApp::spawn(&backend);
        app.register("Camille");
        app.login("camille", PASSWORD);
        app.login("CAMILLE@example.com", PASSWORD);
        let by_email_key = app.post("/auth/jwt/create/", None, json!({"email": "camille@example.com", "password": PASSWORD}));
        assert_eq!(by_email_key.status, 200);
        let unknown = app.post("/auth/jwt/create/", None, json!({"username": "nobody", "password": PASSWORD}));
        assert_eq!(unknown.status, 401);
        assert_eq!(unknown.json["code"], "no_active_account");
    }

    fn no_response_contains_a_password_or_hash(backend) {
        let app = TestApp::spawn(&backend);
        let mut texts = Vec::new();
        texts.push(app.post("/auth/users/", None, json!({"username": "secretive", "email": "s@example.com", "password": PASSWORD, "re_password": PASSWORD})).text);
        let login = app.post("/auth/jwt/create/", None, json!({"username": "secretive", "password": PASSWORD}));
        texts.push(login.text.clone());
        let access = login.str("access");
        texts.push(app.get("/auth/users/me/", Some(&access)).text);
        texts.push(app.get("/auth/users/", Some(&access)).text);
        texts.push(app.patch("/auth/users/me/", Some(&access), json!({"last_name": "S"})).text);
        texts.push(app.post("/auth/users/", None, json!({"username": "secretive", "email": "s@example.com", "password": PASSWORD, "re_password": PASSWORD})).text);
        texts.push(app.post("/auth/jwt/create/", None, json!({"username": "secretive", "password": "wrong-password-9"})).text);
        texts.push(app.get("/auth/me", Some(&access)).text);
        texts.push(app.get("/users/", Some(&access)).text);
        for text in texts {
            assert!(!text.contains(PASSWORD), "password leaked: {text}");
            assert!(!text.contains("$2b$") && !text.contains("bcrypt"), "hash leaked: {text}");
            assert!(!text.contains("password_hash"), "hash field leaked: {text}");
        }
    }

    fn concurrent_registrations_of_one_username_give_one_success(backend) {
        let app = TestApp::spawn(&backend);
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..20)
                .map(|i| {
                    let app = &app;
                    scope.spawn(move || {
                        let name = if i % 2 == 0 { "Racer" } else { "rACER" };
                        app.post("/auth/users/", None, json!({
                            "username": name, "email": format!("racer{i}@example.com"),
                            "password": PASSWORD, "re_password": PASSWORD,
                        })).status
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 19, "{statuses:?}");
    }
}

#[test]
fn healthz_answers() {
    let app = TestApp::spawn(&common::Backend::Sqlite);
    let reply = app.get("/healthz", None);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json["status"], "ok");
    assert_eq!(app.get("/readyz", None).status, 200);
}
