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

        // Sessions of every kind and surface are listed: an opaque one too.
        let (third, _) = app.login("alice", PASSWORD);
        let opaque_user = app.post("/auth/register", None, json!({"username": "olga", "password": PASSWORD}));
        let olga = opaque_user.str("token");
        let (_, _) = app.login("olga", PASSWORD);
        let olga_sessions = app.get("/auth/sessions/", Some(&olga)).json;
        let olga_kinds: Vec<_> = olga_sessions.as_array().unwrap().iter().map(|s| s["kind"].clone()).collect();
        assert_eq!(olga_kinds.len(), 2, "{olga_sessions}");
        assert!(olga_kinds.contains(&json!("opaque")) && olga_kinds.contains(&json!("jwt")));

        // Logging out everywhere ends this session too, and closes the sockets.
        let mut third_socket = app.socket(&third);
        assert_eq!(app.post("/auth/logout/all/", Some(&first), json!({})).status, 204);
        for token in [&first, &third] {
            assert_eq!(app.get("/auth/users/me/", Some(token)).status, 401);
        }
        assert!(matches!(third_socket.next(Duration::from_secs(2)), Event::Closed(1008, _)));
        assert_eq!(app.post("/auth/jwt/refresh/", None, json!({"refresh": first_refresh})).status, 401);
        assert_eq!(app.get("/auth/users/me/", Some(&mallory)).status, 200);
    }

    fn fifty_wrong_passwords_are_reported_to_the_owner_and_lock_nothing(backend) {
        let app = TestApp::spawn(&backend);
        app.register("paula");
        for attempt in 0..sesame_tokens::PASSWORD_ALERT_AFTER {
            let guess = json!({"username": "paula", "password": format!("guess-{attempt}")});
            assert_eq!(app.post("/auth/jwt/create/", None, guess).status, 401);
        }
        let outbox = app.data_dir.join("outbox");
        let alert = common::outbox::nth_mail(&outbox, "paula@example.com", 1);
        assert!(alert.subject().contains("trying passwords"), "{}", alert.subject());
        assert!(alert.body.contains("tried 50 wrong passwords"), "{}", alert.body);
        assert!(!app.login("paula", PASSWORD).0.is_empty(), "nothing was locked");
    }

    fn wrong_current_passwords_sent_with_a_token_are_reported_too(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("quentin");
        for attempt in 0..sesame_tokens::PASSWORD_ALERT_AFTER {
            let change = json!({
                "current_password": format!("guess-{attempt}"),
                "new_password": "An0ther!passphrase",
                "re_new_password": "An0ther!passphrase",
            });
            assert_eq!(app.post("/auth/users/set_password/", Some(&token), change).status, 400);
        }
        let outbox = app.data_dir.join("outbox");
        let alert = common::outbox::nth_mail(&outbox, "quentin@example.com", 1);
        assert!(alert.subject().contains("trying passwords"), "{}", alert.subject());
        assert!(alert.body.contains("tried 50 wrong passwords"), "{}", alert.body);
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

/// `sesame ARGS` on `app`'s data dir and database, with MFA key `key`
/// (the data dir's when `None`); `serve` binds a free port.
fn sesame_with_key(app: &TestApp, args: &[&str], key: Option<&str>) -> std::process::Output {
    let mut env = vec![
        ("SESAME__DATA_DIR", app.data_dir.to_str().unwrap()),
        ("DATABASE_URL", app.database_url.as_str()),
        ("SESAME__HTTP__BIND", "127.0.0.1:0"),
    ];
    env.extend(key.map(|key| ("SESAME__MFA__ENCRYPTION_KEY", key)));
    common::run_cli(args, "", &env)
}

mod totp {
    use super::*;

    backend_tests! {
        fn a_server_with_another_mfa_key_does_not_start(backend) {
            let app = TestApp::spawn(&backend);
            let token = app.user_with_token("grace");
            let setup = app.post("/auth/mfa/totp/setup/", Some(&token), json!({"current_password": PASSWORD}));
            assert_eq!(setup.status, 200, "{}", setup.text);
            let other_key = "another key of forty characters, or more";
            let serve = sesame_with_key(&app, &["serve"], Some(other_key));
            assert!(!serve.status.success());
            let stderr = String::from_utf8_lossy(&serve.stderr);
            assert!(stderr.contains("mfa.encryption_key") && stderr.contains("totp-off"), "{stderr}");
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
            // The instance with the right key still serves the code.
            let confirm = json!({"code": code(&setup.str("secret"), 0)});
            assert_eq!(app.post("/auth/mfa/totp/confirm/", Some(&token), confirm).status, 200);
            // Were the key lost, the way out is to turn TOTP off everywhere.
            app.register("henry");
            let henry = app.login("henry", PASSWORD).0;
            let pending = app.post("/auth/mfa/totp/setup/", Some(&henry), json!({"current_password": PASSWORD}));
            assert_eq!(pending.status, 200);
            let off = app.cli(&["user", "totp-off", "--every-account"], "");
            let said = String::from_utf8_lossy(&off.stdout);
            assert!(off.status.success(), "{said}{}", String::from_utf8_lossy(&off.stderr));
            assert!(said.contains("TOTP is off for 1 account(s)"), "{said}");
            let login = app.post("/auth/jwt/create/", None, json!({"username": "grace", "password": PASSWORD}));
            assert_eq!(login.status, 200, "{}", login.text);
            let confirm = json!({"code": code(&pending.str("secret"), 0)});
            assert_ne!(app.post("/auth/mfa/totp/confirm/", Some(&henry), confirm).status, 200, "the setup was dropped");
        }

        fn an_instance_with_another_mfa_key_does_not_start_before_any_secret_is_stored(backend) {
            let app = TestApp::spawn(&backend);
            let other_key = "another key of forty characters, or more";
            let serve = sesame_with_key(&app, &["serve"], Some(other_key));
            assert!(!serve.status.success());
            let stderr = String::from_utf8_lossy(&serve.stderr);
            assert!(stderr.contains("not the key the database records") && stderr.contains("--every-account"), "{stderr}");
            // Turning off the secrets that key does not open (none) does not make it the recorded one.
            let none_stored = sesame_with_key(&app, &["user", "totp-off", "--unreadable"], Some(other_key));
            let said = String::from_utf8_lossy(&none_stored.stdout);
            assert!(none_stored.status.success() && said.contains("TOTP is off for 0"), "{said}");
            assert!(!said.contains("every instance now needs"), "{said}");
            // An instance with the same key starts.
            let beside = app.spawn_beside();
            assert_eq!(beside.get("/healthz", None).status, 200);
        }

        fn secrets_sealed_with_a_lost_key_are_found_and_turned_off_alone(backend) {
            // Two instances that each made their own key, as before start
            // checked it: each sealed the secrets set up through it. (Here
            // the other key is made the recorded one, as `--every-account`
            // does, so that an instance with it starts beside the first.)
            let app = TestApp::spawn(&backend);
            let other_key = "another key of forty characters, or more";
            let adopt = sesame_with_key(&app, &["user", "totp-off", "--every-account"], Some(other_key));
            assert!(adopt.status.success(), "{}", String::from_utf8_lossy(&adopt.stderr));
            let beside = app.spawn_beside_with(|config| config.mfa.encryption_key = Some(other_key.into()));
            let set_up = |instance: &TestApp, name: &str| {
                let token = instance.user_with_token(name);
                let setup = instance.post("/auth/mfa/totp/setup/", Some(&token), json!({"current_password": PASSWORD}));
                let confirm = json!({"code": code(&setup.str("secret"), 0)});
                assert_eq!(instance.post("/auth/mfa/totp/confirm/", Some(&token), confirm).status, 200);
            };
            set_up(&app, "grace");
            set_up(&beside, "henry");
            drop(beside);
            let serve = sesame_with_key(&app, &["serve"], None);
            assert!(!serve.status.success());
            let stderr = String::from_utf8_lossy(&serve.stderr);
            assert!(stderr.contains("does not open 1 of the 2 TOTP secrets") && stderr.contains("--unreadable"), "{stderr}");
            // A shell with neither key (not the server's settings) is refused:
            // it would take every secret for one sealed with a lost key.
            let wrong_shell = sesame_with_key(&app, &["user", "totp-off", "--unreadable"], Some("a third key, in a shell that is not the server's"));
            let stderr = String::from_utf8_lossy(&wrong_shell.stderr);
            assert!(!wrong_shell.status.success(), "{}", String::from_utf8_lossy(&wrong_shell.stdout));
            assert!(stderr.contains("opens none of the 2 TOTP secrets") && stderr.contains("--every-account"), "{stderr}");
            // The secrets the other key sealed are turned off; this key's stay.
            let off = app.cli(&["user", "totp-off", "--unreadable"], "");
            let said = String::from_utf8_lossy(&off.stdout);
            assert!(off.status.success(), "{said}{}", String::from_utf8_lossy(&off.stderr));
            assert!(said.contains("TOTP is off for 1 account(s)"), "{said}");
            let without_code = |name: &str| app.post("/auth/jwt/create/", None, json!({"username": name, "password": PASSWORD})).status;
            assert_eq!(without_code("henry"), 200);
            assert_ne!(without_code("grace"), 200, "grace's TOTP was turned off");
            // The key that turned them off is the recorded one now.
            assert_eq!(app.spawn_beside().get("/healthz", None).status, 200);
        }

        fn an_operator_turns_it_off_for_an_owner_who_lost_everything(backend) {
            let app = TestApp::spawn(&backend);
            let token = app.user_with_token("grace");
            let setup = app.post("/auth/mfa/totp/setup/", Some(&token), json!({"current_password": PASSWORD}));
            let confirm = json!({"code": code(&setup.str("secret"), 0)});
            assert_eq!(app.post("/auth/mfa/totp/confirm/", Some(&token), confirm).status, 200);
            let required = app.post("/auth/jwt/create/", None, json!({"username": "grace", "password": PASSWORD}));
            assert_eq!(required.json["code"], "otp_required");

            let reset = app.cli(&["user", "totp-off", "grace"], "");
            let said = String::from_utf8_lossy(&reset.stdout);
            assert!(reset.status.success(), "{said}{}", String::from_utf8_lossy(&reset.stderr));
            assert!(said.contains("TOTP is off"), "{said}");
            // The lost phone's session ends (the server hears of the change at once).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
            while app.get("/auth/users/me/", Some(&token)).status != 401 {
                assert!(std::time::Instant::now() < deadline, "the session outlived the reset");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let (fresh, _) = app.login("grace", PASSWORD);
            let again = app.cli(&["user", "totp-off", "grace"], "");
            assert!(String::from_utf8_lossy(&again.stdout).contains("had TOTP off"));
            assert!(!app.cli(&["user", "totp-off", "nobody"], "").status.success());

            let admin = app.admin_token("root");
            let audit = app.get("/auth/audit/?kind=mfa_reset", Some(&admin));
            assert_eq!(audit.json.as_array().map(Vec::len), Some(1), "{}", audit.text);
            assert_eq!(app.get("/auth/users/me/", Some(&fresh)).status, 200);
        }

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

mod email_change {
    use super::*;
    use common::outbox::nth_mail;

    const CONFIRM: &str = "http://localhost:8080/account/email/confirm/";

    backend_tests! {
        fn the_new_address_confirms_the_change(backend) {
            let app = TestApp::spawn(&backend);
            let token = app.user_with_token("henri");
            app.register("other");
            let outbox = app.data_dir.join("outbox");
            let ask = |password: &str, email: &str| {
                app.post("/auth/users/set_email/", Some(&token), json!({"current_password": password, "new_email": email}))
            };
            let wrong = ask("not-my-password", "henri@new.example.com");
            assert_eq!((wrong.status, wrong.json.clone()), (400, json!({"current_password": ["Invalid password."]})));
            let taken = ask(PASSWORD, "OTHER@example.com");
            assert_eq!(taken.status, 400);
            assert!(taken.json["new_email"].is_array());
            assert_eq!(ask(PASSWORD, "not-an-address").status, 400);

            // A link to the new address, a notice to the old; nothing changes yet.
            assert_eq!(ask(PASSWORD, "henri@new.example.com").status, 204);
            let link = nth_mail(&outbox, "henri@new.example.com", 1);
            let notice = nth_mail(&outbox, "henri@example.com", 1);
            assert!(notice.subject().contains("changing"));
            assert_eq!(app.get("/auth/users/me/", Some(&token)).json["email"], "henri@example.com");
            let (uid, link_token) = link.uid_token(CONFIRM);

            let tampered = format!("{}.{}", link_token.split('.').next().unwrap(), "ZXZpbEBleGFtcGxlLmNvbQ");
            let refused = app.post("/auth/users/set_email_confirm/", None, json!({"uid": uid, "token": tampered}));
            assert_eq!(refused.status, 400);
            let confirmed = app.post("/auth/users/set_email_confirm/", None, json!({"uid": uid, "token": link_token}));
            assert_eq!(confirmed.status, 204, "{}", confirmed.text);
            assert_eq!(app.get("/auth/users/me/", Some(&token)).json["email"], "henri@new.example.com");
            let again = app.post("/auth/users/set_email_confirm/", None, json!({"uid": uid, "token": link_token}));
            assert_eq!(again.status, 400, "single use");
            app.login("henri@new.example.com", PASSWORD);

            // An address sent three links this hour gets no fourth, and the
            // one asking is told.
            for _ in 0..3 {
                assert_eq!(ask(PASSWORD, "henri@third.example.com").status, 204);
            }
            let fourth = ask(PASSWORD, "henri@third.example.com");
            let words = json!({"new_email": ["No link can be sent to this address now. Try again in an hour."]});
            assert_eq!((fourth.status, fourth.json), (400, words));
        }

        fn a_password_change_or_a_taken_address_kills_the_link(backend) {
            let app = TestApp::spawn(&backend);
            let token = app.user_with_token("iris");
            let outbox = app.data_dir.join("outbox");
            let ask = |email: &str| app.post("/auth/users/set_email/", Some(&token), json!({"current_password": PASSWORD, "new_email": email}));

            assert_eq!(ask("iris@first.example.com").status, 204);
            let (uid, first) = nth_mail(&outbox, "iris@first.example.com", 1).uid_token(CONFIRM);
            let new_password = "Another-long-pass-42";
            let changed = app.post("/auth/users/set_password/", Some(&token), json!({
                "current_password": PASSWORD, "new_password": new_password, "re_new_password": new_password,
            }));
            assert_eq!(changed.status, 204);
            let dead = app.post("/auth/users/set_email_confirm/", None, json!({"uid": uid, "token": first}));
            assert_eq!(dead.status, 400);

            let second_ask = app.post("/auth/users/set_email/", Some(&token), json!({"current_password": new_password, "new_email": "iris@second.example.com"}));
            assert_eq!(second_ask.status, 204);
            let (uid, second) = nth_mail(&outbox, "iris@second.example.com", 1).uid_token(CONFIRM);
            // Someone else takes the address before the link is used.
            let squatter = app.post("/auth/users/", None, json!({
                "username": "squatter", "email": "iris@second.example.com", "password": PASSWORD, "re_password": PASSWORD,
            }));
            assert_eq!(squatter.status, 201);
            let late = app.post("/auth/users/set_email_confirm/", None, json!({"uid": uid, "token": second}));
            assert_eq!(late.status, 400);
            assert!(late.json["new_email"].is_array(), "{}", late.text);
            assert_eq!(app.get("/auth/users/me/", Some(&token)).json["email"], "iris@example.com");
        }
    }
}

mod bad_fields {
    use super::*;

    backend_tests! {
        fn a_wrong_type_does_not_hide_the_other_fields(backend) {
            let app = TestApp::spawn(&backend);
            let token = app.user_with_token("judith");

            let disable = app.delete("/auth/mfa/totp/", Some(&token), json!({"current_password": 12345}));
            assert_eq!(disable.status, 400, "{}", disable.text);
            assert_eq!(disable.json, json!({
                "current_password": ["Not a valid string."],
                "code": ["This field is required."],
            }));

            let email = app.post("/auth/users/set_email/", Some(&token), json!({"current_password": null, "new_email": ["a@example.com"]}));
            assert_eq!(email.json, json!({
                "current_password": ["This field may not be null."],
                "new_email": ["Not a valid string."],
            }));
            let confirm = app.post("/auth/users/set_email_confirm/", None, json!({"uid": true}));
            assert_eq!(confirm.json, json!({
                "uid": ["Not a valid string."],
                "token": ["This field is required."],
            }));

            // A body that is no object, and no token at all, come first.
            let list = app.post("/auth/mfa/totp/confirm/", Some(&token), json!(["code"]));
            assert_eq!((list.status, list.json["code"].clone()), (400, json!("invalid")));
            assert_eq!(app.post("/auth/mfa/totp/setup/", None, json!({"current_password": 1})).status, 401);
            // A refused token too, checked before the body is read.
            let ended = app.user_with_token("judith2");
            assert_eq!(app.post("/auth/logout/all/", Some(&ended), json!({})).status, 204);
            for token in [ended.as_str(), "not.a.token"] {
                let refused = app.post("/auth/mfa/totp/confirm/", Some(token), json!({"code": 5}));
                assert_eq!((refused.status, refused.json["code"].clone()), (401, json!("token_not_valid")), "{}", refused.text);
                let refused = app.post("/auth/users/set_email/", Some(token), json!({}));
                assert_eq!(refused.status, 401, "{}", refused.text);
            }
        }
    }
}

mod limits {
    use super::*;

    backend_tests! {
        fn mfa_and_email_change_routes_count_against_the_address_limit(backend) {
            let app = TestApp::spawn_with(&backend, |config| {
                config.rate_limit.enabled = true;
                config.rate_limit.per_ip_burst = 2;
                config.rate_limit.per_ip_per_minute = 1;
                config.http.trusted_proxy_header = Some("X-Forwarded-For".into());
            });
            let token = app.user_with_token("kim");
            let bearer = format!("Bearer {token}");
            let send = |method: &str, path: &str, ip: &str| {
                app.request_with_headers(method, path, &[("X-Forwarded-For", ip), ("Authorization", &bearer)], Body::Json(json!({})))
            };
            for (method, path, ip) in [
                ("POST", "/auth/mfa/totp/confirm/", "10.0.1.1"),
                ("DELETE", "/auth/mfa/totp/", "10.0.1.2"),
                ("POST", "/auth/users/set_email/", "10.0.1.3"),
            ] {
                for _ in 0..2 {
                    assert_eq!(send(method, path, ip).status, 400, "{method} {path}");
                }
                let refused = send(method, path, ip);
                assert_eq!((refused.status, refused.json["code"].clone()), (429, json!("throttled")), "{method} {path}");
            }
            for _ in 0..3 {
                assert_eq!(send("GET", "/auth/sessions/", "10.0.1.4").status, 200, "not a credential route");
            }
        }
    }
}
