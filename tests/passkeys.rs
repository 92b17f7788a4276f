//! Passkeys over HTTP (issue 21, API.md "Passkeys"), with webauthn-rs's
//! software passkey standing in for the person's authenticator: register,
//! log in with and without a username, replays, another origin or relying
//! party, another user's passkey, removal, inactive accounts, TOTP, and the
//! session a passkey login opens.

mod common;

use common::{TestApp, PASSWORD};
use serde_json::{json, Value};
use sesame_testkit::SoftBrowser;

/// The origin Sesame expects by default (`SESAME__WEBAUTHN__ORIGIN`).
const ORIGIN: &str = "http://localhost:8080";

/// Registers a passkey for the holder of `token`; returns the passkey.
fn register(app: &TestApp, token: &str, browser: &mut SoftBrowser, name: Option<&str>) -> Value {
    let options = app.post(
        "/auth/passkeys/register/begin/",
        Some(token),
        json!({"current_password": PASSWORD}),
    );
    assert_eq!(options.status, 200, "{}", options.text);
    let credential = browser.create(&options.json).unwrap();
    let mut body = json!({"credential": credential});
    if let Some(name) = name {
        body["name"] = json!(name);
    }
    let finished = app.post("/auth/passkeys/register/finish/", Some(token), body);
    assert_eq!(finished.status, 201, "{}", finished.text);
    finished.json
}

/// A login response from `browser` to fresh options (for `username`, or none).
fn login_response(app: &TestApp, browser: &mut SoftBrowser, username: Option<&str>) -> Value {
    let body = match username {
        Some(name) => json!({"username": name}),
        None => json!({}),
    };
    let options = app.post("/auth/passkeys/login/begin/", None, body);
    assert_eq!(options.status, 200, "{}", options.text);
    browser.get(&options.json).unwrap()
}

fn finish_login(app: &TestApp, credential: &Value) -> common::Reply {
    app.post(
        "/auth/passkeys/login/finish/",
        None,
        json!({"credential": credential}),
    )
}

fn user_id(app: &TestApp, token: &str) -> i64 {
    app.get("/auth/users/me/", Some(token)).json["id"]
        .as_i64()
        .unwrap()
}

