//! Operational hardening (issue 17), black-box on SQLite and PostgreSQL:
//! private data files, no cross-site form bodies, stalled bodies cut off,
//! CORS credentials only for allowed origins, 405 with `Allow`, HEAD as
//! GET, client errors never logged at ERROR, one request id on every line a
//! request causes, and no email-less accounts when activation is required.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::binary::{self, Binary, Stopping};
use common::{Backend, Body, TestApp, PASSWORD};
use serde_json::{json, Value};
use sesame_persistence::testing::TestDatabase;

const FORM: &str = "application/x-www-form-urlencoded";

/// The binary in `dir` on `backend` (its test database is kept alive by
/// the returned guard), under `umask`, with these extra settings.
fn start_binary(
    backend: &Backend,
    dir: &Path,
    umask: &str,
    env: &[(&str, &str)],
) -> (Binary, Option<TestDatabase>) {
    let database = match backend {
        Backend::Sqlite => None,
        Backend::Postgres(admin) => Some(TestDatabase::create(admin)),
    };
    let mut env = env.to_vec();
    if let Some(database) = &database {
        env.push(("DATABASE_URL", database.url()));
    }
    (binary::start_with_umask(dir, &env, umask), database)
}

/// Keeps every log line of `binary` for later reading.
fn collect_log(binary: &mut Binary) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    binary.drain_log(move |line| sink.lock().unwrap().push(line));
    lines
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// One request to a binary: (status, JSON body).
fn call(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Value) {
    let mut builder = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut response = agent()
        .run(builder.body(body).unwrap())
        .expect("Sesame answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn json_call(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(bearer) = &bearer {
        headers.push(("Authorization", bearer));
    }
    call(base, method, path, &headers, body.to_string().into_bytes())
}

