//! Faults (issue #8, point 8): the database goes away under load and comes
//! back; the process is killed with SIGKILL in the middle of writes.
//!
//! While PostgreSQL is down every answer that is not a 2xx is a 503 in the
//! error shape of its surface (never a 500, never a hang), `/readyz` says 503,
//! and the service recovers by itself once the database is back. Whatever
//! happens, no write that was acknowledged with a 2xx is missing afterwards.
//!
//! The PostgreSQL test stops a private cluster of its own (initdb + pg_ctl in
//! a temporary directory, on a free port), never the shared server that
//! `SESAME_TEST_POSTGRES_URL` points at: other tests use that one meanwhile.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{Backend, TestApp, PASSWORD};
use serde_json::{json, Value};
use sesame_persistence::testing::TestDatabase;

/// The client gives up after this (and the test fails: every request must
/// be answered).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);
/// While the database is away a request answers 503 within about a second
/// (once the pool holds no connection), never after the pool's whole
/// 10-second wait: every answer comes within this bound. (The LISTEN thread
/// once held a pooled connection through the outage, and requests waited
/// 10 s: it now has a connection of its own.)
const ANSWER_BOUND: Duration = Duration::from_secs(8);
/// How long the database stays down (at least; until `/readyz` said 503 and
/// every kind of write has been refused once, within [`OUTAGE_BOUND`]).
const OUTAGE: Duration = Duration::from_secs(3);
/// The longest the database stays down waiting for every kind of write to
/// be refused (a loaded machine may be slow to try them all).
const OUTAGE_BOUND: Duration = Duration::from_secs(20);
/// How long the service may take to be ready again once the database is.
const RECOVERY_BOUND: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------- HTTP client

/// An answer, or why there was none (timeout, refused connection).
type Answer = Result<(u16, Value), String>;

