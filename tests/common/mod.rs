//! The black-box harness: starts the real service on a free port, on SQLite
//! or on a fresh PostgreSQL database, and speaks HTTP to it.
#![allow(dead_code)]

pub mod binary;
pub mod outbox;
pub mod ws;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;

use serde_json::Value;
use sesame_persistence::testing::{postgres_admin_url, TestDatabase};
use sesame_server::{Application, Config};
use tempfile::TempDir;

/// A strong password that passes the policy.
pub const PASSWORD: &str = "Xk92!dumbo-lamp";

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when `SESAME_TEST_POSTGRES_URL` is set; `None` (the test
    /// skips) otherwise.
    pub fn postgres() -> Option<Backend> {
        match postgres_admin_url() {
            Some(url) => Some(Backend::Postgres(url)),
            None => {
                eprintln!("skipped: SESAME_TEST_POSTGRES_URL is not set");
                None
            }
        }
    }
}

/// Runs each test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! backend_tests {
    ($(fn $name:ident($backend:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $name() {
                    let $backend = $crate::common::Backend::Sqlite;
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $name() {
                    let Some($backend) = $crate::common::Backend::postgres() else { return };
                    $body
                }
            )*
        }
    };
}

/// A running Sesame.
pub struct TestApp {
    pub base: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    agent: ureq::Agent,
    system: actix_web::rt::System,
    _data: TempDir,
    _database: Option<TestDatabase>,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub text: String,
    pub json: Value,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of the cookie `name` set by this answer (from the first
    /// `Set-Cookie` header that names it).
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookie(name).map(|header| {
            let pair = header.split(';').next().unwrap_or_default();
            pair.split_once('=')
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        })
    }

    /// The whole `Set-Cookie` header that sets the cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers_named("set-cookie").into_iter().find(|header| {
            header
                .split_once('=')
                .is_some_and(|(n, _)| n.trim() == name)
        })
    }

    /// `json[key]` as a string.
    pub fn str(&self, key: &str) -> String {
        self.json[key]
            .as_str()
            .unwrap_or_else(|| panic!("no string {key:?} in {}", self.text))
            .to_owned()
    }
}

/// A request body.
pub enum Body {
    None,
    Json(Value),
    Raw(&'static str, String),
}

impl TestApp {
    pub fn spawn(backend: &Backend) -> TestApp {
        Self::spawn_with(backend, |_| {})
    }

