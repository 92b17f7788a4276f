//! Seed 002 (surface `opaque`: opaque tokens with a sliding idle lifetime,
//! French messages word for word) walked in the document's order, black-box
//! over HTTP, on both backends: 1. POST /auth/register, 2. GET
//! /auth/get/{username}, 3. DELETE /auth/delete/{username}, 4. GET
//! /auth/validate/{token}, 5. POST /auth/re-authenticate.

mod common;

use std::thread::sleep;
use std::time::{Duration, Instant};

use common::{Body, Reply, TestApp, PASSWORD};
use serde_json::json;

const TAKEN: &str = "Le nom d'utilisateur est déjà pris";
const EMPTY_USERNAME_FIELD: &str = "'Username' ne peut pas être vide";
const EMPTY_PASSWORD_FIELD: &str = "'Password' ne peut pas être vide";
const EMPTY_USERNAME: &str = "Le nom d'utilisateur ne peut pas être vide";
const EMPTY_TOKEN: &str = "Le token ne peut pas être vide";
const UNKNOWN_TOKEN: &str = "Token inexistant : Ce token n'existe pas dans la base de données";
const EXPIRED: &str = "Token expiré : Veuillez vous authentifier à nouveau";
const REAUTHENTICATED: &str =
    "Authentification réussie & Token de nouveau valide. Veuillez réessayer.";
const REQUIRED: &str = "Username et password sont requis";
const WRONG_PASSWORD: &str =
    "Échec de l'authentification : Nom d'utilisateur ou mot de passe incorrect";

fn register(app: &TestApp, username: &str) -> String {
    let reply = app.post(
        "/auth/register",
        None,
        json!({"username": username, "password": PASSWORD}),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.str("token")
}

fn assert_error(reply: &Reply, status: u16, message: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.json, json!({ "Erreur": message }), "{}", reply.text);
}

fn assert_plain(reply: &Reply, text: &str) {
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.text, text);
    let content_type = reply.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
}

fn validate(app: &TestApp, token: &str) -> Reply {
    app.get(&format!("/auth/validate/{token}"), None)
}

fn re_authenticate(app: &TestApp, username: &str, password: &str) -> Reply {
    app.post(
        "/auth/re-authenticate",
        None,
        json!({"username": username, "password": password}),
    )
}

