//! Signing keys other services can verify (issue 20), black-box over HTTP
//! on both backends: every JWT carries `kid` and `iss`; tokens from every
//! login route and from refresh are verified by an independent JOSE library
//! (jwt-simple, not the jsonwebtoken Sesame signs with) from the keys it
//! fetches at `/.well-known/jwks.json`; the CLI rotates and retires keys, in
//! force in every instance within a second.
mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::ws::Event;
use common::{run_cli, Backend, Body, TestApp, PASSWORD};
use jwt_simple::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const FORM: &str = "application/x-www-form-urlencoded";

/// The claims Sesame adds to the registered ones.
#[derive(Serialize, Deserialize)]
struct SesameClaims {
    sid: String,
    typ: String,
}

fn spawn(backend: &Backend, algorithm: &str) -> TestApp {
    let algorithm = algorithm.to_owned();
    TestApp::spawn_with(backend, move |config| {
        config.tokens.algorithm = algorithm;
        config.tokens.issuer = "https://id.example.test".into();
    })
}

/// A second instance on `app`'s database, with the same secret and algorithm.
fn beside(app: &TestApp, algorithm: &str) -> TestApp {
    let secret = std::fs::read_to_string(app.data_dir.join("jwt_secret")).expect("a JWT secret");
    beside_with(app, algorithm, secret)
}

/// A second instance on `app`'s database, with `secret`, `algorithm` and
/// `app`'s MFA key.
fn beside_with(app: &TestApp, algorithm: &str, secret: String) -> TestApp {
    let database_url = app.database_url.clone();
    let algorithm = algorithm.to_owned();
    let mfa_key = std::fs::read_to_string(app.data_dir.join("mfa_key")).expect("an MFA key");
    TestApp::spawn_with(&Backend::Sqlite, move |config| {
        config.database.url = Some(database_url);
        config.tokens.jwt_secret = Some(secret);
        config.mfa.encryption_key = Some(mfa_key);
        config.tokens.algorithm = algorithm;
        config.tokens.issuer = "https://id.example.test".into();
    })
}

/// `sesame keys ...` against `app`'s data dir and database.
fn keys_cli(app: &TestApp, algorithm: &str, args: &[&str]) -> std::process::Output {
    keys_cli_with(app, algorithm, args, &[])
}