/// A small blocking client with a timeout, shared by the load threads.
#[derive(Clone)]
struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    fn new(base: &str) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(CLIENT_TIMEOUT))
            .build()
            .into();
        Client {
            base: base.to_owned(),
            agent,
        }
    }

    fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        if let Some(token) = token {
            builder = builder.header("Authorization", format!("Bearer {token}"));
        }
        let payload = match body {
            Some(body) => {
                builder = builder.header("Content-Type", "application/json");
                body.to_string()
            }
            None => String::new(),
        };
        let request = builder.body(payload).map_err(|e| e.to_string())?;
        let mut response = self.agent.run(request).map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// A call that must answer `status`; returns the body.
    fn expect(
        &self,
        status: u16,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        match self.call(method, path, token, body) {
            Ok((got, json)) if got == status => json,
            other => panic!("{method} {path}: expected {status}, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------- load

/// The error shape a route answers in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// Surfaces `events_messages` and `token_form`: `{"detail": "..."}`.
    FastApi,
    /// Surface `primary`: `{"detail": "...", "code": "..."}`.
    Drf,
    /// Surface `opaque`: `{"Erreur": "..."}`.
    Opaque,
    /// Surface `cookie_refresh`: `{"message": "..."}`.
    Message,
}

impl Shape {
    /// Whether `body` is a 503 of this shape.
    fn is_unavailable(self, body: &Value) -> bool {
        let Some(object) = body.as_object() else {
            return false;
        };
        let text = |key: &str| object.get(key).is_some_and(Value::is_string);
        match self {
            Shape::FastApi => text("detail") && object.len() == 1,
            Shape::Drf => {
                text("detail") && object.len() == 2 && body["code"] == "service_unavailable"
            }
            Shape::Opaque => text("Erreur") && object.len() == 1,
            Shape::Message => text("message") && object.len() == 1,
        }
    }
}

/// What one load thread does, over and over.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    /// `POST /events/` with a new title (events_messages).
    CreateEvent,
    /// `POST /messages/` from Alice to Bob (events_messages).
    SendMessage,
    /// `POST /auth/users/` with a new username (primary).
    Register,
    /// `GET /events/` (events_messages).
    ListEvents,
    /// `GET /auth/users/me/` (primary).
    Me,
    /// `GET /auth/get/alice` (opaque).
    OpaqueGet,
    /// `POST /auth/login` (cookie_refresh).
    CookieLogin,
    /// `POST /auth/token` (token_form).
    TokenLogin,
}

impl Op {
    const ALL: [Op; 8] = [
        Op::CreateEvent,
        Op::SendMessage,
        Op::Register,
        Op::ListEvents,
        Op::Me,
        Op::OpaqueGet,
        Op::CookieLogin,
        Op::TokenLogin,
    ];

    /// What each load thread does, in turn.
    const THREADS: [&'static [Op]; 6] = [
        &[Op::CreateEvent],
        &[Op::CreateEvent],
        &[Op::SendMessage],
        &[Op::Register],
        &[Op::ListEvents, Op::Me],
        &[Op::OpaqueGet, Op::CookieLogin, Op::TokenLogin],
    ];

    fn shape(self) -> Shape {
        match self {
            Op::CreateEvent | Op::SendMessage | Op::ListEvents | Op::TokenLogin => Shape::FastApi,
            Op::Register | Op::Me => Shape::Drf,
            Op::OpaqueGet => Shape::Opaque,
            Op::CookieLogin => Shape::Message,
        }
    }

    fn is_write(self) -> bool {
        matches!(self, Op::CreateEvent | Op::SendMessage | Op::Register)
    }
}

/// A write the service acknowledged with a 2xx.
#[derive(Debug, Clone)]
enum Acked {
    Event { id: i64, title: String },
    Message { id: i64, content: String },
    User { id: i64, username: String },
}

/// One request of the load and how it went.
#[derive(Debug)]
struct Outcome {
    op: Op,
    started: Instant,
    ended: Instant,
    answer: Answer,
}

/// Two users of the service: Alice writes, Bob receives.
#[derive(Debug, Clone)]
struct Users {
    alice: String,
    bob_id: i64,
}

impl Users {
    fn create(client: &Client) -> Users {
        let bob_id = register(client, "bob")["id"].as_i64().unwrap();
        register(client, "alice");
        Users {
            alice: login(client, "alice"),
            bob_id,
        }
    }
}

fn register(client: &Client, username: &str) -> Value {
    client.expect(
        201,
        "POST",
        "/auth/users/",
        None,
        Some(json!({
            "username": username,
            "email": format!("{username}@example.com"),
            "password": PASSWORD,
            "re_password": PASSWORD,
        })),
    )
}

fn login(client: &Client, username: &str) -> String {
    let reply = client.expect(
        200,
        "POST",
        "/auth/jwt/create/",
        None,
        Some(json!({"username": username, "password": PASSWORD})),
    );
    reply["access"].as_str().unwrap().to_owned()
}

/// Client threads doing every [`Op`] until told to stop.
struct Load {
    stop: Arc<AtomicBool>,
    /// The operations that have been answered 503 so far.
    refused: Arc<Mutex<Vec<Op>>>,
    threads: Vec<thread::JoinHandle<(Vec<Outcome>, Vec<Acked>)>>,
}

/// Everything the load did.
struct Record {
    outcomes: Vec<Outcome>,
    acked: Vec<Acked>,
}

impl Load {
    /// Starts the threads of [`Op::THREADS`].
    fn start(client: &Client, users: &Users) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(Mutex::new(Vec::new()));
        let threads = Op::THREADS
            .into_iter()
            .enumerate()
            .map(|(thread_no, ops)| {
                let (client, users, stop) = (client.clone(), users.clone(), stop.clone());
                let refused = refused.clone();
                thread::spawn(move || run_ops(thread_no, ops, &client, &users, &stop, &refused))
            })
            .collect();
        Load {
            stop,
            refused,
            threads,
        }
    }

    /// Whether every one of `ops` has been answered 503 at least once.
    fn all_refused(&self, ops: &[Op]) -> bool {
        let refused = self.refused.lock().unwrap();
        ops.iter().all(|op| refused.contains(op))
    }

    /// Stops the threads and gathers what they did.
    fn finish(self) -> Record {
        self.stop.store(true, Ordering::SeqCst);
        let mut record = Record {
            outcomes: Vec::new(),
            acked: Vec::new(),
        };
        for thread in self.threads {
            let (outcomes, acked) = thread.join().expect("a load thread");
            record.outcomes.extend(outcomes);
            record.acked.extend(acked);
        }
        record
    }
}

