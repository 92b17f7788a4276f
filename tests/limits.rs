//! Limits that hold however a request is spelled, failed logins counted per
//! account with locks that grow, the alert on guessed codes, the cap on flow
//! emails, what the audit log keeps of unknown logins, and the bounded
//! metrics labels (issue 17, items 2, 4, 6, 8 and the attacker-grown state).

mod common;

use std::time::{Duration, Instant};

use common::outbox::{outbox, wait_for_mail};
use common::{Body, Reply, TestApp, PASSWORD};
use serde_json::{json, Value};

fn limited(backend: &common::Backend, adjust: impl FnOnce(&mut sesame_server::Config)) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.rate_limit.enabled = true;
        adjust(config);
    })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn totp(secret: &str, offset: i64) -> String {
    sesame_tokens::totp_code(secret, now() + offset).unwrap()
}

/// Gives a background flow time to run, for checks that nothing more was sent.
fn settle() {
    std::thread::sleep(Duration::from_millis(500));
}

fn retry_after(reply: &Reply) -> u64 {
    reply
        .header("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After on {}: {}", reply.status, reply.text))
        .parse()
        .unwrap()
}

fn jwt_login(app: &TestApp, login: &str, password: &str) -> Reply {
    app.post(
        "/auth/jwt/create/",
        None,
        json!({"username": login, "password": password}),
    )
}