/// `sesame keys ...` against `app`'s data dir and database, with more of
/// the environment.
fn keys_cli_with(
    app: &TestApp,
    algorithm: &str,
    args: &[&str],
    more: &[(&str, &str)],
) -> std::process::Output {
    let mut all = vec!["keys"];
    all.extend_from_slice(args);
    let mut env = vec![
        ("SESAME__DATA_DIR", app.data_dir.to_str().unwrap()),
        ("DATABASE_URL", &app.database_url),
        ("SESAME__TOKENS__ALGORITHM", algorithm),
        ("SESAME__TOKENS__ISSUER", "https://id.example.test"),
    ];
    env.extend_from_slice(more);
    run_cli(&all, "", &env)
}

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The token's header, as a consumer reads it before verifying.
fn header(token: &str) -> Value {
    let encoded = token.split('.').next().expect("a header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).expect("base64url")).expect("JSON")
}

fn member(jwk: &Value, name: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(
            jwk[name]
                .as_str()
                .unwrap_or_else(|| panic!("{name} in {jwk}")),
        )
        .expect("base64url")
}

/// Verifies `token` the way another service would: fetch the JWK Set, pick
/// the key named by `kid`, check signature, issuer and expiry with
/// jwt-simple. Returns the token's `typ` claim.
fn verify_independently(app: &TestApp, token: &str) -> Result<String, String> {
    let jwks = app.get("/.well-known/jwks.json", None);
    assert_eq!(jwks.status, 200, "{}", jwks.text);
    let kid = header(token)["kid"]
        .as_str()
        .ok_or("no kid in the header")?
        .to_owned();
    let jwk = jwks.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .ok_or_else(|| format!("{kid} is not in the JWK Set"))?
        .clone();
    let options = VerificationOptions {
        allowed_issuers: Some(HashSet::from(["https://id.example.test".to_owned()])),
        required_key_id: Some(kid),
        ..VerificationOptions::default()
    };
    let claims = match jwk["alg"].as_str().unwrap() {
        "ES256" => {
            let mut sec1 = vec![4u8];
            sec1.extend(member(&jwk, "x"));
            sec1.extend(member(&jwk, "y"));
            ES256PublicKey::from_bytes(&sec1)
                .unwrap()
                .verify_token::<SesameClaims>(token, Some(options))
        }
        "EdDSA" => Ed25519PublicKey::from_bytes(&member(&jwk, "x"))
            .unwrap()
            .verify_token::<SesameClaims>(token, Some(options)),
        "RS256" => RS256PublicKey::from_components(&member(&jwk, "n"), &member(&jwk, "e"))
            .unwrap()
            .verify_token::<SesameClaims>(token, Some(options)),
        other => panic!("unexpected alg {other}"),
    }
    .map_err(|e| e.to_string())?;
    Ok(claims.custom.typ)
}

/// Logs `username` in on every login route and refreshes on every refresh
/// route; returns (what, token).
fn tokens_from_every_route(app: &TestApp, username: &str) -> Vec<(&'static str, String)> {
    let mut tokens = Vec::new();
    let (access, refresh) = app.login(username, PASSWORD);
    tokens.push(("/auth/jwt/create/ access", access));
    tokens.push(("/auth/jwt/create/ refresh", refresh.clone()));
    let renewed = app.post("/auth/jwt/refresh/", None, json!({"refresh": refresh}));
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    tokens.push(("/auth/jwt/refresh/ access", renewed.str("access")));
    tokens.push(("/auth/jwt/refresh/ refresh", renewed.str("refresh")));
    let login = app.post(
        "/login",
        None,
        json!({"email": username, "password": PASSWORD}),
    );
    assert_eq!(login.status, 200, "{}", login.text);
    tokens.push(("/login access", login.str("access_token")));
    let form = app.request(
        "POST",
        "/auth/token",
        None,
        Body::Raw(
            FORM,
            format!(
                "username={username}&password={}",
                PASSWORD.replace('!', "%21")
            ),
        ),
    );
    assert_eq!(form.status, 200, "{}", form.text);
    tokens.push(("/auth/token access", form.str("access_token")));
    let cookie = app.post(
        "/auth/login",
        None,
        json!({"login": username, "password": PASSWORD}),
    );
    assert_eq!(cookie.status, 200, "{}", cookie.text);
    tokens.push(("/auth/login access", cookie.str("token")));
    let refresh_cookie = cookie.cookie("refresh_token").expect("a refresh cookie");
    tokens.push(("/auth/login refresh cookie", refresh_cookie.clone()));
    let again = app.request_with_headers(
        "POST",
        "/auth/refresh",
        &[("Cookie", &format!("refresh_token={refresh_cookie}"))],
        Body::Json(json!({})),
    );
    assert_eq!(again.status, 200, "{}", again.text);
    tokens.push(("/auth/refresh access", again.str("token")));
    tokens.push((
        "/auth/refresh refresh cookie",
        again.cookie("refresh_token").expect("a new refresh cookie"),
    ));
    tokens
}

/// Every token of every route verifies independently, with `alg` in its header.
fn every_route_verifies(backend: &Backend, algorithm: &str) {
    let app = spawn(backend, algorithm);
    app.register("verifier");
    for (route, token) in tokens_from_every_route(&app, "verifier") {
        assert_eq!(header(&token)["alg"], algorithm, "{route}");
        let typ = verify_independently(&app, &token)
            .unwrap_or_else(|e| panic!("{algorithm} {route}: refused: {e}"));
        let expected = if route.contains("refresh") && !route.ends_with("access") {
            "refresh"
        } else {
            "access"
        };
        assert_eq!(typ, expected, "{route}");
    }
    assert_no_private_members(&app.get("/.well-known/jwks.json", None).json);
}

fn assert_no_private_members(jwks: &Value) {
    let keys = jwks["keys"].as_array().expect("keys");
    assert!(!keys.is_empty());
    for key in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "{private} in {key}");
        }
        assert_eq!(key["use"], "sig");
        assert!(key["kid"].is_string() && key["alg"].is_string(), "{key}");
    }
}

/// Forges a token with `kid` in its header over a genuine token's claims and
/// signature: Sesame must refuse it.
fn with_kid(token: &str, kid: &str) -> String {
    let mut header = header(token);
    header["kid"] = json!(kid);
    let rest = token.split_once('.').unwrap().1;
    format!(
        "{}.{rest}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap())
    )
}