fn run_ops(
    thread_no: usize,
    ops: &[Op],
    client: &Client,
    users: &Users,
    stop: &AtomicBool,
    refused: &Mutex<Vec<Op>>,
) -> (Vec<Outcome>, Vec<Acked>) {
    let (mut outcomes, mut acked) = (Vec::new(), Vec::new());
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        let op = ops[n % ops.len()];
        n += 1;
        let name = format!("fault{thread_no}x{n}");
        let started = Instant::now();
        let answer = match op {
            Op::CreateEvent => client.call(
                "POST",
                "/events/",
                Some(&users.alice),
                Some(json!({
                    "title": name, "description": "under load",
                    "date": "2031-05-01T10:00:00", "location": "Lyon",
                })),
            ),
            Op::SendMessage => client.call(
                "POST",
                "/messages/",
                Some(&users.alice),
                Some(json!({"content": name, "receiver_id": users.bob_id})),
            ),
            Op::Register => client.call(
                "POST",
                "/auth/users/",
                None,
                Some(json!({
                    "username": name, "email": format!("{name}@example.com"),
                    "password": PASSWORD, "re_password": PASSWORD,
                })),
            ),
            Op::ListEvents => client.call("GET", "/events/?limit=5", None, None),
            Op::Me => client.call("GET", "/auth/users/me/", Some(&users.alice), None),
            Op::OpaqueGet => client.call("GET", "/auth/get/alice", None, None),
            Op::CookieLogin => client.call(
                "POST",
                "/auth/login",
                None,
                Some(json!({"login": "alice", "password": PASSWORD})),
            ),
            Op::TokenLogin => client.call(
                "POST",
                "/auth/token",
                None,
                Some(json!({"username": "alice", "password": PASSWORD})),
            ),
        };
        let ended = Instant::now();
        if matches!(answer, Ok((503, _))) {
            refused.lock().unwrap().push(op);
        }
        let ok = matches!(answer, Ok((status, _)) if (200..300).contains(&status));
        if let (true, Ok((_, body))) = (ok, &answer) {
            let id = body["id"].as_i64();
            match (op, id) {
                (Op::CreateEvent, Some(id)) => acked.push(Acked::Event { id, title: name }),
                (Op::SendMessage, Some(id)) => acked.push(Acked::Message { id, content: name }),
                (Op::Register, Some(id)) => acked.push(Acked::User { id, username: name }),
                (op, None) if op.is_write() => panic!("{op:?} acknowledged without an id: {body}"),
                _ => {}
            }
        }
        outcomes.push(Outcome {
            op,
            started,
            ended,
            answer,
        });
        if !ok {
            // Do not spin on quick failures.
            thread::sleep(Duration::from_millis(50));
        } else if !op.is_write() {
            // Reads may come from memory: leave the writers some CPU.
            thread::sleep(Duration::from_millis(10));
        }
    }
    (outcomes, acked)
}