/// The audit entries of `kind`, once there is one (writes are asynchronous).
fn audit_entries(app: &TestApp, admin: &str, kind: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reply = app.get(&format!("/auth/audit/?kind={kind}"), Some(admin));
        assert_eq!(reply.status, 200, "{}", reply.text);
        if !reply.json.as_array().unwrap().is_empty() || Instant::now() > deadline {
            return reply.json;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends `head` as it is and reads the answer until the server closes.
fn raw_request(app: &TestApp, head: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(app.base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// A login with a wrong password, its client address given in `forwarded`.
fn wrong_login_forwarded(app: &TestApp, forwarded: &[(&str, &str)]) -> Reply {
    let body = json!({"username": "nobody", "password": "wrong-password-1"});
    app.request_with_headers("POST", "/auth/jwt/create/", forwarded, Body::Json(body))
}

/// Which shape a 429 must have: the key its JSON carries the message under.
fn shaped(reply: &Reply, key: &str) -> bool {
    reply.json[key].is_string()
}

backend_tests! {
    fn encoded_paths_count_as_the_route_they_reach(backend) {
        // Each spelling comes from its own client address, so each has its
        // own burst of 2: the third request must be refused.
        let app = limited(&backend, |c| {
            c.rate_limit.per_ip_burst = 2;
            c.rate_limit.per_ip_per_minute = 1;
            c.http.trusted_proxy_header = Some("X-Forwarded-For".into());
        });
        let token = app.user_with_token("walker");
        let unrouted = app.post("/no/such/route", None, json!({})).text;
        let bearer = format!("Bearer {token}");
        let login = json!({"username": "nobody", "password": "wrong-password-1", "email": "x@example.com", "login": "nobody"});
        let spellings: [(&str, &str, &str); 8] = [
            ("/auth/jwt/%63reate/", "code", "10.0.0.1"),
            ("/auth/%74oken", "detail", "10.0.0.2"),
            ("/%6Cogin", "detail", "10.0.0.3"),
            ("/auth/%6Cogin", "message", "10.0.0.4"),
            ("/auth/users/reset_%70assword/", "code", "10.0.0.5"),
            ("/auth/%6Dfa/totp/setup/", "code", "10.0.0.6"),
            ("/auth/re-authenticat%65", "Erreur", "10.0.0.7"),
            ("/%61uth/jwt/create/", "code", "10.0.0.8"),
        ];
        for (path, key, ip) in spellings {
            let send = || {
                app.request_with_headers(
                    "POST",
                    path,
                    &[("X-Forwarded-For", ip), ("Authorization", &bearer)],
                    Body::Json(login.clone()),
                )
            };
            for _ in 0..2 {
                let reached = send();
                assert_ne!(reached.status, 429, "{path}: {}", reached.text);
                assert_ne!(reached.text, unrouted, "{path} must reach its handler");
            }
            let refused = send();
            assert_eq!(refused.status, 429, "{path} was not counted: {}", refused.text);
            assert!(shaped(&refused, key), "{path}: {} has no {key:?}", refused.text);
            assert!(retry_after(&refused) >= 1);
        }
    }

    fn a_client_cannot_choose_its_address_through_the_trusted_header(backend) {
        // A proxy that appends to the header puts the address it saw last;
        // whatever the client wrote before it changes nothing.
        let app = limited(&backend, |c| {
            c.rate_limit.per_ip_burst = 2;
            c.rate_limit.per_ip_per_minute = 1;
            c.http.trusted_proxy_header = Some("X-Forwarded-For".into());
        });
        let send = |forwarded: &str| wrong_login_forwarded(&app, &[("X-Forwarded-For", forwarded)]);
        for n in 0..2 {
            assert_eq!(send(&format!("192.0.2.{n}, 10.0.0.9")).status, 401);
        }
        let refused = send("192.0.2.77, 10.0.0.9");
        assert_eq!(refused.status, 429, "{}", refused.text);
        // A proxy that adds a line of its own (HAProxy's `option forwardfor`)
        // leaves the client's line first: the last line is the proxy's.
        let lines = [("X-Forwarded-For", "192.0.2.78"), ("X-Forwarded-For", "10.0.0.9")];
        let two_lines = wrong_login_forwarded(&app, &lines);
        assert_eq!(two_lines.status, 429, "{}", two_lines.text);
        assert_eq!(send("10.0.0.10").status, 401, "another client is not held back");
        // An address with the port the proxy saw is still that client's.
        for n in 0..2 {
            assert_eq!(send(&format!("[2001:db8::{n}]:443")).status, 401);
        }
        assert_eq!(send("[2001:db8::9]:8443").status, 429, "one /64, with its ports");
        assert_eq!(send("198.51.100.7:4711").status, 401, "not counted as the proxy");
    }

    fn the_header_is_ignored_from_a_peer_that_is_not_the_proxy(backend) {
        // This test connects from loopback, left out of the proxies: each
        // address it claims in the header counts as loopback's.
        let app = limited(&backend, |c| {
            c.rate_limit.per_ip_burst = 2;
            c.rate_limit.per_ip_per_minute = 1;
            c.http.trusted_proxy_header = Some("X-Forwarded-For".into());
            c.http.trusted_proxies = vec!["192.0.2.1".into()];
        });
        let send = |forwarded: &str| wrong_login_forwarded(&app, &[("X-Forwarded-For", forwarded)]);
        for n in 0..2 {
            assert_eq!(send(&format!("203.0.113.{n}")).status, 401);
        }
        let refused = send("203.0.113.99");
        assert_eq!(refused.status, 429, "a fresh address in the header is no fresh bucket: {}", refused.text);
    }

    fn username_and_email_logins_share_one_count(backend) {
        let app = limited(&backend, |c| c.rate_limit.failed_logins_per_account = 2);
        app.register("alice");
        // Two failures are allowed; the third locks, and is answered as locked.
        for (login, expected) in [("alice", 401), ("alice@example.com", 401), ("ALICE", 429)] {
            assert_eq!(jwt_login(&app, login, "not-the-password").status, expected, "{login}");
        }
        let locked = jwt_login(&app, "alice@example.com", PASSWORD);
        assert_eq!(locked.status, 429, "{}", locked.text);
        assert_eq!(jwt_login(&app, "alice", PASSWORD).status, 429);
        // Logins that name no account still count by their text.
        for _ in 0..2 {
            assert_eq!(jwt_login(&app, "Ghost", "not-the-password").status, 401);
        }
        assert_eq!(jwt_login(&app, " ghost ", "not-the-password").status, 429);
    }

    fn failed_logins_spread_over_two_instances_add_up(backend) {
        let first = limited(&backend, |c| c.rate_limit.failed_logins_per_account = 2);
        let second = first.spawn_beside_with(|c| {
            c.rate_limit.enabled = true;
            c.rate_limit.failed_logins_per_account = 2;
        });
        first.register("carl");
        // One account, one count, whichever instance a guess reaches.
        for (app, expected) in [(&first, 401), (&second, 401), (&first, 429)] {
            assert_eq!(jwt_login(app, "carl", "not-the-password").status, expected);
        }
        for app in [&first, &second] {
            let locked = jwt_login(app, "carl", PASSWORD);
            assert_eq!(locked.status, 429, "{}", locked.text);
        }
    }

    fn each_lock_lasts_longer_than_the_last(backend) {
        // Two failures per 8 s: a lock starts at 4 s (room for a slow
        // machine between the requests), then doubles.
        let app = limited(&backend, |c| {
            c.rate_limit.failed_logins_per_account = 2;
            c.rate_limit.failed_login_window_seconds = 8;
        });
        app.register("bob");
        for expected in [401, 401, 429] {
            assert_eq!(jwt_login(&app, "bob", "not-the-password").status, expected);
        }
        let first = jwt_login(&app, "bob", PASSWORD);
        assert_eq!(first.status, 429, "{}", first.text);
        let first = retry_after(&first);
        std::thread::sleep(Duration::from_millis(first * 1000 + 200));
        assert_eq!(jwt_login(&app, "bob", "not-the-password").status, 401);
        assert_eq!(jwt_login(&app, "bob", "not-the-password").status, 429);
        let second = jwt_login(&app, "bob", PASSWORD);
        assert_eq!(second.status, 429, "{}", second.text);
        let second = retry_after(&second);
        assert!(second > first, "the second lock ({second} s) must outlast the first ({first} s)");
    }

    fn guessing_the_code_of_an_unfinished_totp_setup_locks_the_account(backend) {
        // Confirming takes only a token: a thief with one must not turn TOTP
        // on (and take the recovery codes) by guessing its first code.
        let app = limited(&backend, |c| c.rate_limit.failed_logins_per_account = 2);
        let token = app.user_with_token("hugo");
        let setup = app.post("/auth/mfa/totp/setup/", Some(&token), json!({"current_password": PASSWORD}));
        assert_eq!(setup.status, 200, "{}", setup.text);
        for _ in 0..2 {
            let wrong = app.post("/auth/mfa/totp/confirm/", Some(&token), json!({"code": "000000"}));
            assert_eq!(wrong.status, 400, "{}", wrong.text);
        }
        // The guess that locks the account is not answered, as a login's is.
        let locking = app.post("/auth/mfa/totp/confirm/", Some(&token), json!({"code": "000000"}));
        assert_eq!(locking.status, 429, "{}", locking.text);
        let right = json!({"code": totp(&setup.str("secret"), 0)});
        let locked = app.post("/auth/mfa/totp/confirm/", Some(&token), right);
        assert_eq!(locked.status, 429, "{}", locked.text);
        assert!(locked.header("retry-after").is_some());
        assert_eq!(jwt_login(&app, "hugo", PASSWORD).status, 429, "one lockout for the account");
    }

    fn guessed_codes_alert_the_owner_once(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("grace");
        let setup = app.post("/auth/mfa/totp/setup/", Some(&token), json!({"current_password": PASSWORD}));
        assert_eq!(setup.status, 200, "{}", setup.text);
        let secret = setup.str("secret");
        let confirmed = app.post("/auth/mfa/totp/confirm/", Some(&token), json!({"code": totp(&secret, 0)}));
        assert_eq!(confirmed.status, 200, "{}", confirmed.text);
        let guess = |login: &str| {
            app.post("/auth/jwt/create/", None, json!({"username": login, "password": PASSWORD, "otp": "000000"}))
        };
        for login in ["grace", "grace@example.com", "grace", "GRACE", "grace"] {
            assert_eq!(guess(login).json["code"], "otp_invalid");
        }
        let outbox_dir = app.data_dir.join("outbox");
        let alert = wait_for_mail(&outbox_dir, "grace@example.com", 1).pop().unwrap();
        assert!(alert.subject().contains("trying to sign in"), "{}", alert.subject());
        assert!(alert.body.contains("Change your password"), "{}", alert.body);
        for _ in 0..6 {
            guess("grace");
        }
        settle();
        let to_grace = outbox(&outbox_dir).into_iter().filter(|m| m.to() == "grace@example.com").count();
        assert_eq!(to_grace, 1, "one alert per hour");
    }

    fn an_address_gets_at_most_three_emails_of_a_flow_an_hour(backend) {
        let app = TestApp::spawn(&backend);
        app.register("carol");
        let outbox_dir = app.data_dir.join("outbox");
        let mut sent = 0;
        for route in ["reset_username", "reset_password"] {
            for n in 1..=5 {
                let reply = app.post(&format!("/auth/users/{route}/"), None, json!({"email": "carol@example.com"}));
                assert_eq!((reply.status, reply.text.as_str()), (204, ""), "{route}");
                // One at a time: a flow asked for while the same one for the
                // same address still waits to run is dropped.
                if n <= 3 {
                    sent += 1;
                    wait_for_mail(&outbox_dir, "carol@example.com", sent);
                    // Its flow gives its place back just after queueing it.
                    std::thread::sleep(Duration::from_millis(50));
                } else {
                    settle();
                }
            }
        }
        settle();
        let mut to_carol: Vec<String> = outbox(&outbox_dir).into_iter().filter(|m| m.to() == "carol@example.com").map(|m| m.subject()).collect();
        to_carol.sort();
        // Username resets asked by anyone do not crowd out password resets.
        let expected = [["Reset your Sesame password"; 3], ["Reset your Sesame username"; 3]].concat();
        assert_eq!(to_carol, expected);
    }

    fn the_audit_log_keeps_no_unknown_login_in_clear(backend) {
        let app = TestApp::spawn(&backend);
        app.register("dave");
        let admin = app.admin_token("boss");
        let typed = app.request_with_headers("POST", "/auth/jwt/create/", &[("User-Agent", "probe\tv1")],
            Body::Json(json!({"username": "hunter2-secret", "password": "hunter2-secret"})));
        assert_eq!(typed.status, 401);
        let known = app.request_with_headers("POST", "/auth/jwt/create/", &[("User-Agent", "probe\tv2")],
            Body::Json(json!({"username": "dave", "password": "wrong-password-2"})));
        assert_eq!(known.status, 401);
        // An escape sequence or a line break in a header never gets this far.
        for agent in ["probe\u{1b}[31mv3", "probe\nv3"] {
            let body = r#"{"username":"dave","password":"wrong-password-3"}"#;
            let head = format!("POST /auth/jwt/create/ HTTP/1.1\r\nHost: x\r\nUser-Agent: {agent}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            let answer = raw_request(&app, &head);
            assert!(answer.starts_with("HTTP/1.1 400"), "{agent:?}: {answer}");
        }

        let deadline = Instant::now() + Duration::from_secs(5);
        let failures = loop {
            let entries = audit_entries(&app, &admin, "login_failure");
            if entries.as_array().unwrap().len() >= 2 || Instant::now() > deadline {
                break entries;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let text = failures.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        let entries = failures.as_array().unwrap();
        assert_eq!(entries.len(), 2, "{text}");
        let unknown = entries.iter().find(|e| e["user_agent"].as_str().unwrap().contains("v1")).unwrap();
        assert!(unknown["detail"].as_str().unwrap().starts_with("login hmac:"), "{unknown}");
        assert!(unknown["user_id"].is_null(), "{unknown}");
        let dave = entries.iter().find(|e| e["user_agent"].as_str().unwrap().contains("v2")).unwrap();
        assert!(dave["user_id"].is_number(), "a known account is named by its id: {dave}");
        for entry in entries {
            let agent = entry["user_agent"].as_str().unwrap();
            assert!(agent.starts_with("probe") && !agent.chars().any(char::is_control), "{agent:?}");
        }

        let printed = app.cli(&["audit", "--kind", "login_failure"], "");
        assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
        let printed = String::from_utf8_lossy(&printed.stdout);
        assert!(printed.contains("hmac:") && !printed.contains("hunter2"), "{printed}");
    }

    fn unknown_methods_are_one_metrics_label(backend) {
        let app = TestApp::spawn(&backend);
        for request in ["FOOBAR /healthz", "PROPFIND /auth/users/"] {
            let answer = raw_request(&app, &format!("{request} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
            assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
        }
        assert_eq!(app.get("/healthz", None).status, 200);
        let text = app.get("/metrics", None).text;
        assert!(text.contains(r#"method="other""#), "{text}");
        assert!(!text.contains("FOOBAR") && !text.contains("PROPFIND"), "{text}");
        assert!(text.contains(r#"method="GET""#), "{text}");
    }
}
