//! One name, one account (issue 17, item 5): look-alike usernames and
//! emails are the same key; mixed scripts and a username that is another
//! account's email are refused. Undeliverable emails are refused (item 17).
//! The password policy judges similarity as Django does. Black-box over
//! HTTP, on both backends.

mod common;

use common::{Reply, TestApp, PASSWORD};
use serde_json::json;

/// Registers through the primary surface.
fn register(app: &TestApp, username: &str, email: &str, password: &str) -> Reply {
    app.post(
        "/auth/users/",
        None,
        json!({"username": username, "email": email, "password": password, "re_password": password}),
    )
}

/// The messages of `field` in a primary-surface error body.
fn messages(reply: &Reply, field: &str) -> Vec<String> {
    reply.json[field]
        .as_array()
        .unwrap_or_else(|| panic!("no {field} errors in {}", reply.text))
        .iter()
        .map(|m| m.as_str().unwrap_or_default().to_owned())
        .collect()
}

const USERNAME_TAKEN: &str = "A user with that username already exists.";
const EMAIL_TAKEN: &str = "A user with that email already exists.";

backend_tests! {
    fn look_alike_usernames_are_taken(backend) {
        let app = TestApp::spawn(&backend);
        app.register("root");
        app.register("admin");
        for (i, look_alike) in ["ｒｏｏｔ", "ᴿᴼᴼᵀ", "ＲＯＯＴ", "Root", "ａｄｍｉｎ", "ᵃᵈᵐⁱⁿ"].iter().enumerate() {
            let reply = register(&app, look_alike, &format!("x{i}@example.com"), PASSWORD);
            assert_eq!(reply.status, 400, "{look_alike}: {}", reply.text);
            assert_eq!(messages(&reply, "username"), vec![USERNAME_TAKEN], "{look_alike}");
        }
        // Renaming to a look-alike is refused the same way.
        let token = app.user_with_token("carol");
        let reply = app.post(
            "/auth/users/set_username/",
            Some(&token),
            json!({"current_password": PASSWORD, "new_username": "ｒｏｏｔ"}),
        );
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert_eq!(messages(&reply, "new_username"), vec![USERNAME_TAKEN]);
    }

    fn usernames_that_mix_scripts_are_refused(backend) {
        let app = TestApp::spawn(&backend);
        // Latin r and t with Cyrillic о; Latin with Greek ο. No root exists:
        // the name is refused for what it is.
        for mixed in ["r\u{43e}\u{43e}t", "r\u{3bf}\u{3bf}t", "p\u{430}ypal"] {
            let reply = register(&app, mixed, "someone@example.com", PASSWORD);
            assert_eq!(reply.status, 400, "{mixed}: {}", reply.text);
            let problems = messages(&reply, "username");
            assert!(problems[0].contains("mix scripts"), "{mixed}: {problems:?}");
        }
        // One script, any script, is fine.
        assert_eq!(register(&app, "Дмитрий", "d@example.com", PASSWORD).status, 201);
        assert_eq!(register(&app, "Élodie_2", "e@example.com", PASSWORD).status, 201);
        assert_eq!(register(&app, "张伟", "z@example.com", PASSWORD).status, 201);
        // Letters UTS 39 keeps out of identifiers: an invisible Hangul filler
        // making a twin of 张伟 (or a blank name), a Latin alpha standing for a.
        for odd in ["张伟\u{3164}", "\u{3164}", "张伟\u{FFA0}", "\u{251}dmin"] {
            let reply = register(&app, odd, "odd@example.com", PASSWORD);
            assert_eq!(reply.status, 400, "{odd:?}: {}", reply.text);
            assert!(!messages(&reply, "username").is_empty(), "{odd:?}");
        }
    }

    fn a_username_that_is_another_accounts_email_is_refused(backend) {
        let app = TestApp::spawn(&backend);
        app.register("root");
        for username in ["root@example.com", "ROOT@Example.COM", "root@ｅxample.com"] {
            let reply = register(&app, username, "mallory@example.com", PASSWORD);
            assert_eq!(reply.status, 400, "{username}: {}", reply.text);
            assert_eq!(messages(&reply, "username"), vec![USERNAME_TAKEN], "{username}");
        }
        // And an email that is another account's username.
        assert_eq!(register(&app, "carol@example.org", "carol@example.net", PASSWORD).status, 201);
        let reply = register(&app, "mallory", "Carol@Example.org", PASSWORD);
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert_eq!(messages(&reply, "email"), vec![EMAIL_TAKEN]);
        // One's own email as one's username is fine.
        assert_eq!(register(&app, "dave@example.com", "dave@example.com", PASSWORD).status, 201);
    }

    fn look_alike_emails_are_taken(backend) {
        let app = TestApp::spawn(&backend);
        app.register("root");
        for (i, look_alike) in ["root@ｅxample.com", "ｒｏｏｔ@example.com", "ROOT@EXAMPLE.COM"].iter().enumerate() {
            let reply = register(&app, &format!("other{i}"), look_alike, PASSWORD);
            assert_eq!(reply.status, 400, "{look_alike}: {}", reply.text);
            assert_eq!(messages(&reply, "email"), vec![EMAIL_TAKEN], "{look_alike}");
        }
        // An internationalized domain is one mailbox, spelt in ASCII or not.
        assert_eq!(register(&app, "idn", "user@bücher.example", PASSWORD).status, 201);
        let reply = register(&app, "idn2", "User@XN--BCHER-KVA.example", PASSWORD);
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert_eq!(messages(&reply, "email"), vec![EMAIL_TAKEN]);
        // A free full-width address is stored in its plain form.
        let reply = register(&app, "fw", "ｆｗ@example.com", PASSWORD);
        assert_eq!(reply.status, 201, "{}", reply.text);
        assert_eq!(reply.json["email"], "fw@example.com");
    }

    fn logging_in_by_a_look_alike_reaches_the_account(backend) {
        let app = TestApp::spawn(&backend);
        app.register("root");
        for login in ["ＲＯＯＴ", "ᴿᴼᴼᵀ", "root@ｅxample.com"] {
            let reply = app.post("/auth/jwt/create/", None, json!({"username": login, "password": PASSWORD}));
            assert_eq!(reply.status, 200, "{login}: {}", reply.text);
            let me = app.get("/auth/users/me/", Some(&reply.str("access")));
            assert_eq!(me.json["username"], "root", "{login}");
        }
    }

    fn a_look_alike_login_counts_against_the_same_lock(backend) {
        let app = TestApp::spawn_with(&backend, |config| {
            config.rate_limit.enabled = true;
            config.rate_limit.failed_logins_per_account = 2;
        });
        app.register("target");
        for expected in [401, 401, 429] {
            let wrong = app.post(
                "/auth/jwt/create/",
                None,
                json!({"username": "ｔａｒｇｅｔ", "password": "not-the-password"}),
            );
            assert_eq!(wrong.status, expected, "{}", wrong.text);
        }
        let locked = app.post("/auth/jwt/create/", None, json!({"username": "target", "password": PASSWORD}));
        assert_eq!(locked.status, 429, "{}", locked.text);
    }

    fn undeliverable_emails_are_refused(backend) {
        let app = TestApp::spawn(&backend);
        for (i, bad) in [
            "=?utf-8?q?ceo=40corp.com?=@evil.test",
            ".a@x.com",
            "a..b@x.com",
            "a@-x.com",
            "\"ceo\"@x.com",
            "a,b@x.com",
            "<a@x.com>",
            "a b@x.com",
            "a\r\nBcc: b@x.com@x.com",
        ]
        .iter()
        .enumerate()
        {
            let username = format!("u{i}");
            let reply = register(&app, &username, bad, PASSWORD);
            assert_eq!(reply.status, 400, "{bad:?}: {}", reply.text);
            assert_eq!(messages(&reply, "email"), vec!["Enter a valid email address."], "{bad:?}");
            let seed = app.post(
                "/register",
                None,
                json!({"username": format!("s{i}"), "email": bad, "password": PASSWORD}),
            );
            assert!(matches!(seed.status, 400 | 422), "{bad:?} on /register: {}", seed.text);
            assert!(seed.text.contains("email"), "{bad:?} on /register: {}", seed.text);
        }
        // Nothing was stored: the names are free.
        app.register("u0");
        let seed = app.post(
            "/register",
            None,
            json!({"username": "s0", "email": "s0@example.com", "password": PASSWORD}),
        );
        assert_eq!(seed.status, 200, "{}", seed.text);
    }

    fn passwords_are_judged_by_similarity_not_shared_letters(backend) {
        let app = TestApp::spawn(&backend);
        let reply = register(&app, "bob", "bob@example.com", "kabob-stew-2024!");
        assert_eq!(reply.status, 201, "{}", reply.text);
        let reply = register(&app, "perf", "perf@example.com", "perf-123-correct-horse-battery");
        assert_eq!(reply.status, 201, "{}", reply.text);
        let login = app.post("/auth/jwt/create/", None, json!({"username": "bob", "password": "kabob-stew-2024!"}));
        assert_eq!(login.status, 200, "{}", login.text);

        let reply = register(&app, "bobby", "bobby@example.org", "bobby12345!");
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert_eq!(messages(&reply, "password"), vec!["The password is too similar to the username."]);
        let reply = register(&app, "kim", "marguerite@example.org", "marguerite@example");
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert_eq!(messages(&reply, "password"), vec!["The password is too similar to the email address."]);
    }
}