/// Checks that every acknowledged write is there, through the API; returns
/// how many were found.
fn find_acknowledged(client: &Client, acked: &[Acked]) -> usize {
    let bob = login(client, "bob");
    let mut received = HashSet::new();
    for skip in (0..).step_by(100) {
        let page = client.expect(
            200,
            "GET",
            &format!("/messages/received?skip={skip}&limit=100"),
            Some(&bob),
            None,
        );
        let page = page.as_array().expect("a list of messages");
        received.extend(page.iter().map(|message| {
            (
                message["id"].as_i64().unwrap(),
                message["content"].as_str().unwrap().to_owned(),
            )
        }));
        if page.len() < 100 {
            break;
        }
    }
    let mut found = 0;
    let mut missing = Vec::new();
    for write in acked {
        let there = match write {
            Acked::Event { id, title } => {
                matches!(client.call("GET", &format!("/events/{id}"), None, None),
                         Ok((200, event)) if event["title"] == json!(title))
            }
            Acked::Message { id, content } => received.contains(&(*id, content.clone())),
            Acked::User { id, username } => {
                matches!(client.call("GET", &format!("/auth/get/{username}"), None, None),
                         Ok((200, user)) if user["id"] == json!(id))
            }
        };
        if there {
            found += 1;
        } else {
            missing.push(write.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "acknowledged writes missing afterwards: {missing:?}"
    );
    found
}

/// Counts per kind of answer, printed as the test's figures.
fn figures(label: &str, record: &Record, found: usize) {
    for op in Op::ALL {
        let mine: Vec<_> = record.outcomes.iter().filter(|o| o.op == op).collect();
        let ok = mine
            .iter()
            .filter(|o| matches!(o.answer, Ok((s, _)) if (200..300).contains(&s)))
            .count();
        let unavailable = mine
            .iter()
            .filter(|o| matches!(o.answer, Ok((503, _))))
            .count();
        let slowest = mine.iter().map(|o| o.ended - o.started).max();
        println!(
            "[{label}]   {op:?}: {} sent, {ok} 2xx, {unavailable} 503, slowest {slowest:?}",
            mine.len()
        );
    }
    let count =
        |pred: &dyn Fn(&Outcome) -> bool| record.outcomes.iter().filter(|o| pred(o)).count();
    let writes = count(&|o| o.op.is_write());
    let ok = count(&|o| matches!(o.answer, Ok((s, _)) if (200..300).contains(&s)));
    let unavailable = count(&|o| matches!(o.answer, Ok((503, _))));
    let other_status =
        count(&|o| matches!(o.answer, Ok((s, _)) if s != 503 && !(200..300).contains(&s)));
    let no_answer = count(&|o| o.answer.is_err());
    println!(
        "[{label}] requests sent: {} (writes {writes}); 2xx: {ok}; writes acknowledged: {}; \
         503: {unavailable}; other status: {other_status}; no answer: {no_answer}; \
         acknowledged writes found afterwards: {found}/{}",
        record.outcomes.len(),
        record.acked.len(),
        record.acked.len(),
    );
}

// ------------------------------------------------------- a private PostgreSQL

/// A PostgreSQL cluster of this test's own, in a temporary directory, that the
/// test may stop and start. Stopped and removed when dropped.
struct PgCluster {
    root: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    watchdog: Option<Child>,
}

impl PgCluster {
    /// `initdb` and start. Panics when the binaries are missing: the test
    /// was asked for (`SESAME_TEST_POSTGRES_URL` is set) and must not skip.
    fn start() -> PgCluster {
        let bin = pg_bindir();
        for tool in ["initdb", "pg_ctl", "postgres"] {
            assert!(
                bin.join(tool).exists(),
                "{tool} not found in {} (install PostgreSQL's server binaries)",
                bin.display()
            );
        }
        // initdb and postgres refuse to run as root.
        let as_postgres = is_root();
        let root = tempfile::Builder::new()
            .prefix("sesame-pg-")
            .tempdir()
            .unwrap();
        if as_postgres {
            run(Command::new("chown").arg("postgres:").arg(root.path()));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cluster = PgCluster {
            root,
            bin,
            port,
            as_postgres,
            watchdog: None,
        };
        cluster.watchdog = Some(cluster.watchdog());
        run(cluster
            .command("initdb")
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions", "-D"])
            .arg(cluster.data()));
        cluster.resume();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }

    fn command(&self, tool: &str) -> Command {
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join(tool));
            command
        } else {
            Command::new(self.bin.join(tool))
        };
        command.current_dir(self.root.path());
        command
    }

    /// Stops the cluster and removes its directory should this test process
    /// die without unwinding (SIGKILL, the OOM killer), when `Drop` cannot.
    fn watchdog(&self) -> Child {
        let stop = format!(
            "{} {} -D {} -m immediate -w stop",
            if self.as_postgres {
                "runuser -u postgres --"
            } else {
                ""
            },
            self.bin.join("pg_ctl").display(),
            self.data().display(),
        );
        let script = format!(
            "while kill -0 {} 2>/dev/null; do sleep 1; done; {stop}; rm -rf '{}'",
            std::process::id(),
            self.root.path().display(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh runs")
    }

    /// The admin URL, for [`TestDatabase::create`].
    fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server (again), on the same port and data.
    fn resume(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            self.port,
            self.root.path().display()
        );
        run(self
            .command("pg_ctl")
            .args(["-w", "-t", "60", "-o", &options, "-l"])
            .arg(self.root.path().join("server.log"))
            .arg("-D")
            .arg(self.data())
            .arg("start"));
    }

    /// Stops the server the hard way: backends are killed, no checkpoint;
    /// the next start runs crash recovery.
    fn halt(&self) {
        run(self
            .command("pg_ctl")
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.data())
            .arg("stop"));
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if thread::panicking() {
            let log = std::fs::read_to_string(self.root.path().join("server.log"));
            let log = log.unwrap_or_default();
            let tail: Vec<_> = log.lines().rev().take(30).collect();
            eprintln!("private PostgreSQL log, last lines (newest first):");
            tail.iter().for_each(|line| eprintln!("  {line}"));
        }
        let _ = self
            .command("pg_ctl")
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.data())
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

/// Where PostgreSQL's server binaries are.
fn pg_bindir() -> PathBuf {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        .filter(|dir| dir.join("initdb").exists());
    from_pg_config.unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Runs a command to completion; panics with its output unless it succeeds.
fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

// ---------------------------------------------------------------- the tests

/// Polls `/readyz` until it answers `status`; panics after `bound`.
fn wait_for_readyz(client: &Client, status: u16, bound: Duration) -> Instant {
    let start = Instant::now();
    loop {
        let answer = client.call("GET", "/readyz", None, None);
        if let Ok((got, body)) = &answer {
            if *got == status {
                let expected = if status == 200 {
                    "ready"
                } else {
                    "database unreachable"
                };
                assert_eq!(body, &json!({ "status": expected }));
                return Instant::now();
            }
        }
        assert!(
            start.elapsed() < bound,
            "/readyz did not answer {status} within {bound:?}; last: {answer:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// Posts messages from Alice to Bob on the instance behind `client` until
/// one reaches Bob's socket on `beside` (LISTEN/NOTIFY across instances);
/// panics after `bound`. Returns how long it took.
fn delivered_across_instances(
    client: &Client,
    beside: &TestApp,
    users: &Users,
    label: &str,
    bound: Duration,
) -> Duration {
    let bob = login(client, "bob");
    let mut socket = beside.socket(&bob);
    let start = Instant::now();
    for n in 0.. {
        assert!(
            start.elapsed() < bound,
            "{label}: no message reached the other instance within {bound:?}"
        );
        let content = format!("{label} {n}");
        client.expect(
            200,
            "POST",
            "/messages/",
            Some(&users.alice),
            Some(json!({"content": content, "receiver_id": users.bob_id})),
        );
        let wait = Instant::now();
        while wait.elapsed() < Duration::from_millis(500) {
            if let common::ws::Event::Json(event) = socket.next(Duration::from_millis(100)) {
                if event["type"] == "new_message" && event["message"]["content"] == json!(content) {
                    return start.elapsed();
                }
            }
        }
    }
    unreachable!()
}

#[test]
fn postgres_stopped_under_load_gives_503_recovers_and_loses_no_acknowledged_write() {
    let Some(_) = Backend::postgres() else { return };
    let cluster = PgCluster::start();
    let app = TestApp::spawn(&Backend::Postgres(cluster.admin_url()));
    // A second instance on the same database: messages reach it through
    // LISTEN/NOTIFY, whose connection must come back after the outage too.
    let beside = app.spawn_beside();
    let client = Client::new(&app.base);
    let users = Users::create(&client);
    delivered_across_instances(&client, &beside, &users, "before", Duration::from_secs(10));

    let load = Load::start(&client, &users);
    thread::sleep(Duration::from_secs(2));

    cluster.halt();
    let down = Instant::now();
    // Down: readiness says so (within a bound), and the outage lasts a while.
    wait_for_readyz(&client, 503, Duration::from_secs(15));
    thread::sleep(OUTAGE.saturating_sub(down.elapsed()));
    let writes = [Op::CreateEvent, Op::SendMessage, Op::Register];
    while !load.all_refused(&writes) && down.elapsed() < OUTAGE_BOUND {
        thread::sleep(Duration::from_millis(100));
    }
    let restarting = Instant::now();
    cluster.resume();

    // Back: the same process recovers by itself.
    let recovered = wait_for_readyz(&client, 200, RECOVERY_BOUND);
    println!(
        "[postgres stopped] down for {:?}; ready again {:?} after the restart began",
        restarting - down,
        recovered - restarting
    );
    // Messages cross instances again: the LISTEN connection came back.
    let relisten = delivered_across_instances(&client, &beside, &users, "after", RECOVERY_BOUND);
    println!("[postgres stopped] cross-instance delivery back within {relisten:?}");
    thread::sleep(Duration::from_secs(3));
    let record = load.finish();

    // Writes of every kind succeed again.
    for name in ["after1", "after2"] {
        client.expect(
            200,
            "POST",
            "/events/",
            Some(&users.alice),
            Some(json!({
                "title": name, "description": "",
                "date": "2031-01-01T00:00:00", "location": "",
            })),
        );
        client.expect(
            200,
            "POST",
            "/messages/",
            Some(&users.alice),
            Some(json!({"content": name, "receiver_id": users.bob_id})),
        );
        register(&client, name);
    }

    for outcome in &record.outcomes {
        match &outcome.answer {
            Ok((status, _)) if (200..300).contains(status) => {}
            Ok((503, body)) => assert!(
                outcome.op.shape().is_unavailable(body),
                "{:?} answered 503 outside its surface's shape: {body}",
                outcome.op
            ),
            other => panic!(
                "{:?} answered {other:?} ({:?} after the stop); only 2xx or 503 are allowed",
                outcome.op,
                outcome.started.saturating_duration_since(down)
            ),
        }
        let took = outcome.ended - outcome.started;
        assert!(
            took < ANSWER_BOUND,
            "{:?} took {took:?} to answer {:?}",
            outcome.op,
            outcome.answer
        );
    }
    // While the database was surely down, no write was acknowledged (reads
    // may be answered from memory, such as the caller's cached session).
    for outcome in record.outcomes.iter().filter(|o| o.op.is_write()) {
        if outcome.started > down && outcome.ended < restarting {
            assert!(
                matches!(outcome.answer, Ok((503, _))),
                "{:?} answered {:?} while the database was down",
                outcome.op,
                outcome.answer
            );
        }
    }
    let settled = recovered + Duration::from_secs(2);
    for outcome in record.outcomes.iter().filter(|o| o.started > settled) {
        assert!(
            matches!(outcome.answer, Ok((s, _)) if (200..300).contains(&s)),
            "{:?} answered {:?} well after recovery",
            outcome.op,
            outcome.answer
        );
    }
    let during: Vec<_> = record
        .outcomes
        .iter()
        .filter(|o| o.ended > down && o.started < restarting)
        .collect();
    let unavailable = during
        .iter()
        .filter(|o| matches!(o.answer, Ok((503, _))))
        .count();
    println!(
        "[postgres stopped] answers during the outage: {}, of which 503: {unavailable}",
        during.len()
    );
    for op in [Op::CreateEvent, Op::SendMessage, Op::Register] {
        assert!(
            during
                .iter()
                .any(|o| o.op == op && matches!(o.answer, Ok((503, _)))),
            "{op:?} never answered 503 while the database was down"
        );
        assert!(
            record.outcomes.iter().any(|o| o.op == op
                && o.started > recovered
                && matches!(o.answer, Ok((s, _)) if (200..300).contains(&s))),
            "no {op:?} succeeded after recovery"
        );
    }

    let found = find_acknowledged(&client, &record.acked);
    figures("postgres stopped", &record, found);
    drop(beside);
    drop(app);
}

/// A `sesame` process of the real binary.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data_dir: &Path, database_url: &str) -> Server {
        let data = data_dir.to_str().unwrap();
        let mut binary = common::binary::start(
            data_dir,
            &[
                ("SESAME__DATABASE__URL", database_url),
                ("SESAME__DATA_DIR", data),
            ],
        );
        binary.drain_log(drop);
        Server {
            child: binary.child,
            base: binary.base,
        }
    }

    /// SIGKILL: no shutdown, no flush, nothing.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `PRAGMA integrity_check` with the `sqlite3` shell, when there is one.
fn sqlite_integrity(file: &Path) {
    match Command::new("sqlite3")
        .arg(file)
        .arg("PRAGMA integrity_check;")
        .output()
    {
        Ok(output) => {
            let said = String::from_utf8_lossy(&output.stdout);
            assert_eq!(said.trim(), "ok", "integrity_check after SIGKILL: {said}");
        }
        Err(_) => println!("(no sqlite3 shell: integrity_check not run)"),
    }
}

backend_tests! {
    fn sigkill_during_writes_loses_no_acknowledged_write(backend) {
        let dir = tempfile::TempDir::new().unwrap();
        let (database_url, _database) = match &backend {
            Backend::Sqlite => {
                let file = dir.path().join("sesame.db");
                (format!("sqlite://{}", file.display()), None)
            }
            Backend::Postgres(admin) => {
                let database = TestDatabase::create(admin);
                (database.url().to_owned(), Some(database))
            }
        };
        let label = match backend {
            Backend::Sqlite => "SIGKILL, sqlite",
            Backend::Postgres(_) => "SIGKILL, postgres",
        };
        let server = Server::start(dir.path(), &database_url);
        let client = Client::new(&server.base);
        let users = Users::create(&client);

        let load = Load::start(&client, &users);
        // Kill in the middle of the load, once writes of every kind went in:
        // the requests in flight then get no answer.
        thread::sleep(Duration::from_secs(2));
        server.kill();
        let record = load.finish();
        for op in [Op::CreateEvent, Op::SendMessage, Op::Register] {
            assert!(
                record.outcomes.iter().any(|o| o.op == op
                    && matches!(o.answer, Ok((s, _)) if (200..300).contains(&s))),
                "no {op:?} was acknowledged before the kill"
            );
        }
        // Before the kill, nothing failed.
        for outcome in &record.outcomes {
            if let Ok((status, body)) = &outcome.answer {
                assert!((200..300).contains(status), "{:?} answered {status} {body}", outcome.op);
            }
        }
        if matches!(backend, Backend::Sqlite) {
            sqlite_integrity(&dir.path().join("sesame.db"));
        }

        let server = Server::start(dir.path(), &database_url);
        let client = Client::new(&server.base);
        wait_for_readyz(&client, 200, Duration::from_secs(10));
        let found = find_acknowledged(&client, &record.acked);
        figures(label, &record, found);
        // And the service goes on writing.
        register(&client, "afterwards");
        drop(server);
    }
}