    /// Starts Sesame with the test defaults (bcrypt cost 4, no rate limits,
    /// a temporary data dir), changed by `adjust`.
    pub fn spawn_with(backend: &Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let data = TempDir::new().expect("a temporary directory");
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres(admin_url) => Some(TestDatabase::create(admin_url)),
        };
        let mut config = Config {
            data_dir: data.path().to_path_buf(),
            ..Config::default()
        };
        config.http.bind = "127.0.0.1:0".into();
        config.http.workers = 2;
        config.passwords.bcrypt_cost = 4;
        config.rate_limit.enabled = false;
        config.database.pool_size = 8;
        config.database.url = database.as_ref().map(|db| db.url().to_owned());
        adjust(&mut config);
        let database_url = config.database_url();
        let (ready, started) = mpsc::channel();
        thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                match Application::build(&config) {
                    Ok(app) => {
                        let _ = ready.send(Ok((app.port(), actix_web::rt::System::current())));
                        let _ = app.run_until_stopped().await;
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e.to_string()));
                    }
                }
            });
        });
        let (port, system) = started
            .recv()
            .expect("the server thread answers")
            .unwrap_or_else(|e| panic!("Sesame did not start: {e}"));
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        TestApp {
            base: format!("http://127.0.0.1:{port}"),
            data_dir: data.path().to_path_buf(),
            database_url,
            agent,
            system,
            _data: data,
            _database: database,
        }
    }

    pub fn request(&self, method: &str, path: &str, token: Option<&str>, body: Body) -> Reply {
        let authorization = token.map(|token| format!("Bearer {token}"));
        let headers: Vec<(&str, &str)> = authorization
            .as_deref()
            .map(|value| ("Authorization", value))
            .into_iter()
            .collect();
        self.request_with_headers(method, path, &headers, body)
    }

    /// A request with these extra headers (`Cookie`, `Authorization`, ...).
    pub fn request_with_headers(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Reply {
        let url = format!("{}{}", self.base, path);
        let mut builder = ureq::http::Request::builder().method(method).uri(&url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (content_type, payload) = match body {
            Body::None => (None, String::new()),
            Body::Json(value) => (Some("application/json"), value.to_string()),
            Body::Raw(content_type, text) => (Some(content_type), text),
        };
        if let Some(content_type) = content_type {
            builder = builder.header("Content-Type", content_type);
        }
        let request = builder.body(payload).expect("a valid request");
        let mut response = self.agent.run(request).expect("Sesame answers");
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let text = response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            text,
            json,
            headers,
        }
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.request("GET", path, token, Body::None)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.request("POST", path, token, Body::Json(body))
    }

    pub fn put(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.request("PUT", path, token, Body::Json(body))
    }

    pub fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.request("PATCH", path, token, Body::Json(body))
    }

    pub fn delete(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.request("DELETE", path, token, Body::Json(body))
    }

    /// Registers through the primary surface; panics unless it answers 201.
    pub fn register(&self, username: &str) -> Value {
        let reply = self.post(
            "/auth/users/",
            None,
            serde_json::json!({
                "username": username,
                "email": format!("{username}@example.com"),
                "password": PASSWORD,
                "re_password": PASSWORD,
            }),
        );
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json
    }

    /// Logs in through the primary surface; returns (access, refresh).
    pub fn login(&self, username: &str, password: &str) -> (String, String) {
        let reply = self.post(
            "/auth/jwt/create/",
            None,
            serde_json::json!({"username": username, "password": password}),
        );
        assert_eq!(reply.status, 200, "{}", reply.text);
        (reply.str("access"), reply.str("refresh"))
    }

    /// Registers and logs in; returns the access token.
    pub fn user_with_token(&self, username: &str) -> String {
        self.register(username);
        self.login(username, PASSWORD).0
    }

    /// Runs the `sesame` binary against this instance's data dir and database.
    pub fn cli(&self, args: &[&str], stdin: &str) -> std::process::Output {
        run_cli(
            args,
            stdin,
            &[
                ("SESAME__DATA_DIR", self.data_dir.to_str().unwrap()),
                ("DATABASE_URL", &self.database_url),
                ("SESAME__PASSWORDS__BCRYPT_COST", "4"),
            ],
        )
    }

    /// Creates an administrator through the CLI and logs in as them.
    pub fn admin_token(&self, username: &str) -> String {
        let output = self.cli(
            &[
                "user",
                "create",
                "--username",
                username,
                "--admin",
                "--password-stdin",
            ],
            &format!("{PASSWORD}\n"),
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.login(username, PASSWORD).0
    }
}

impl TestApp {
    /// A second instance on the same database with the same JWT and MFA
    /// keys (a cluster of two), with its own data dir.
    pub fn spawn_beside(&self) -> TestApp {
        self.spawn_beside_with(|_| {})
    }

    /// [`TestApp::spawn_beside`], its configuration changed by `adjust`.
    pub fn spawn_beside_with(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let read = |name| std::fs::read_to_string(self.data_dir.join(name)).expect(name);
        let (secret, mfa_key) = (read("jwt_secret"), read("mfa_key"));
        let database_url = self.database_url.clone();
        TestApp::spawn_with(&Backend::Sqlite, move |config| {
            config.database.url = Some(database_url);
            config.tokens.jwt_secret = Some(secret);
            config.mfa.encryption_key = Some(mfa_key);
            adjust(config);
        })
    }

    /// Opens a WebSocket at `/ws/{token}`.
    pub fn socket(&self, token: &str) -> ws::Socket {
        ws::Socket::connect(&self.base, token)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.system.stop();
    }
}

/// Runs the `sesame` binary in a temporary working directory.
pub fn run_cli(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> std::process::Output {
    use std::io::{Read, Write};
    let workdir = TempDir::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .args(args)
        .current_dir(workdir.path())
        .env_remove("DATABASE_URL")
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the sesame binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut read = Vec::new();
            let _ = pipe.read_to_end(&mut read);
            read
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    // A command meant to stop (`serve` refused a setting, say) that runs on
    // fails the test instead of hanging it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("`sesame {}` still ran after 60 s", args.join(" "));
        }
        thread::sleep(std::time::Duration::from_millis(10));
    };
    std::process::Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}