fn kids(app: &TestApp) -> Vec<String> {
    let jwks = app.get("/.well-known/jwks.json", None).json;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits up to `limit` for `done`.
fn within(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    done()
}

/// `POST path` with a JSON body to the binary; returns (status, body).
fn post_json(base: &str, path: &str, body: Value) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut reply = agent
        .post(&format!("{base}{path}"))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .unwrap();
    let status = reply.status().as_u16();
    let text = reply.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[derive(diesel::QueryableByName)]
struct Sealed {
    #[diesel(sql_type = diesel::sql_types::Text)]
    sealed_private: String,
}

/// No private key, sealed or not, in the log of the real binary, in what the
/// CLI prints, or in any answer.
#[test]
fn no_private_key_in_the_log_the_cli_or_any_answer() {
    use diesel::{Connection, RunQueryDsl};
    let dir = tempfile::TempDir::new().unwrap();
    let mut binary = common::binary::start(
        dir.path(),
        &[
            ("SESAME__TOKENS__ALGORITHM", "ES256"),
            ("RUST_LOG", "debug"),
        ],
    );
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = log.clone();
    binary.drain_log(move |line| sink.lock().unwrap().push(line));
    let base = binary.base.clone();
    let mut answers = Vec::new();
    let (status, user) = post_json(
        &base,
        "/auth/users/",
        json!({
            "username": "quiet", "email": "quiet@example.com", "password": PASSWORD, "re_password": PASSWORD,
        }),
    );
    assert_eq!(status, 201, "{user}");
    answers.push(user.to_string());
    let data = dir.path().join("data");
    let env = [
        ("SESAME__DATA_DIR", data.to_str().unwrap()),
        ("SESAME__TOKENS__ALGORITHM", "ES256"),
    ];
    let mut cli = Vec::new();
    for args in [
        &["keys", "rotate"][..],
        &["keys", "list"],
        &["keys", "retire", "es256-none"],
    ] {
        let output = run_cli(args, "", &env);
        cli.push(String::from_utf8_lossy(&output.stdout).into_owned());
        cli.push(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    for _ in 0..2 {
        let (status, pair) = post_json(
            &base,
            "/auth/jwt/create/",
            json!({"username": "quiet", "password": PASSWORD}),
        );
        assert_eq!(status, 200, "{pair}");
        answers.push(pair.to_string());
        std::thread::sleep(Duration::from_millis(300));
    }
    let jwks: Value = serde_json::from_str(
        &ureq::get(&format!("{base}/.well-known/jwks.json"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "{jwks}");
    assert_no_private_members(&jwks);
    answers.push(jwks.to_string());
    let _ = binary.child.kill();
    let _ = binary.child.wait();
    let database = data.join("sesame.db");
    let mut conn = diesel::SqliteConnection::establish(database.to_str().unwrap()).unwrap();
    let sealed: Vec<Sealed> = diesel::sql_query("SELECT sealed_private FROM signing_keys")
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        sealed.len(),
        3,
        "the HS256 secret, the first ES256 key, the rotated one"
    );
    let log = log.lock().unwrap().join("\n");
    assert!(
        log.contains("/auth/jwt/create/"),
        "the access lines are in the log"
    );
    for text in cli.iter().chain(&answers).chain([&log]) {
        for key in &sealed {
            assert!(
                !text.contains(&key.sealed_private),
                "a sealed key in {text}"
            );
        }
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        assert!(!text.contains("\"d\":"), "{text}");
    }
}

backend_tests! {
    fn a_new_jwt_secret_takes_the_keys_over_once_they_are_sealed_again(backend) {
        let app = spawn(&backend, "ES256");
        app.register("mover");
        let (access, _) = app.login("mover", PASSWORD);
        let new_secret = "a new JWT secret, 32 bytes or more, after a leak".to_owned();
        let with_new = [("SESAME__TOKENS__JWT_SECRET", new_secret.as_str())];
        let refused = keys_cli_with(&app, "ES256", &["list"], &with_new);
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains("sealed with another secret"), "{stderr}");

        let old_secret = app.data_dir.join("jwt_secret");
        let reseal = ["reseal", "--old-secret-file", old_secret.to_str().unwrap()];
        let resealed = stdout(&keys_cli_with(&app, "ES256", &reseal, &with_new));
        // The ES256 key keeps its tokens; the HS256 key of the first start,
        // the old secret itself, is retired.
        let lines: Vec<&str> = resealed.lines().collect();
        assert_eq!(lines.len(), 2, "{resealed}");
        assert!(lines[0].starts_with("es256-") && lines[0].ends_with(" sealed with the new secret"), "{resealed}");
        assert!(lines[1].starts_with("hs256-") && lines[1].ends_with(" retired: it was the old secret itself"), "{resealed}");
        let again = stdout(&keys_cli_with(&app, "ES256", &reseal, &with_new));
        assert_eq!(again.trim(), "every key is sealed with the configured secret already");

        let renewed = beside_with(&app, "ES256", new_secret);
        assert_eq!(renewed.get("/auth/users/me/", Some(&access)).status, 200);
        let (fresh, _) = renewed.login("mover", PASSWORD);
        assert_eq!(renewed.get("/auth/users/me/", Some(&fresh)).status, 200);
    }

    fn an_instance_whose_signing_key_a_reseal_retired_is_not_ready(backend) {
        // Left running with the leaked secret, it cannot open the resealed
        // set; a load balancer should stop sending it logins.
        let app = spawn(&backend, "HS256");
        assert_eq!(app.get("/readyz", None).status, 200);
        let old_secret = app.data_dir.join("jwt_secret");
        let reseal = ["reseal", "--old-secret-file", old_secret.to_str().unwrap()];
        let new_secret = [("SESAME__TOKENS__JWT_SECRET", "a new JWT secret, 32 bytes or more, after a leak")];
        stdout(&keys_cli_with(&app, "HS256", &reseal, &new_secret));
        let deadline = Instant::now() + Duration::from_secs(15);
        let answer = loop {
            let answer = app.get("/readyz", None);
            if answer.status != 200 || Instant::now() > deadline {
                break answer;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(answer.status, 503);
        assert_eq!(answer.json, json!({"status": "cannot sign tokens"}));
    }

    fn hs256_stays_the_default_and_every_jwt_names_its_key_and_issuer(backend) {
        let app = TestApp::spawn(&backend);
        app.register("plain");
        let (access, refresh) = app.login("plain", PASSWORD);
        for token in [&access, &refresh] {
            let header = header(token);
            assert_eq!(header["alg"], "HS256");
            assert!(header["kid"].as_str().is_some_and(|k| k.starts_with("hs256-")), "{header}");
        }
        let payload: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD.decode(access.split('.').nth(1).unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(payload["iss"], "sesame");
        assert_eq!(app.get("/auth/users/me/", Some(&access)).status, 200);
        let jwks = app.get("/.well-known/jwks.json", None);
        assert_eq!(jwks.status, 200);
        assert_eq!(jwks.json, json!({"keys": []}));
        let cache = jwks.header("cache-control").unwrap_or_default().to_owned();
        assert!(cache.contains("max-age=300"), "{cache}");
        // A forged kid is refused; so is a token without one signed by no key.
        assert_eq!(app.get("/auth/users/me/", Some(&with_kid(&access, "nope"))).status, 401);
    }

    fn es256_tokens_of_every_route_verify_independently(backend) {
        every_route_verifies(&backend, "ES256");
    }

    fn eddsa_tokens_of_every_route_verify_independently(backend) {
        every_route_verifies(&backend, "EdDSA");
    }

    fn rs256_tokens_of_every_route_verify_independently(backend) {
        every_route_verifies(&backend, "RS256");
    }

    fn rotation_walk(backend) {
        let app = spawn(&backend, "ES256");
        app.register("walker");
        let (old, _) = app.login("walker", PASSWORD);
        let old_kid = header(&old)["kid"].as_str().unwrap().to_owned();
        let rotated = stdout(&keys_cli(&app, "ES256", &["rotate"]));
        let new_kid = rotated.split_whitespace().next().unwrap().to_owned();
        assert_ne!(new_kid, old_kid);
        assert!(within(Duration::from_secs(1), || kids(&app).contains(&new_kid)), "{:?}", kids(&app));
        let (new, _) = app.login("walker", PASSWORD);
        assert_eq!(header(&new)["kid"], new_kid.as_str());
        for token in [&old, &new] {
            assert_eq!(app.get("/auth/users/me/", Some(token)).status, 200);
            verify_independently(&app, token).unwrap();
        }
        let listed = stdout(&keys_cli(&app, "ES256", &["list"]));
        assert!(listed.lines().any(|l| l.starts_with(&old_kid) && l.contains("\tverifying\t")), "{listed}");
        assert!(listed.lines().any(|l| l.starts_with(&new_kid) && l.contains("\tactive\t")), "{listed}");
        // The active key cannot be retired, nor an unknown one: exit 1, one line.
        for kid in [new_kid.as_str(), "es256-unknown"] {
            let refused = keys_cli(&app, "ES256", &["retire", kid]);
            assert_eq!(refused.status.code(), Some(1));
            let stderr = String::from_utf8_lossy(&refused.stderr);
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
            assert!(stderr.contains(kid), "{stderr}");
        }
        stdout(&keys_cli(&app, "ES256", &["retire", &old_kid]));
        // Both changes are in the audit log, made from the command line.
        let audit = stdout(&run_cli(&["audit", "--kind", "signing_key_rotated"], "", &[
            ("SESAME__DATA_DIR", app.data_dir.to_str().unwrap()),
            ("DATABASE_URL", &app.database_url),
        ]));
        assert!(audit.contains(&format!("kid {new_kid}")) && audit.contains("sesame command line"), "{audit}");
        assert!(
            within(Duration::from_secs(1), || app.get("/auth/users/me/", Some(&old)).status == 401),
            "the retired key's token still works"
        );
        assert!(!kids(&app).contains(&old_kid));
        assert_eq!(app.get("/auth/users/me/", Some(&new)).status, 200);
        // A retired or unknown kid in a forged header is refused.
        for kid in [old_kid.as_str(), "es256-unknown"] {
            assert_eq!(app.get("/auth/users/me/", Some(&with_kid(&new, kid))).status, 401, "{kid}");
        }
        let listed = stdout(&keys_cli(&app, "ES256", &["list"]));
        assert!(listed.lines().any(|l| l.starts_with(&old_kid) && l.contains("\tretired\t")), "{listed}");
    }

    fn retiring_a_key_closes_the_sockets_its_tokens_opened_at_once(backend) {
        // With the heartbeat off: only the retirement can close the socket.
        let app = TestApp::spawn_with(&backend, |config| {
            config.tokens.algorithm = "ES256".into();
            config.tokens.issuer = "https://id.example.test".into();
            config.http.ws_ping_interval_seconds = 600;
        });
        app.register("listener");
        let (old, _) = app.login("listener", PASSWORD);
        let old_kid = header(&old)["kid"].as_str().unwrap().to_owned();
        let mut old_socket = app.socket(&old);
        let rotated = stdout(&keys_cli(&app, "ES256", &["rotate"]));
        let new_kid = rotated.split_whitespace().next().unwrap().to_owned();
        assert!(within(Duration::from_secs(1), || kids(&app).contains(&new_kid)));
        let (new, _) = app.login("listener", PASSWORD);
        let mut new_socket = app.socket(&new);
        assert_eq!(old_socket.next(Duration::from_millis(300)), Event::Nothing, "a rotation closes nothing");
        stdout(&keys_cli(&app, "ES256", &["retire", &old_kid]));
        assert_eq!(
            old_socket.next(Duration::from_millis(1500)),
            Event::Closed(1008, "Token signed with a retired key".into())
        );
        assert_eq!(new_socket.next(Duration::from_millis(300)), Event::Nothing);
        // A token of the retired key opens no socket either.
        assert_eq!(
            app.socket(&old).next(Duration::from_millis(1500)),
            Event::Closed(1008, "Invalid or expired token".into())
        );
    }

    fn a_cli_rotation_is_seen_by_two_instances_within_a_second(backend) {
        let first = spawn(&backend, "EdDSA");
        let second = beside(&first, "EdDSA");
        first.register("pair");
        let (before, _) = first.login("pair", PASSWORD);
        assert_eq!(second.get("/auth/users/me/", Some(&before)).status, 200);
        let rotated = stdout(&keys_cli(&first, "EdDSA", &["rotate"]));
        let new_kid = rotated.split_whitespace().next().unwrap().to_owned();
        let started = Instant::now();
        for app in [&first, &second] {
            assert!(within(Duration::from_secs(1), || kids(app).contains(&new_kid)));
        }
        let seen_in = started.elapsed();
        // Each signs with the new key, and each accepts the other's tokens.
        let (one, _) = first.login("pair", PASSWORD);
        let (two, _) = second.login("pair", PASSWORD);
        for token in [&one, &two] {
            assert_eq!(header(token)["kid"], new_kid.as_str());
            for app in [&first, &second] {
                assert_eq!(app.get("/auth/users/me/", Some(token)).status, 200);
            }
        }
        let old_kid = header(&before)["kid"].as_str().unwrap().to_owned();
        stdout(&keys_cli(&first, "EdDSA", &["retire", &old_kid]));
        for app in [&first, &second] {
            assert!(within(Duration::from_secs(1), || app.get("/auth/users/me/", Some(&before)).status == 401));
        }
        assert!(seen_in < Duration::from_secs(2), "{seen_in:?}");
    }
}