fn register_and_login(base: &str, username: &str) -> String {
    let (status, body) = json_call(
        base,
        "POST",
        "/auth/users/",
        None,
        json!({"username": username, "email": format!("{username}@example.com"),
               "password": PASSWORD, "re_password": PASSWORD}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = json_call(
        base,
        "POST",
        "/auth/jwt/create/",
        None,
        json!({"username": username, "password": PASSWORD}),
    );
    assert_eq!(status, 200, "{body}");
    body["access"].as_str().unwrap().to_owned()
}

/// The methods a 405 lists in `Allow`, in the order it lists them.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The 405 body of the surface whose operations carry `tag`, for `method`.
fn method_not_allowed(tag: &str, method: &str) -> Value {
    match tag {
        "primary" | "account_security" | "passkeys" => {
            json!({"detail": format!("Method \"{method}\" not allowed."), "code": "method_not_allowed"})
        }
        "opaque" => json!({"Erreur": format!("Méthode {method} non autorisée")}),
        "cookie_refresh" => json!({"message": "Method Not Allowed"}),
        "events_messages" | "token_form" | "operations" => json!({"detail": "Method Not Allowed"}),
        other => panic!("no 405 words known for surface {other}"),
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// Every path under `root` (itself included) with its mode.
fn modes(root: &Path) -> Vec<(String, bool, u32)> {
    let mut found = vec![(root.display().to_string(), root.is_dir(), mode(root))];
    if root.is_dir() {
        for entry in std::fs::read_dir(root).unwrap() {
            found.extend(modes(&entry.unwrap().path()));
        }
    }
    found
}

/// Sends `head` then nothing more; the answer read within `wait`.
fn stalled_answer(base: &str, head: &str, wait: Duration) -> (String, Duration) {
    let address = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(wait)).unwrap();
    let started = Instant::now();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
        }
    }
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const BOUNDARY: &str = "sesame-ops-boundary-41";

fn avatar_form() -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(PNG);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

backend_tests! {
    fn data_files_are_private_whatever_the_umask(backend) {
        let dir = tempfile::TempDir::new().unwrap();
        // A data dir left by an older version under umask 022.
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("outbox")).unwrap();
        std::fs::write(data.join("outbox/old.eml"), "To: a@example.com\r\n\r\nhttp://reset/old").unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(data.join("outbox"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(data.join("outbox/old.eml"), std::fs::Permissions::from_mode(0o644)).unwrap();

        let (mut binary, _database) = start_binary(&backend, dir.path(), "022", &[]);
        binary.drain_log(drop);
        let binary = Stopping(binary);
        let binary = &binary.0;
        let token = register_and_login(&binary.base, "private");
        let (status, _) = json_call(&binary.base, "POST", "/auth/users/reset_password/", None, json!({"email": "private@example.com"}));
        assert_eq!(status, 204);
        let (status, body) = call(
            &binary.base,
            "PATCH",
            "/auth/users/me/",
            &[("Authorization", &format!("Bearer {token}")), ("Content-Type", &format!("multipart/form-data; boundary={BOUNDARY}"))],
            avatar_form(),
        );
        assert_eq!(status, 200, "{body}");
        common::outbox::wait_for_mail(&data.join("outbox"), "private@example.com", 1);

        let found = modes(&data);
        assert!(found.iter().any(|(path, _, _)| path.ends_with(".eml") && !path.ends_with("old.eml")), "{found:?}");
        assert!(found.iter().any(|(path, _, _)| path.contains("/avatars/") ), "{found:?}");
        if matches!(backend, Backend::Sqlite) {
            assert!(found.iter().any(|(path, _, _)| path.ends_with("sesame.db-wal")), "{found:?}");
        }
        for (path, is_dir, mode) in &found {
            let wanted = if *is_dir { 0o700 } else { 0o600 };
            assert_eq!(*mode, wanted, "{path} is {mode:o}");
        }
    }

    fn null_characters_are_refused_with_a_4xx_in_each_surface_shape(backend) {
        // PostgreSQL cannot store or compare U+0000; SQLite can. Refused on
        // both, at the edge, in the words of the surface asked.
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("nully");
        let id = app.get("/auth/users/me/", Some(&token)).json["id"].as_i64().unwrap();
        let nul = "a\u{0}b";
        let cases = [
            ("GET", "/events/?q=%00".to_owned(), None, None, 422, "detail"),
            ("POST", "/login".to_owned(), None, Some(json!({"email": "x\u{0}@example.com", "password": PASSWORD})), 422, "detail"),
            ("POST", "/auth/jwt/create/".to_owned(), None, Some(json!({"username": nul, "password": PASSWORD})), 400, "username"),
            ("POST", "/events/".to_owned(), Some(&token), Some(json!({"title": nul, "description": "d", "date": "2031-05-01T10:00:00Z", "location": "Lyon"})), 422, "detail"),
            ("POST", "/messages/".to_owned(), Some(&token), Some(json!({"content": nul, "receiver_id": id})), 422, "detail"),
            ("PATCH", "/auth/users/me/".to_owned(), Some(&token), Some(json!({"first_name": nul})), 400, "first_name"),
            ("POST", "/auth/login".to_owned(), None, Some(json!({"username": nul, "password": PASSWORD})), 400, "message"),
            ("DELETE", "/auth/delete/a%00b".to_owned(), Some(&token), None, 404, "Erreur"),
            ("DELETE", "/auth/sessions/%00/".to_owned(), Some(&token), None, 404, "detail"),
            // `%0%30` is `%00` after the router's decode, and U+0000 after the extractor's.
            ("GET", "/auth/get/%0%30".to_owned(), None, None, 404, "Erreur"),
            ("DELETE", "/auth/delete/a%0%30b".to_owned(), Some(&token), None, 404, "Erreur"),
            ("DELETE", "/auth/sessions/%0%30/".to_owned(), Some(&token), None, 404, "detail"),
        ];
        for (method, path, token, body, status, key) in cases {
            let body = body.map_or(Body::None, Body::Json);
            let reply = app.request(method, &path, token.map(String::as_str), body);
            assert_eq!(reply.status, status, "{method} {path}: {}", reply.text);
            assert!(!reply.json[key].is_null(), "{method} {path}: {}", reply.text);
        }
        let drf = app.post("/auth/jwt/create/", None, json!({"username": nul, "password": PASSWORD}));
        assert_eq!(drf.json, json!({"username": ["Null characters are not allowed."]}));
        // Nothing was stored, and the account is untouched.
        let me = app.get("/auth/users/me/", Some(&token));
        assert_eq!(me.json["first_name"], "", "{}", me.text);
        assert_eq!(app.get("/events/", None).json, json!([]));
    }

    fn html_form_bodies_are_refused_except_on_the_token_form(backend) {
        let app = TestApp::spawn(&backend);
        app.register("former");
        let form = format!("username=former&password={PASSWORD}&email=former@example.com");
        for (path, shape) in [
            ("/auth/login", "message"),
            ("/auth/jwt/create/", "detail"),
            ("/login", "detail"),
            ("/auth/register", "Erreur"),
            ("/auth/signup", "message"),
            ("/auth/users/", "detail"),
        ] {
            for content_type in [FORM, "text/plain", "multipart/form-data; boundary=x"] {
                let reply = app.request("POST", path, None, Body::Raw(content_type, form.clone()));
                assert_eq!(reply.status, 415, "{path} {content_type}: {}", reply.text);
                assert!(reply.json[shape].is_string(), "{path}: {}", reply.text);
                assert!(reply.headers_named("set-cookie").is_empty(), "{path}");
            }
        }
        // The OAuth2 password form is what seed 000's clients send.
        let token = app.request("POST", "/auth/token", None, Body::Raw(FORM, format!("username=former&password={PASSWORD}")));
        assert_eq!(token.status, 200, "{}", token.text);
        assert!(token.json["access_token"].is_string());
        // JSON still works where forms do not.
        let login = app.post("/auth/login", None, json!({"username": "former", "password": PASSWORD}));
        assert_eq!(login.status, 200, "{}", login.text);
    }

    fn stalled_bodies_are_cut_off_with_408(backend) {
        let app = TestApp::spawn_with(&backend, |config| config.http.body_timeout_seconds = 1);
        let token = app.user_with_token("staller");
        let head = "POST /auth/jwt/create/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
        let (answer, took) = stalled_answer(&app.base, head, Duration::from_secs(6));
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?} after {took:?}");
        assert!(answer.contains("\"detail\""), "{answer}");
        assert!(took < Duration::from_secs(4), "{took:?}");
        // A multipart upload too, in the surface's shape.
        let head = format!("PATCH /auth/users/me/ HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: 100000\r\n\r\n--{BOUNDARY}\r\n");
        let (answer, took) = stalled_answer(&app.base, &head, Duration::from_secs(6));
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?} after {took:?}");
        assert!(took < Duration::from_secs(4), "{took:?}");
        let head = "POST /auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"username\"";
        let (answer, _) = stalled_answer(&app.base, head, Duration::from_secs(6));
        assert!(answer.starts_with("HTTP/1.1 408") && answer.contains("Erreur"), "{answer}");
        // The surface is found from the decoded path, as the router finds it.
        let head = "POST /auth/%72egister HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"username\"";
        let (answer, _) = stalled_answer(&app.base, head, Duration::from_secs(6));
        assert!(answer.starts_with("HTTP/1.1 408") && answer.contains("Erreur"), "{answer}");
        // A body that arrives whole is unaffected.
        assert_eq!(app.post("/auth/jwt/create/", None, json!({"username": "staller", "password": PASSWORD})).status, 200);
    }

    fn a_body_sent_a_byte_at_a_time_is_cut_off_when_it_is_not_whole_in_time(backend) {
        let app = TestApp::spawn_with(&backend, |config| config.http.body_timeout_seconds = 1);
        let address = app.base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).unwrap();
        let started = Instant::now();
        let head = "POST /auth/jwt/create/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n";
        stream.write_all(head.as_bytes()).unwrap();
        // One byte every 400 ms: never idle for the 1 s timeout.
        while stream.write_all(b" ").is_ok() && started.elapsed() < Duration::from_secs(15) {
            std::thread::sleep(Duration::from_millis(400));
            stream.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
            let mut peek = [0u8; 1];
            if matches!(stream.peek(&mut peek), Ok(n) if n > 0) {
                break;
            }
        }
        stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        let took = started.elapsed();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?} after {took:?}");
        // README: "or is not whole after six times as long".
        let whole = Duration::from_secs(6);
        assert!(took >= whole && took < whole + Duration::from_secs(3), "{took:?}");
    }

    fn cors_credentials_only_for_allowed_origins(backend) {
        let closed = TestApp::spawn(&backend);
        for reply in [
            closed.get("/healthz", None),
            closed.request_with_headers("GET", "/healthz", &[("Origin", "https://evil.test")], Body::None),
            closed.request_with_headers("POST", "/auth/login", &[("Origin", "https://evil.test")], Body::Json(json!({"username": "x", "password": "y"}))),
        ] {
            assert_eq!(reply.header("access-control-allow-credentials"), None, "{:?}", reply.headers);
            assert_eq!(reply.header("access-control-allow-origin"), None);
        }
        let open = TestApp::spawn_with(&backend, |config| {
            config.http.cors_allowed_origins = vec!["https://app.example.com".into()];
        });
        let allowed = open.request_with_headers("GET", "/healthz", &[("Origin", "https://app.example.com")], Body::None);
        assert_eq!(allowed.header("access-control-allow-origin"), Some("https://app.example.com"));
        assert_eq!(allowed.header("access-control-allow-credentials"), Some("true"));
        let preflight = open.request_with_headers(
            "OPTIONS",
            "/auth/login",
            &[("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "POST")],
            Body::None,
        );
        assert!(preflight.status < 300, "{}", preflight.status);
        assert_eq!(preflight.header("access-control-allow-credentials"), Some("true"));
        // CORS's own answers carry the security headers too.
        let refused = open.request_with_headers(
            "OPTIONS",
            "/auth/login",
            &[("Origin", "https://evil.test"), ("Access-Control-Request-Method", "POST")],
            Body::None,
        );
        for answer in [&preflight, &refused] {
            assert_eq!(answer.header("x-content-type-options"), Some("nosniff"), "{:?}", answer.headers);
            assert_eq!(answer.header("x-frame-options"), Some("DENY"));
        }
        // Not even an allowed origin reads the pages with the browser's cookie,
        // nor is let through their preflight, however the path is spelled.
        let app_origin = ("Origin", "https://app.example.com");
        let preflight = ("Access-Control-Request-Method", "POST");
        for reply in [
            open.get("/healthz", None),
            open.request_with_headers("GET", "/healthz", &[("Origin", "https://evil.test")], Body::None),
            open.request_with_headers("GET", "/account/sign-in", &[app_origin], Body::None),
            open.request_with_headers("GET", "/%61ccount/", &[app_origin], Body::None),
            open.request_with_headers("OPTIONS", "/account/sign-in", &[app_origin, preflight], Body::None),
        ] {
            assert_eq!(reply.header("access-control-allow-credentials"), None, "{:?}", reply.headers);
            assert_eq!(reply.header("access-control-allow-origin"), None);
        }
        assert_eq!(open.request_with_headers("GET", "/account/sign-in", &[app_origin], Body::None).status, 200);
    }

    fn wrong_methods_answer_405_with_allow_in_each_surface_shape(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("methodical");
        let drf = app.put("/auth/jwt/create/", None, json!({}));
        assert_eq!(drf.status, 405, "{}", drf.text);
        assert_eq!(drf.header("allow"), Some("POST"));
        assert_eq!(drf.json["detail"], "Method \"PUT\" not allowed.");
        assert_eq!(drf.json["code"], "method_not_allowed");
        let me = app.request("POST", "/auth/users/me/", Some(&token), Body::Json(json!({})));
        assert_eq!(me.status, 405, "{}", me.text);
        assert_eq!(me.header("allow"), Some("GET, HEAD, PUT, PATCH, DELETE"));
        assert_eq!(me.json["detail"], "Method \"POST\" not allowed.");
        let users = app.delete("/auth/users/", Some(&token), json!({}));
        assert_eq!(users.status, 405);
        assert_eq!(users.header("allow"), Some("GET, HEAD, POST"));
        let fastapi = app.delete("/login", None, json!({}));
        assert_eq!(fastapi.status, 405);
        assert_eq!(fastapi.header("allow"), Some("POST"));
        assert_eq!(fastapi.json, json!({"detail": "Method Not Allowed"}));
        let events = app.request("PATCH", "/events/", Some(&token), Body::Json(json!({})));
        assert_eq!(events.status, 405, "{}", events.text);
        assert_eq!(events.header("allow"), Some("GET, HEAD, POST"));
        assert_eq!(events.json, json!({"detail": "Method Not Allowed"}));
        let event = app.post("/events/1", Some(&token), json!({}));
        assert_eq!(event.status, 405);
        assert_eq!(event.header("allow"), Some("GET, HEAD, PUT, PATCH, DELETE"));
        let token_form = app.get("/auth/token", None);
        assert_eq!(token_form.status, 405);
        assert_eq!(token_form.json["detail"], "Method Not Allowed");
        let opaque = app.get("/auth/register", None);
        assert_eq!(opaque.status, 405);
        assert_eq!(opaque.header("allow"), Some("POST"));
        assert!(opaque.json["Erreur"].as_str().unwrap().contains("GET"), "{}", opaque.text);
        let message = app.get("/auth/login", None);
        assert_eq!(message.status, 405);
        assert!(message.json["message"].is_string(), "{}", message.text);
        let socket = app.post("/ws/some-token", None, json!({}));
        assert_eq!(socket.status, 405);
        assert_eq!(socket.header("allow"), Some("GET, HEAD"));
        let health = app.post("/healthz", None, json!({}));
        assert_eq!(health.status, 405);
        assert_eq!(health.header("allow"), Some("GET, HEAD"));
        let docs = app.post("/openapi.json", None, json!({}));
        assert_eq!(docs.status, 405);
        // What exists still answers as before; unknown paths stay 404.
        assert_eq!(app.get("/nowhere", None).status, 404);
        assert_eq!(app.post("/nowhere", None, json!({})).status, 404);
        assert_eq!(app.get("/auth/users/9999/", Some(&token)).status, 404);
        assert_eq!(app.get("/events/9999", Some(&token)).status, 404);
        assert_eq!(app.get("/openapi.json", None).status, 200);
        assert_eq!(app.get("/auth/users/me/", None).status, 401);
    }

    fn every_documented_path_answers_405_with_allow_to_each_method_it_does_not_serve(backend) {
        let app = TestApp::spawn(&backend);
        // Authenticated, so a handler that answered instead would not stop at 401.
        let token = app.user_with_token("walker");
        let document = app.get("/openapi.json", None).json;
        let paths = document["paths"].as_object().expect("paths");
        let mut walked = 0;
        let mut wrong = Vec::new();
        // A parameterized route matches some static paths too
        // (`/auth/users/{id}/` matches `/auth/users/set_password/`): it must
        // answer none of them.
        for (path, item) in paths.iter().filter(|(path, _)| !path.contains('{')) {
            let served: Vec<&str> = METHODS
                .into_iter()
                .filter(|method| item.get(method.to_ascii_lowercase()).is_some())
                .collect();
            let allow = served.join(", ").replace("GET", "GET, HEAD");
            let tag = item
                .as_object()
                .and_then(|operations| operations.values().find_map(|operation| operation["tags"][0].as_str()))
                .expect("a tagged operation");
            for method in METHODS.into_iter().filter(|method| !served.contains(method)) {
                walked += 1;
                let reply = app.request(method, path, Some(&token), Body::Json(json!({})));
                let expected = method_not_allowed(tag, method);
                if reply.status != 405 || reply.header("allow") != Some(allow.as_str()) || reply.json != expected {
                    wrong.push(format!(
                        "{method} {path}: {} Allow {:?} {} (expected 405 Allow {allow:?} {expected})",
                        reply.status,
                        reply.header("allow"),
                        reply.text
                    ));
                }
            }
        }
        assert!(walked > 100, "only {walked} requests: is the document complete?");
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        // The router matches the percent-decoded path; so does the 405.
        let encoded = app.get("/auth/users/set_%70assword/", Some(&token));
        assert_eq!(encoded.status, 405, "{}", encoded.text);
        assert_eq!(encoded.header("allow"), Some("POST"));
    }

    fn head_is_answered_as_get_without_a_body(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("header");
        let me = app.get("/auth/users/me/", Some(&token));
        let head = app.request("HEAD", "/auth/users/me/", Some(&token), Body::None);
        assert_eq!(head.status, 200);
        assert_eq!(head.header("content-length"), Some(me.text.len().to_string().as_str()));
        assert_eq!(head.header("content-type"), me.header("content-type"));
        // On the wire: the headers, and not a byte after them.
        let raw = format!(
            "HEAD /auth/users/me/ HTTP/1.1\r\nHost: sesame\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        );
        let (answer, _) = stalled_answer(&app.base, &raw, Duration::from_secs(5));
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("\r\n\r\n"), "a body came: {answer}");
        let anonymous = app.request("HEAD", "/auth/users/me/", None, Body::None);
        assert_eq!(anonymous.status, 401);
        for path in ["/healthz", "/openapi.json", "/account/sign-in", "/users/"] {
            let expected = app.get(path, None).status;
            assert_eq!(app.request("HEAD", path, None, Body::None).status, expected, "{path}");
        }
        let post_only = app.request("HEAD", "/auth/jwt/create/", None, Body::None);
        assert_eq!((post_only.status, post_only.header("allow")), (405, Some("POST")));
    }

    fn with_activation_required_email_less_registration_is_refused(backend) {
        let app = TestApp::spawn_with(&backend, |config| config.accounts.require_activation = true);
        let opaque = app.post("/auth/register", None, json!({"username": "squatter", "password": PASSWORD}));
        assert_eq!(opaque.status, 403, "{}", opaque.text);
        let words = opaque.json["Erreur"].as_str().unwrap();
        assert!(words.contains("/auth/users/") && words.contains("email"), "{words}");
        let token_form = app.post("/auth/", None, json!({"username": "squatter", "password": PASSWORD}));
        assert_eq!(token_form.status, 403, "{}", token_form.text);
        let words = token_form.json["detail"].as_str().unwrap();
        assert!(words.contains("POST /auth/users/") && words.contains("email"), "{words}");
        // Nothing was made: the name is free for a real registration.
        let real = app.post("/auth/users/", None, json!({
            "username": "squatter", "email": "squatter@example.com",
            "password": PASSWORD, "re_password": PASSWORD,
        }));
        assert_eq!(real.status, 201, "{}", real.text);
        // Without activation both routes work as before.
        let open = TestApp::spawn(&backend);
        assert_eq!(open.post("/auth/register", None, json!({"username": "free", "password": PASSWORD})).status, 200);
        assert_eq!(open.post("/auth/", None, json!({"username": "free2", "password": PASSWORD})).status, 201);
    }

    fn client_errors_are_not_logged_at_error_and_lines_carry_the_request_id(backend) {
        let dir = tempfile::TempDir::new().unwrap();
        let (mut binary, _database) = start_binary(&backend, dir.path(), "077", &[
            // Warnings and the access lines only: the request id must be on
            // the warnings whatever the level.
            ("RUST_LOG", "warn,sesame::http=info,sesame_server::app=info"),
        ]);
        let log = collect_log(&mut binary);
        let base = binary.base.clone();
        let _stopping = Stopping(binary);
        let token = register_and_login(&base, "logged");
        // A burst of malformed requests.
        for (method, path, content_type, body) in [
            ("POST", "/auth/users/", "application/json", "{\"username\": "),
            ("POST", "/auth/jwt/create/", "application/json", "[1, 2]"),
            ("POST", "/auth/jwt/create/", "text/plain", "hello"),
            ("POST", "/login", FORM, "email=a&password=b"),
            ("POST", "/auth/register", "application/json", "{\"username\": 7}"),
            ("POST", "/events/", "application/json", "{\"title\": []}"),
            ("PUT", "/auth/jwt/create/", "application/json", "{}"),
            ("GET", "/auth/users/abc/", "application/json", ""),
            ("GET", "/nowhere", "application/json", ""),
            ("POST", "/auth/jwt/verify/", "application/json", "{\"token\": \"x.y.z\"}"),
            ("POST", "/auth/users/activation/", "application/json", "{\"uid\": \"!!\", \"token\": \"?\"}"),
        ] {
            let (status, _) = call(&base, method, path, &[("Content-Type", content_type), ("Authorization", "Bearer not.a.token")], body.as_bytes().to_vec());
            assert!((400..500).contains(&status), "{method} {path}: {status}");
        }
        let (status, _) = call(&base, "POST", "/auth/users/", &[("Content-Type", "application/json")], vec![b'a'; 200_000]);
        assert_eq!(status, 413);
        let (garbage, _) = stalled_answer(&base, "NOT HTTP AT ALL\r\n\r\n", Duration::from_secs(3));
        assert!(garbage.is_empty() || garbage.starts_with("HTTP/1.1 4"), "{garbage}");

        // A line logged on a blocking thread: the old avatar cannot be
        // removed (a folder now stands where its file was).
        let bearer = format!("Bearer {token}");
        let (status, me) = call(&base, "PATCH", "/auth/users/me/", &[("Authorization", &bearer), ("Content-Type", &format!("multipart/form-data; boundary={BOUNDARY}"))], avatar_form());
        assert_eq!(status, 200, "{me}");
        let file = me["avatar"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
        let stored = dir.path().join("data/avatars").join(&file);
        std::fs::remove_file(&stored).unwrap();
        std::fs::create_dir_all(stored.join("blocker")).unwrap();
        let mut request = ureq::http::Request::builder()
            .method("PATCH")
            .uri(format!("{base}/auth/users/me/"))
            .header("Authorization", &bearer)
            .header("Content-Type", "application/json")
            .header("X-Request-Id", "ops-trace-17");
        request = request.header("Accept", "application/json");
        let answer = agent().run(request.body(json!({"avatar": null}).to_string()).unwrap()).unwrap();
        assert_eq!(answer.status().as_u16(), 200);

        // A record of the `log` facade (actix-multipart on a part longer
        // than its own Content-Length) is bridged, inside the request's span.
        let lying = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"first_name\"\r\nContent-Length: 2\r\n\r\nabcdef\r\n--{BOUNDARY}--\r\n");
        let (status, _) = call(&base, "PATCH", "/auth/users/me/", &[("Authorization", &bearer), ("Content-Type", &format!("multipart/form-data; boundary={BOUNDARY}")), ("X-Request-Id", "ops-bridge-17")], lying.into_bytes());
        assert!(status < 500, "{status}");

        let deadline = Instant::now() + Duration::from_secs(5);
        let lines: Vec<Value> = loop {
            let lines: Vec<Value> = log.lock().unwrap().iter().filter_map(|line| serde_json::from_str(line).ok()).collect();
            let seen = lines.iter().filter(|line| line.to_string().contains("ops-trace-17")).count();
            let bridged = lines.iter().filter(|line| line.to_string().contains("ops-bridge-17")).count();
            if (seen >= 2 && bridged >= 2) || Instant::now() > deadline {
                break lines;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let errors: Vec<&Value> = lines.iter().filter(|line| line["level"] == "ERROR").collect();
        assert!(errors.is_empty(), "client errors logged at ERROR: {errors:#?}");
        let traced: Vec<&Value> = lines.iter().filter(|line| line["span"]["request_id"] == "ops-trace-17").collect();
        assert!(traced.iter().any(|line| line["fields"]["message"] == "request"), "{traced:#?}");
        assert!(
            traced.iter().any(|line| line["fields"]["message"] == "could not remove an old avatar"),
            "the blocking thread's line carries the request id: {traced:#?}"
        );
        let bridged: Vec<&Value> = lines.iter().filter(|line| line["span"]["request_id"] == "ops-bridge-17").collect();
        assert!(
            bridged.iter().any(|line| line["fields"]["message"].as_str().is_some_and(|m| m.contains("multipart field did not read all the data"))),
            "a `log` record, bridged with the request id: {bridged:#?}"
        );
    }
}