backend_tests! {
    fn a_passkey_logs_in_with_and_without_a_username_as_a_session_like_any_other(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("ada");
        let mut browser = SoftBrowser::new(ORIGIN);

        let options = app.post("/auth/passkeys/register/begin/", Some(&token), json!({"current_password": PASSWORD}));
        let public_key = &options.json["publicKey"];
        assert_eq!(public_key["rp"], json!({"id": "localhost", "name": "Sesame"}));
        assert_eq!(public_key["user"]["name"], "ada");
        assert_eq!(public_key["attestation"], "none");
        let algorithms: Vec<i64> = public_key["pubKeyCredParams"].as_array().unwrap().iter().map(|p| p["alg"].as_i64().unwrap()).collect();
        assert!(algorithms.contains(&-7) && algorithms.contains(&-8), "ES256 and EdDSA: {algorithms:?}");
        let challenge = public_key["challenge"].as_str().unwrap();
        assert!(challenge.len() >= 43 && !challenge.contains('='), "unpadded base64url: {challenge}");

        let passkey = register(&app, &token, &mut browser, Some("My laptop"));
        assert_eq!(passkey["name"], "My laptop");
        assert!(passkey["created_at"].is_string());
        assert_eq!(passkey["last_used_at"], Value::Null);
        let listed = app.get("/auth/passkeys/", Some(&token));
        assert_eq!(listed.status, 200);
        assert_eq!(listed.json, json!([passkey.clone()]));

        // With a username: its passkeys are listed.
        let options = app.post("/auth/passkeys/login/begin/", None, json!({"username": "ada"}));
        let allowed = options.json["publicKey"]["allowCredentials"].as_array().unwrap().clone();
        assert_eq!(allowed.len(), 1);
        assert_eq!(options.json["publicKey"]["userVerification"], "required");
        let logged_in = finish_login(&app, &browser.get(&options.json).unwrap());
        assert_eq!(logged_in.status, 200, "{}", logged_in.text);
        let access = logged_in.str("access");
        assert!(!logged_in.str("refresh").is_empty());
        assert_eq!(app.get("/auth/users/me/", Some(&access)).json["username"], "ada");
        // On every surface's protected routes.
        assert_eq!(app.get("/auth/me", Some(&access)).status, 200);
        let refreshed = app.post("/auth/jwt/refresh/", None, json!({"refresh": logged_in.str("refresh")}));
        assert_eq!(refreshed.status, 200, "{}", refreshed.text);
        let access = refreshed.str("access");

        // Without one: a discoverable passkey names its user.
        let options = app.post("/auth/passkeys/login/begin/", None, json!({}));
        assert_eq!(options.status, 200);
        assert_eq!(options.json["publicKey"]["allowCredentials"], json!([]));
        let second = finish_login(&app, &browser.get(&options.json).unwrap());
        assert_eq!(second.status, 200, "{}", second.text);
        let second_access = second.str("access");

        // Both sessions are listed, and logging out ends one.
        let sessions = app.get("/auth/sessions/", Some(&second_access));
        assert_eq!(sessions.json.as_array().unwrap().len(), 3, "{}", sessions.text);
        assert_eq!(app.post("/auth/logout", Some(&second_access), json!({})).status, 200);
        assert_eq!(app.get("/auth/users/me/", Some(&second_access)).status, 401);
        assert_eq!(app.get("/auth/users/me/", Some(&access)).status, 200);
        let sessions = app.get("/auth/sessions/", Some(&access));
        assert_eq!(sessions.json.as_array().unwrap().len(), 2, "{}", sessions.text);

        let listed = app.get("/auth/passkeys/", Some(&access));
        assert!(listed.json[0]["last_used_at"].is_string(), "{}", listed.text);
    }

    fn a_response_is_accepted_once(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("ada");
        let mut browser = SoftBrowser::new(ORIGIN);
        let options = app.post("/auth/passkeys/register/begin/", Some(&token), json!({"current_password": PASSWORD}));
        let credential = browser.create(&options.json).unwrap();
        let body = json!({"credential": credential});
        assert_eq!(app.post("/auth/passkeys/register/finish/", Some(&token), body.clone()).status, 201);
        let replayed = app.post("/auth/passkeys/register/finish/", Some(&token), body);
        assert_eq!(replayed.status, 400, "{}", replayed.text);
        assert!(replayed.json["credential"][0].is_string(), "{}", replayed.text);
        assert_eq!(app.get("/auth/passkeys/", Some(&token)).json.as_array().unwrap().len(), 1);

        let response = login_response(&app, &mut browser, Some("ada"));
        assert_eq!(finish_login(&app, &response).status, 200);
        let again = finish_login(&app, &response);
        assert_eq!((again.status, again.json["code"].clone()), (401, json!("no_active_account")), "{}", again.text);
    }

    fn another_origin_or_relying_party_is_refused(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("ada");
        // The page that asks is on another origin.
        let mut elsewhere = SoftBrowser::new("http://localhost:9999");
        let options = app.post("/auth/passkeys/register/begin/", Some(&token), json!({"current_password": PASSWORD}));
        let credential = elsewhere.create(&options.json).unwrap();
        let refused = app.post("/auth/passkeys/register/finish/", Some(&token), json!({"credential": credential}));
        assert_eq!(refused.status, 400, "{}", refused.text);

        let mut browser = SoftBrowser::new(ORIGIN);
        register(&app, &token, &mut browser, None);
        browser.set_origin("http://localhost:9999");
        let response = login_response(&app, &mut browser, Some("ada"));
        assert_eq!(finish_login(&app, &response).status, 401);
        assert_eq!(app.get("/auth/passkeys/", Some(&token)).json.as_array().unwrap().len(), 1);
    }

    fn another_relying_party_id_is_refused(backend) {
        let app = TestApp::spawn_with(&backend, |config| {
            config.webauthn.rp_id = "id.sesame.test".into();
            config.webauthn.origin = "https://id.sesame.test".into();
        });
        let token = app.user_with_token("ada");
        let mut browser = SoftBrowser::new("https://id.sesame.test");
        let mut options = app.post("/auth/passkeys/register/begin/", Some(&token), json!({"current_password": PASSWORD})).json;
        assert_eq!(options["publicKey"]["rp"]["id"], "id.sesame.test");
        options["publicKey"]["rp"]["id"] = json!("sesame.test");
        let credential = browser.create(&options).unwrap();
        let refused = app.post("/auth/passkeys/register/finish/", Some(&token), json!({"credential": credential}));
        assert_eq!(refused.status, 400, "{}", refused.text);
        // Unaltered options register.
        register(&app, &token, &mut browser, None);
    }

    fn another_users_passkey_is_not_found_and_removal_needs_the_password(backend) {
        let app = TestApp::spawn(&backend);
        let ada = app.user_with_token("ada");
        let bob = app.user_with_token("bob");
        let mut browser = SoftBrowser::new(ORIGIN);
        let passkey = register(&app, &ada, &mut browser, None);
        assert_eq!(passkey["name"], "Passkey");
        let path = format!("/auth/passkeys/{}/", passkey["id"].as_str().unwrap());

        let bobs = app.delete(&path, Some(&bob), json!({"current_password": PASSWORD}));
        assert_eq!(bobs.status, 404, "{}", bobs.text);
        assert_eq!(app.get("/auth/passkeys/", Some(&bob)).json, json!([]));
        let missing = app.delete(&path, Some(&ada), json!({}));
        assert_eq!(missing.status, 400);
        assert!(missing.json["current_password"].is_array(), "{}", missing.text);
        let wrong = app.delete(&path, Some(&ada), json!({"current_password": "not-my-password-9"}));
        assert_eq!(wrong.status, 400);
        assert!(wrong.json["current_password"].is_array(), "{}", wrong.text);
        assert_eq!(app.get("/auth/passkeys/", Some(&ada)).json.as_array().unwrap().len(), 1);

        assert_eq!(app.delete(&path, Some(&ada), json!({"current_password": PASSWORD})).status, 204);
        assert_eq!(app.get("/auth/passkeys/", Some(&ada)).json, json!([]));
        assert_eq!(app.delete(&path, Some(&ada), json!({"current_password": PASSWORD})).status, 404);
        // The removed passkey logs in no more.
        let response = login_response(&app, &mut browser, None);
        assert_eq!(finish_login(&app, &response).status, 401);

        let admin = app.admin_token("root");
        let audit = app.get("/auth/audit/?kind=passkey_removed", Some(&admin));
        assert_eq!(audit.json.as_array().unwrap().len(), 1, "{}", audit.text);
        let registered = app.get("/auth/audit/?kind=passkey_registered", Some(&admin));
        assert_eq!(registered.json[0]["user_id"], json!(user_id(&app, &ada)));
    }

    fn an_inactive_account_is_refused(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("ada");
        let id = user_id(&app, &token);
        let mut browser = SoftBrowser::new(ORIGIN);
        register(&app, &token, &mut browser, None);
        let admin = app.admin_token("root");
        let locked = app.patch(&format!("/auth/users/{id}/"), Some(&admin), json!({"is_active": false}));
        assert_eq!(locked.status, 200, "{}", locked.text);

        for username in [Some("ada"), None] {
            let response = login_response(&app, &mut browser, username);
            let refused = finish_login(&app, &response);
            assert_eq!((refused.status, refused.json["code"].clone()), (401, json!("no_active_account")), "{}", refused.text);
        }
        let audit = app.get("/auth/audit/?kind=login_failure", Some(&admin));
        assert!(audit.json.as_array().unwrap().iter().any(|e| e["user_id"] == json!(id) && e["detail"].as_str().unwrap().starts_with("passkey")), "{}", audit.text);
    }

    fn an_account_with_totp_on_gets_in_with_its_passkey(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("ada");
        let mut browser = SoftBrowser::new(ORIGIN);
        register(&app, &token, &mut browser, None);
        let setup = app.post("/auth/mfa/totp/setup/", Some(&token), json!({"current_password": PASSWORD}));
        let secret = setup.str("secret");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let code = sesame_tokens::totp_code(&secret, now).unwrap();
        let confirmed = app.post("/auth/mfa/totp/confirm/", Some(&token), json!({"code": code}));
        assert_eq!(confirmed.status, 200);
        let password_only = app.post("/auth/jwt/create/", None, json!({"username": "ada", "password": PASSWORD}));
        assert_eq!(password_only.json["code"], "otp_required");

        // A session and the password add no second passkey without a code:
        // it would sign in without TOTP.
        let begin = |body| app.post("/auth/passkeys/register/begin/", Some(&token), body);
        let without = begin(json!({"current_password": PASSWORD}));
        assert_eq!(without.status, 400, "{}", without.text);
        assert!(without.json["code"].is_array(), "{}", without.text);
        let wrong = begin(json!({"current_password": PASSWORD, "code": "000000"}));
        assert_eq!(wrong.status, 400, "{}", wrong.text);
        let recovery = confirmed.json["recovery_codes"][0].as_str().unwrap();
        let with_code = begin(json!({"current_password": PASSWORD, "code": recovery}));
        assert_eq!(with_code.status, 200, "{}", with_code.text);

        let response = login_response(&app, &mut browser, Some("ada"));
        let logged_in = finish_login(&app, &response);
        assert_eq!(logged_in.status, 200, "{}", logged_in.text);
        assert_eq!(app.get("/auth/users/me/", Some(&logged_in.str("access"))).status, 200);
    }

    fn a_password_reset_by_link_removes_the_passkeys(backend) {
        // Someone registers with ada's address and adds a passkey; ada later
        // takes the account back with a reset link. The passkey must go.
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("ada");
        let mut squatter = SoftBrowser::new(ORIGIN);
        register(&app, &token, &mut squatter, Some("iPhone"));
        let outbox = app.data_dir.join("outbox");
        common::outbox::nth_mail(&outbox, "ada@example.com", 1);
        assert_eq!(app.post("/auth/users/reset_password/", None, json!({"email": "ada@example.com"})).status, 204);
        let mail = common::outbox::nth_mail(&outbox, "ada@example.com", 2);
        let (uid, reset) = mail.uid_token("http://localhost:8080/account/password/reset/confirm/");
        let new_password = "a-new-Passw0rd-of-ada";
        let confirmed = app.post("/auth/users/reset_password_confirm/", None, json!({
            "uid": uid, "token": reset, "new_password": new_password, "re_new_password": new_password,
        }));
        assert_eq!(confirmed.status, 204, "{}", confirmed.text);

        let response = login_response(&app, &mut squatter, None);
        assert_eq!(finish_login(&app, &response).status, 401);
        let (owner, _) = app.login("ada", new_password);
        assert_eq!(app.get("/auth/passkeys/", Some(&owner)).json, json!([]));
    }

    fn the_owner_is_told_of_a_new_passkey(backend) {
        // It signs in without password or code and outlives a password
        // change: an owner who did not add it must hear of it.
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("ada");
        register(&app, &token, &mut SoftBrowser::new(ORIGIN), Some("Work laptop"));
        let notice = common::outbox::nth_mail(&app.data_dir.join("outbox"), "ada@example.com", 1);
        assert_eq!(notice.subject(), "A passkey was added to your Sesame account");
        assert!(notice.body.contains("\"Work laptop\""), "{}", notice.raw);
    }

    fn bad_input_is_answered_with_4xx(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("ada");
        for path in ["/auth/passkeys/register/begin/", "/auth/passkeys/register/finish/"] {
            assert_eq!(app.post(path, None, json!({})).status, 401);
        }
        assert_eq!(app.get("/auth/passkeys/", None).status, 401);
        assert_eq!(app.delete("/auth/passkeys/x/", None, json!({})).status, 401);

        // Adding a passkey needs the password: a token alone adds none.
        for body in [json!({}), json!({"current_password": "not-it"})] {
            let reply = app.post("/auth/passkeys/register/begin/", Some(&token), body.clone());
            assert_eq!(reply.status, 400, "{body}: {}", reply.text);
            assert!(reply.json["current_password"].is_array(), "{}", reply.text);
        }
        for body in [json!({}), json!({"credential": "text"}), json!({"credential": null})] {
            let reply = app.post("/auth/passkeys/register/finish/", Some(&token), body.clone());
            assert_eq!(reply.status, 400, "{body}: {}", reply.text);
            assert!(reply.json["credential"].is_array(), "{}", reply.text);
            assert_eq!(app.post("/auth/passkeys/login/finish/", None, body).status, 400);
        }
        let garbage = json!({"credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {"clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA"}}});
        assert_eq!(app.post("/auth/passkeys/login/finish/", None, garbage.clone()).status, 400);
        assert_eq!(app.post("/auth/passkeys/register/finish/", Some(&token), garbage).status, 400);
        let not_json = app.request("POST", "/auth/passkeys/login/begin/", None, common::Body::Raw("application/json", "{".into()));
        assert_eq!(not_json.status, 400);
        assert_eq!(app.post("/auth/passkeys/login/begin/", None, json!({"username": 7})).status, 400);

        let mut browser = SoftBrowser::new(ORIGIN);
        let options = app.post("/auth/passkeys/register/begin/", Some(&token), json!({"current_password": PASSWORD}));
        let credential = browser.create(&options.json).unwrap();
        let long = app.post("/auth/passkeys/register/finish/", Some(&token), json!({"credential": credential, "name": "x".repeat(65)}));
        assert_eq!(long.status, 400);
        assert!(long.json["name"].is_array(), "{}", long.text);

        // A hand-made authenticator's credential id past WebAuthn's 1023 bytes
        // (PostgreSQL's index could not hold it): refused, not a 503.
        let options = app.post("/auth/passkeys/register/begin/", Some(&token), json!({"current_password": PASSWORD}));
        let credential = browser.create_with_credential_id(&options.json, 3000).unwrap();
        let long_id = app.post("/auth/passkeys/register/finish/", Some(&token), json!({"credential": credential}));
        assert_eq!(long_id.status, 400, "{}", long_id.text);
        assert!(long_id.json["credential"].is_array(), "{}", long_id.text);
    }

    fn another_instance_finishes_what_one_began(backend) {
        let first = TestApp::spawn(&backend);
        let second = first.spawn_beside();
        let token = first.user_with_token("ada");
        let mut browser = SoftBrowser::new(ORIGIN);
        let options = first.post("/auth/passkeys/register/begin/", Some(&token), json!({"current_password": PASSWORD}));
        let credential = browser.create(&options.json).unwrap();
        let body = json!({"credential": credential});
        let registered = second.post("/auth/passkeys/register/finish/", Some(&token), body.clone());
        assert_eq!(registered.status, 201, "{}", registered.text);
        // Taken once, whichever instance is asked.
        assert_eq!(first.post("/auth/passkeys/register/finish/", Some(&token), body).status, 400);

        let response = login_response(&second, &mut browser, None);
        let logged_in = finish_login(&first, &response);
        assert_eq!(logged_in.status, 200, "{}", logged_in.text);
        assert_eq!(finish_login(&second, &response).status, 401);
    }

    fn an_unknown_username_is_answered_like_a_known_one(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("ada");
        register(&app, &token, &mut SoftBrowser::new(ORIGIN), None);
        let known = app.post("/auth/passkeys/login/begin/", None, json!({"username": "ada"}));
        let unknown = app.post("/auth/passkeys/login/begin/", None, json!({"username": "nobody"}));
        let again = app.post("/auth/passkeys/login/begin/", None, json!({"username": "nobody"}));
        assert_eq!((known.status, unknown.status), (200, 200));
        let keys = |options: &Value| {
            let mut keys: Vec<String> = options["publicKey"].as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        assert_eq!(keys(&known.json), keys(&unknown.json));
        // webauthn-rs's fake credential ids: as many as accounts tend to
        // have (sometimes none), the same for the same name every time.
        let allowed = |options: &Value| options["publicKey"]["allowCredentials"].clone();
        assert!(allowed(&unknown.json).is_array());
        assert_eq!(allowed(&unknown.json), allowed(&again.json));
        assert_ne!(known.json["publicKey"]["challenge"], unknown.json["publicKey"]["challenge"]);
    }
}