backend_tests! {
    fn seed_002_walk(backend) {
        let app = TestApp::spawn(&backend);

        // 1. Enregistrer un utilisateur: 200 {"token"}, random and URL-safe.
        let reply = app.post("/auth/register", None, json!({"username": "testUser1", "password": PASSWORD}));
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json.as_object().unwrap().len(), 1, "{}", reply.text);
        let token = reply.str("token");
        assert!(token.len() >= 22, "{token} carries fewer than 128 bits");
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{token}");
        let other_token = register(&app, "testUser2");
        assert_ne!(token, other_token);

        // ... 400: taken (whatever the case), empty username, empty password.
        let taken = app.post("/auth/register", None, json!({"username": "TESTUSER1", "password": PASSWORD}));
        assert_error(&taken, 400, TAKEN);
        for body in [
            json!({"username": "", "password": PASSWORD}),
            json!({"username": "   ", "password": PASSWORD}),
            json!({"password": PASSWORD}),
            json!({"username": null, "password": PASSWORD}),
            json!({"username": "", "password": ""}),
        ] {
            assert_error(&app.post("/auth/register", None, body), 400, EMPTY_USERNAME_FIELD);
        }
        for body in [
            json!({"username": "testUser3", "password": ""}),
            json!({"username": "testUser3"}),
        ] {
            assert_error(&app.post("/auth/register", None, body), 400, EMPTY_PASSWORD_FIELD);
        }

        // 2. Récupérer un utilisateur: JSON {id, username, creationDate,
        // lastLoginDate}; never the password or the token.
        let got = app.get("/auth/get/testUser1", None);
        assert_eq!(got.status, 200, "{}", got.text);
        let mut keys: Vec<_> = got.json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["creationDate", "id", "lastLoginDate", "username"]);
        assert!(got.json["id"].is_i64());
        assert_eq!(got.json["username"], "testUser1");
        assert!(got.json["creationDate"].as_str().unwrap().ends_with('Z'), "{}", got.text);
        for secret in ["password", "token", PASSWORD, token.as_str(), "$2b$"] {
            assert!(!got.text.to_lowercase().contains(&secret.to_lowercase()), "{secret} in {}", got.text);
        }
        assert_eq!(app.get("/auth/get/TESTUSER1", None).json["username"], "testUser1");
        assert_error(&app.get("/auth/get/nobody", None), 404, "L'utilisateur nobody n'existe pas");
        assert_error(&app.get("/auth/get/", None), 400, EMPTY_USERNAME);
        assert_error(&app.get("/auth/get/%20", None), 400, EMPTY_USERNAME);

        // 3. Supprimer un utilisateur: only with their own token or an admin's.
        let doomed = register(&app, "doomed");
        let missing = app.delete("/auth/delete/doomed", None, json!({}));
        assert_eq!(missing.status, 401, "{}", missing.text);
        assert!(missing.json["Erreur"].is_string(), "{}", missing.text);
        let forbidden = app.delete("/auth/delete/doomed", Some(&other_token), json!({}));
        assert_eq!(forbidden.status, 403, "{}", forbidden.text);
        assert!(forbidden.json["Erreur"].is_string(), "{}", forbidden.text);
        assert_eq!(app.get("/auth/get/doomed", None).status, 200);
        let deleted = app.delete("/auth/delete/doomed", Some(&doomed), json!({}));
        assert_eq!(deleted.status, 200, "{}", deleted.text);
        assert_eq!(deleted.json, json!({"Succès": "Utilisateur doomed supprimé avec succès"}));
        assert_error(&app.get("/auth/get/doomed", None), 404, "L'utilisateur doomed n'existe pas");
        assert_eq!(validate(&app, &doomed).status, 404, "a deleted user's token dies with them");
        let unknown = app.delete("/auth/delete/doomed", Some(&other_token), json!({}));
        assert_error(&unknown, 404, "L'utilisateur doomed n'existe pas");
        assert_error(&app.delete("/auth/delete/", Some(&other_token), json!({})), 400, EMPTY_USERNAME);

        // ... an admin may delete anyone.
        register(&app, "victim");
        let admin = app.admin_token("boss");
        let by_admin = app.delete("/auth/delete/victim", Some(&admin), json!({}));
        assert_eq!(by_admin.status, 200, "{}", by_admin.text);
        assert_eq!(by_admin.json, json!({"Succès": "Utilisateur victim supprimé avec succès"}));
        assert_error(&app.delete("/auth/delete/victim", Some(&admin), json!({})), 404, "L'utilisateur victim n'existe pas");
        // ... but another admin: an admin's token alone must not delete every other admin.
        app.admin_token("boss2");
        let refused = app.delete("/auth/delete/boss2", Some(&admin), json!({}));
        assert_eq!(refused.status, 403, "{}", refused.text);
        assert!(refused.json["Erreur"].is_string(), "{}", refused.text);
        assert_eq!(app.get("/auth/get/boss2", None).status, 200);

        // 4. Valider un token: 200 text/plain username; 404 unknown; 400 empty.
        assert_plain(&validate(&app, &token), "testUser1");
        assert_plain(&validate(&app, &other_token), "testUser2");
        assert_error(&validate(&app, "7f8d9a63b4e2c1f0"), 404, UNKNOWN_TOKEN);
        assert_error(&app.get("/auth/validate/", None), 400, EMPTY_TOKEN);
        assert_error(&app.get("/auth/validate/%20", None), 400, EMPTY_TOKEN);

        // 5. Ré-authentifier: 200 text/plain; 400, 404 and 401 word for word.
        assert_plain(&re_authenticate(&app, "testUser1", PASSWORD), REAUTHENTICATED);
        for body in [
            json!({"username": "testUser1"}),
            json!({"password": PASSWORD}),
            json!({"username": "", "password": PASSWORD}),
            json!({"username": "testUser1", "password": ""}),
            json!({}),
        ] {
            assert_error(&app.post("/auth/re-authenticate", None, body), 400, REQUIRED);
        }
        assert_error(&re_authenticate(&app, "ghost", PASSWORD), 404, "L'utilisateur ghost n'existe pas");
        assert_error(&re_authenticate(&app, "testUser1", "wrong-password-1"), 401, WRONG_PASSWORD);
        assert_plain(&validate(&app, &token), "testUser1");

        // A login shows in lastLoginDate.
        let seen = app.get("/auth/get/testUser1", None).json;
        assert!(seen["lastLoginDate"].as_str().unwrap().ends_with('Z'), "{seen}");
    }

    fn tokens_slide_and_expire(backend) {
        let app = TestApp::spawn_with(&backend, |config| config.tokens.opaque_idle_seconds = 2);
        let idle = Duration::from_secs(2);
        let issued = Instant::now();
        let token = register(&app, "slider");

        // Each use within the idle window restarts the clock: uses 0.7 s
        // apart (by validation, or as a Bearer token) keep the token alive
        // well past its first deadline.
        for round in 0..5 {
            sleep(Duration::from_millis(700));
            if round % 2 == 0 {
                assert_plain(&validate(&app, &token), "slider");
            } else {
                let me = app.get("/auth/users/me/", Some(&token));
                assert_eq!(me.status, 200, "round {round}: {}", me.text);
            }
        }
        assert!(issued.elapsed() > idle + Duration::from_secs(1), "the walk outlived the first deadline");

        // Idle longer than the window: expired, on every route.
        sleep(idle + Duration::from_millis(500));
        assert_error(&validate(&app, &token), 401, EXPIRED);
        assert_error(&validate(&app, &token), 401, EXPIRED);
        assert_eq!(app.get("/auth/me", Some(&token)).status, 401);
        assert_eq!(app.get("/auth/users/me/", Some(&token)).status, 401);
        assert_eq!(app.get("/", Some(&token)).status, 401);

        // Re-authentication makes the same token valid again.
        assert_plain(&re_authenticate(&app, "slider", PASSWORD), REAUTHENTICATED);
        assert_plain(&validate(&app, &token), "slider");
        assert_eq!(app.get("/auth/me", Some(&token)).status, 200);

        // A wrong password revives nothing.
        sleep(idle + Duration::from_millis(500));
        assert_error(&re_authenticate(&app, "slider", "wrong-password-1"), 401, WRONG_PASSWORD);
        assert_error(&validate(&app, &token), 401, EXPIRED);

        // Lapsed but not over: its owner sees it and ends it for good.
        let (access, _) = app.login("slider", PASSWORD);
        let listed = app.get("/auth/sessions/", Some(&access));
        let lapsed = listed.json.as_array().unwrap().iter().find(|s| s["kind"] == "opaque");
        let id = lapsed.unwrap_or_else(|| panic!("not listed: {}", listed.text))["id"].as_str().unwrap().to_owned();
        assert_eq!(app.delete(&format!("/auth/sessions/{id}/"), Some(&access), json!({})).status, 204);
        assert_plain(&re_authenticate(&app, "slider", PASSWORD), REAUTHENTICATED);
        assert_eq!(validate(&app, &token).status, 401, "an ended session came back");
    }

    fn opaque_tokens_are_bearer_tokens_everywhere(backend) {
        let app = TestApp::spawn(&backend);
        let token = register(&app, "bearer");
        let id = app.get("/auth/get/bearer", None).json["id"].clone();

        let me = app.get("/auth/users/me/", Some(&token));
        assert_eq!(me.status, 200, "{}", me.text);
        assert_eq!((me.json["id"].clone(), me.json["username"].clone()), (id.clone(), json!("bearer")));
        let me = app.get("/auth/me", Some(&token));
        assert_eq!(me.status, 200, "{}", me.text);
        assert_eq!(me.json, json!({"id": id, "username": "bearer", "email": null}));
        let root = app.get("/", Some(&token));
        assert_eq!(root.status, 200, "{}", root.text);
        assert_eq!(root.json, json!({"User": {"username": "bearer", "id": id}}));

        // Logging out ends the opaque session; re-authenticating does not revive it.
        assert_eq!(app.post("/auth/logout", Some(&token), json!({})).status, 200);
        assert_eq!(app.get("/auth/me", Some(&token)).status, 401);
        assert_eq!(validate(&app, &token).status, 401);
        assert_plain(&re_authenticate(&app, "bearer", PASSWORD), REAUTHENTICATED);
        assert_eq!(app.get("/auth/me", Some(&token)).status, 401);
        assert_eq!(validate(&app, &token).status, 401);
    }

    fn racing_registrations_of_one_name_give_one_token(backend) {
        let app = TestApp::spawn(&backend);
        let replies: Vec<Reply> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..12)
                .map(|i| {
                    let app = &app;
                    scope.spawn(move || {
                        let name = if i % 2 == 0 { "Racer" } else { "rACER" };
                        app.post("/auth/register", None, json!({"username": name, "password": PASSWORD}))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
        assert_eq!(winners.len(), 1, "{replies:?}");
        for reply in replies.iter().filter(|r| r.status != 200) {
            assert_error(reply, 400, TAKEN);
        }
        let name = app.get("/auth/get/racer", None).str("username");
        assert_plain(&validate(&app, &winners[0].str("token")), &name);
    }

    fn bad_bodies_answer_in_the_surface_shape(backend) {
        let app = TestApp::spawn(&backend);
        let malformed = app.request("POST", "/auth/register", None, Body::Raw("application/json", "{\"username\":".into()));
        assert_eq!(malformed.status, 400, "{}", malformed.text);
        assert!(malformed.json["Erreur"].is_string(), "{}", malformed.text);
        let weak = app.post("/auth/register", None, json!({"username": "weak", "password": "password"}));
        assert_eq!(weak.status, 400, "{}", weak.text);
        assert!(weak.json["Erreur"].is_string(), "{}", weak.text);
        assert_eq!(app.get("/auth/get/weak", None).status, 404);
        let huge = format!("{{\"username\": \"{}\"}}", "a".repeat(70 * 1024));
        let too_large = app.request("POST", "/auth/re-authenticate", None, Body::Raw("application/json", huge));
        assert_eq!(too_large.status, 413, "{}", too_large.text);
        assert!(too_large.json["Erreur"].is_string(), "{}", too_large.text);
    }

    fn a_wrong_type_does_not_hide_the_other_fields(backend) {
        let app = TestApp::spawn(&backend);
        let both = app.post("/auth/register", None, json!({"username": 5, "password": null}));
        assert_error(&both, 400, "'Username' doit être une chaîne de caractères ; 'Password' ne peut pas être vide");
        let both = app.post("/auth/re-authenticate", None, json!({"username": ["bob"]}));
        assert_error(&both, 400, &format!("'Username' doit être une chaîne de caractères ; {REQUIRED}"));
        assert_eq!(app.get("/auth/get/5", None).status, 404);
    }
}
