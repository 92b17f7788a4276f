//! The security audit log: recorded events, the admin route, the CLI.

mod common;

use std::time::{Duration, Instant};

use common::{Body, TestApp, PASSWORD};
use serde_json::{json, Value};

fn kinds(entries: &Value) -> Vec<String> {
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// The audit entries of `user` once `wanted` has been recorded (writes are
/// asynchronous), newest first.
fn entries_with(app: &TestApp, admin: &str, query: &str, wanted: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reply = app.get(&format!("/auth/audit/?{query}"), Some(admin));
        assert_eq!(reply.status, 200, "{}", reply.text);
        if kinds(&reply.json).iter().any(|k| k == wanted) || Instant::now() > deadline {
            return reply.json;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

backend_tests! {
    fn security_events_are_recorded_and_readable_by_admins(backend) {
        let app = TestApp::spawn(&backend);
        let alice = app.register("alice")["id"].as_i64().unwrap();
        let bob = app.register("bob")["id"].as_i64().unwrap();
        let admin = app.admin_token("boss");

        let failed = app.request_with_headers("POST", "/auth/jwt/create/", &[("User-Agent", "probe/1")],
            Body::Json(json!({"username": "alice", "password": "wrong-password-5"})));
        assert_eq!(failed.status, 401);
        let (access, refresh) = app.login("alice", PASSWORD);
        let new_password = "Another-long-pass-42";
        app.post("/auth/users/set_password/", Some(&access), json!({
            "current_password": PASSWORD, "new_password": new_password, "re_new_password": new_password,
        }));
        let first = app.post("/auth/jwt/refresh/", None, json!({"refresh": refresh}));
        assert_eq!(first.status, 200);
        assert_eq!(app.post("/auth/jwt/refresh/", None, json!({"refresh": refresh})).status, 401);
        let (second, _) = app.login("alice", new_password);
        app.post("/auth/logout", Some(&second), json!({}));
        assert_eq!(app.patch(&format!("/auth/users/{bob}/"), Some(&admin), json!({"first_name": "Bobby"})).status, 200);

        let entries = entries_with(&app, &admin, &format!("user={alice}"), "logout");
        let recorded = kinds(&entries);
        for kind in ["login_success", "password_changed", "refresh_reuse_detected", "logout"] {
            assert!(recorded.contains(&kind.to_owned()), "{kind} missing from {recorded:?}");
        }
        let success = entries.as_array().unwrap().iter().find(|e| e["kind"] == "login_success").unwrap();
        assert_eq!(success["ip"], "127.0.0.1");
        assert!(success["at"].as_str().unwrap().ends_with('Z'));

        let failures = entries_with(&app, &admin, "kind=login_failure", "login_failure");
        let failure = &failures[0];
        assert_eq!(failure["user_agent"], "probe/1");
        assert!(failure["detail"].as_str().unwrap().contains("alice"));
        assert!(!failures.to_string().contains("wrong-password-5"), "no password in the log");

        let admin_changes = entries_with(&app, &admin, "kind=admin_changed_user", "admin_changed_user");
        assert_eq!(admin_changes[0]["detail"], format!("user {bob}: first_name"), "what changed, too");
        assert_eq!(app.get("/auth/audit/?limit=2", Some(&admin)).json.as_array().unwrap().len(), 2);

        // Not for others.
        let (alice_token, _) = app.login("alice", new_password);
        let refused = app.get("/auth/audit/", Some(&alice_token));
        assert_eq!(refused.status, 403);
        assert_eq!(refused.json["code"], "permission_denied");
        let refused_first = app.get("/auth/audit/?user=abc&skip=-1", Some(&alice_token));
        assert_eq!(refused_first.status, 403, "a non-admin learns nothing about the query");
        assert_eq!(app.get("/auth/audit/", None).status, 401);
        let bad_user = app.get("/auth/audit/?user=abc&kind=logout", Some(&admin));
        assert_eq!((bad_user.status, bad_user.json.clone()), (400, json!({"user": ["A valid integer is required."]})));
        let every_bad = app.get("/auth/audit/?user=1.5&skip=-1&limit=x", Some(&admin));
        assert_eq!(every_bad.json, json!({
            "skip": ["Ensure this value is greater than or equal to 0."],
            "limit": ["A valid integer is required."],
            "user": ["A valid integer is required."],
        }));
        let blank = app.get(&format!("/auth/audit/?user=%20{alice}%20&kind="), Some(&admin));
        assert_eq!(blank.status, 200, "{}", blank.text);
        assert!(blank.json.as_array().unwrap().iter().all(|e| e["user_id"] == alice));

        // And from the command line.
        let printed = app.cli(&["audit", "--user", "alice"], "");
        assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
        let text = String::from_utf8_lossy(&printed.stdout);
        assert!(text.contains("login_success") && text.contains("refresh_reuse_detected"), "{text}");
    }

    fn changes_made_from_the_command_line_are_audited(backend) {
        let app = TestApp::spawn(&backend);
        let admin = app.admin_token("boss");
        let created = app.cli(&["user", "create", "--username", "ops", "--password-stdin"], &format!("{PASSWORD}\n"));
        assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
        for args in [["user", "promote", "ops"], ["user", "deactivate", "ops"], ["user", "activate", "ops"]] {
            let output = app.cli(&args, "");
            assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        }
        let ops = app.get("/auth/audit/?kind=admin_created_user", Some(&admin)).json;
        let ops_created = ops.as_array().unwrap().iter()
            .find(|e| e["detail"].as_str().is_some_and(|d| d.ends_with("is_staff=false")))
            .unwrap_or_else(|| panic!("no record of `user create`: {ops}"));
        let id = ops_created["user_id"].as_i64().unwrap();
        assert_eq!(ops_created["ip"], Value::Null, "no address on the command line");
        assert_eq!(ops_created["user_agent"], "sesame command line");

        let changes = app.get(&format!("/auth/audit/?user={id}&kind=admin_changed_user"), Some(&admin)).json;
        let details: Vec<&str> = changes.as_array().unwrap().iter().map(|e| e["detail"].as_str().unwrap()).collect();
        assert_eq!(details, [
            format!("user {id}: is_active=true"),
            format!("user {id}: is_active=false"),
            format!("user {id}: is_staff=true"),
        ], "newest first");
        assert!(changes.as_array().unwrap().iter().all(|e| e["user_agent"] == "sesame command line"));
    }

    fn session_and_second_factor_changes_are_audited_by_the_services(backend) {
        let app = TestApp::spawn(&backend);
        let admin = app.admin_token("boss");
        let alice = app.register("alice")["id"].as_i64().unwrap();
        let (first, _) = app.login("alice", PASSWORD);
        let (second, _) = app.login("alice", PASSWORD);
        let sessions = app.get("/auth/sessions/", Some(&first)).json;
        let other = sessions.as_array().unwrap().iter()
            .find(|s| s["current"] == false)
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .expect("the second login's session");
        assert_eq!(app.delete(&format!("/auth/sessions/{other}/"), Some(&first), json!({})).status, 204);
        assert_eq!(app.get("/auth/users/me/", Some(&second)).status, 401, "ended");

        let setup = app.post("/auth/mfa/totp/setup/", Some(&first), json!({"current_password": PASSWORD}));
        let secret = setup.json["secret"].as_str().unwrap().to_owned();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let code = sesame_tokens::totp_code(&secret, now).unwrap();
        let confirmed = app.post("/auth/mfa/totp/confirm/", Some(&first), json!({"code": code}));
        assert_eq!(confirmed.status, 200, "{}", confirmed.text);
        let recovery = confirmed.json["recovery_codes"][0].as_str().unwrap().to_owned();
        let disabled = app.delete("/auth/mfa/totp/", Some(&first), json!({"current_password": PASSWORD, "code": recovery}));
        assert_eq!(disabled.status, 204, "{}", disabled.text);
        assert_eq!(app.post("/auth/logout/all/", Some(&first), json!({})).status, 204);

        let entries = entries_with(&app, &admin, &format!("user={alice}"), "logout_all");
        let recorded = kinds(&entries);
        for kind in ["session_ended", "mfa_enabled", "mfa_disabled", "logout_all"] {
            let entry = entries.as_array().unwrap().iter().find(|e| e["kind"] == kind)
                .unwrap_or_else(|| panic!("{kind} missing from {recorded:?}"));
            assert_eq!(entry["ip"], "127.0.0.1", "{kind}: the caller's address");
        }
        assert_eq!(recorded.iter().filter(|k| *k == "mfa_enabled").count(), 1, "once, not by route and service both");
    }

    fn deletions_are_audited_by_the_service_with_the_caller(backend) {
        let app = TestApp::spawn(&backend);
        let admin = app.admin_token("boss");
        let alice = app.register("alice")["id"].as_i64().unwrap();
        let bob = app.register("bob")["id"].as_i64().unwrap();
        let (access, _) = app.login("alice", PASSWORD);
        let refused = app.delete("/auth/users/me/", Some(&access), json!({"current_password": "wrong-password-5"}));
        assert_eq!(refused.status, 400);
        assert_eq!(app.delete("/auth/users/me/", Some(&access), json!({"current_password": PASSWORD})).status, 204);
        assert_eq!(app.delete(&format!("/auth/users/{bob}/"), Some(&admin), json!({"current_password": PASSWORD})).status, 204);

        let own = entries_with(&app, &admin, "kind=account_deleted", "account_deleted");
        let own = own.as_array().unwrap();
        assert_eq!(own.len(), 1, "once, and not for the refused try: {own:?}");
        assert_eq!(own[0]["user_id"], alice);
        assert_eq!(own[0]["detail"], format!("user {alice}"));
        assert_eq!(own[0]["ip"], "127.0.0.1");
        let by_admin = entries_with(&app, &admin, "kind=admin_deleted_user", "admin_deleted_user");
        assert_eq!(by_admin[0]["detail"], format!("user {bob}"));
        assert_ne!(by_admin[0]["user_id"], bob, "the acting admin");
        assert_eq!(by_admin[0]["ip"], "127.0.0.1");
    }
}
