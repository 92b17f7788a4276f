//! WebSocket delivery benchmark (issue 6, point 5); `just bench-ws` runs it
//! against a fresh release server.
//!
//! ```text
//! bench_ws BASE_URL SERVER_PID [SOCKETS=10000] [RATE=1000] [SECONDS=10]
//! ```
//!
//! 1. registers one user per socket (opaque `POST /auth/register`, then
//!    `GET /auth/me` for the id), over a few threads;
//! 2. opens one WebSocket per user, each read by its own small-stack thread,
//!    and records the server's RSS once they are all open and idle;
//! 3. sends `RATE` messages a second for `SECONDS` seconds from a few paced
//!    sender threads (`POST /messages/` to a random receiver, the send time in
//!    microseconds since the epoch inside the content);
//! 4. measures POST→socket latency for every message, waits (bounded) for
//!    stragglers, and prints a Markdown table.
//!
//! Every phase has a time limit: the program always stops by itself.

use std::fmt::Write as _;
use std::net::{TcpStream, ToSocketAddrs};
use std::process::exit;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::Message;

const PASSWORD: &str = "Xk92!dumbo-lamp";
/// Stack of each socket reader thread: a blocking read and a small JSON parse.
const READER_STACK: usize = 128 * 1024;
const REGISTER_THREADS: usize = 8;
const OPENER_THREADS: usize = 8;
/// Enough senders that one slow POST does not hold back the schedule.
const SENDER_THREADS: usize = 16;
/// Limit on the whole setup (server start, registrations, sockets).
const SETUP_LIMIT: Duration = Duration::from_secs(900);
/// How long stragglers may take once the last message is sent.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// Time allowed to send, beyond the nominal `SECONDS`, before senders give up.
const SEND_GRACE: Duration = Duration::from_secs(30);
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
const NOT_DELIVERED: u64 = u64::MAX;

struct Args {
    base: String,
    address: String,
    pid: u32,
    sockets: usize,
    rate: u64,
    seconds: u64,
}

fn usage(problem: &str) -> ! {
    eprintln!("bench_ws: {problem}");
    eprintln!("usage: bench_ws BASE_URL SERVER_PID [SOCKETS=10000] [RATE=1000] [SECONDS=10]");
    exit(2)
}

fn parse_args() -> Args {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args.len() > 5 {
        usage("expected 2 to 5 arguments");
    }
    fn number<T: std::str::FromStr>(args: &[String], at: usize, default: T, name: &str) -> T {
        match args.get(at) {
            None => default,
            Some(text) => text
                .replace('_', "")
                .parse()
                .unwrap_or_else(|_| usage(&format!("{name} must be a number, not {text:?}"))),
        }
    }
    let base = args[0].trim_end_matches('/').to_owned();
    let Some(address) = base.strip_prefix("http://").map(str::to_owned) else {
        usage("BASE_URL must look like http://127.0.0.1:8080");
    };
    let parsed = Args {
        base,
        address,
        pid: number(&args, 1, 0, "SERVER_PID"),
        sockets: number(&args, 2, 10_000, "SOCKETS"),
        rate: number(&args, 3, 1_000, "RATE"),
        seconds: number(&args, 4, 10, "SECONDS"),
    };
    if parsed.sockets < 2 || parsed.rate == 0 || parsed.seconds == 0 {
        usage("SOCKETS must be at least 2, RATE and SECONDS at least 1");
    }
    parsed
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`, ...), or `Threads`.
fn proc_status(pid: &str, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU time (user + system) of a process, in clock ticks.
fn proc_cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: the fields start after its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// (busy, total) clock ticks of the whole machine.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    let total: u64 = ticks.iter().sum();
    // idle and iowait
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

fn millis(micros: u64) -> String {
    format!("{:.2} ms", micros as f64 / 1000.0)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A blocking HTTP client that keeps its connection alive.
struct Http {
    agent: ureq::Agent,
    base: String,
}

impl Http {
    fn new(base: &str) -> Http {
        Http {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_global(Some(HTTP_TIMEOUT))
                .build()
                .into(),
            base: base.to_owned(),
        }
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
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
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{method} {path}: {e}"))?;
        if status != 200 && status != 201 {
            return Err(format!("{method} {path}: HTTP {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{method} {path}: {e}: {text}"))
    }
}

struct User {
    token: String,
    id: i64,
}

/// What the socket readers share with the rest.
struct Shared {
    /// Latency in µs of message `seq`, or [`NOT_DELIVERED`].
    latencies: Vec<AtomicU64>,
    delivered: AtomicUsize,
    duplicates: AtomicUsize,
    /// Sockets the server closed (or broke) before the end.
    closed_early: AtomicUsize,
    /// Set once the run is over: later closes are ours.
    finished: AtomicBool,
}

impl Shared {
    fn record(&self, text: &str, received_us: u64) {
        let Ok(frame) = serde_json::from_str::<Value>(text) else {
            return;
        };
        if frame["type"] != "new_message" {
            return;
        }
        let content = frame["message"]["content"].as_str().unwrap_or_default();
        let mut parts = content.split(' ');
        let (Some("bench"), Some(seq), Some(sent)) = (parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        let (Ok(seq), Ok(sent)) = (seq.parse::<usize>(), sent.parse::<u64>()) else {
            return;
        };
        let Some(slot) = self.latencies.get(seq) else {
            return;
        };
        let latency = received_us.saturating_sub(sent);
        if slot
            .compare_exchange(NOT_DELIVERED, latency, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.delivered.fetch_add(1, Ordering::Relaxed);
        } else {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs `work(i)` for `0..count` over `threads` threads; returns every
/// `Ok` with its index and the first error with the number of errors.
fn parallel<T, F>(
    count: usize,
    threads: usize,
    label: &'static str,
    work: F,
) -> (Vec<(usize, T)>, usize)
where
    T: Send + 'static,
    F: Fn(usize) -> Result<T, String> + Send + Sync + 'static,
{
    let work = Arc::new(work);
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let deadline = Instant::now() + SETUP_LIMIT;
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (work, next, failures, first_error) = (
                work.clone(),
                next.clone(),
                failures.clone(),
                first_error.clone(),
            );
            thread::spawn(move || {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count || Instant::now() > deadline {
                        break;
                    }
                    match work(i) {
                        Ok(value) => done.push((i, value)),
                        Err(e) => {
                            failures.fetch_add(1, Ordering::Relaxed);
                            lock(&first_error).get_or_insert(e);
                        }
                    }
                    if (i + 1) % 1000 == 0 {
                        eprintln!(
                            "  {label}: {} in {:.1} s",
                            i + 1,
                            started.elapsed().as_secs_f64()
                        );
                    }
                }
                done
            })
        })
        .collect();
    let mut done: Vec<(usize, T)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap_or_default())
        .collect();
    done.sort_by_key(|(i, _)| *i);
    let failed = count - done.len();
    if let Some(e) = lock(&first_error).take() {
        eprintln!("  {label}: {failed} failed; first error: {e}");
    } else if failed > 0 {
        eprintln!("  {label}: {failed} not done within {SETUP_LIMIT:?}");
    }
    eprintln!(
        "  {label}: {} done in {:.1} s",
        done.len(),
        started.elapsed().as_secs_f64()
    );
    (done, failed)
}

fn wait_for_server(args: &Args) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if args.pid != 0 && proc_status(&args.pid.to_string(), "VmRSS").is_none() {
            eprintln!("bench_ws: server process {} is gone", args.pid);
            exit(1);
        }
        let reachable = args
            .address
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok());
        if reachable {
            return;
        }
        if Instant::now() > deadline {
            eprintln!("bench_ws: {} did not answer within 120 s", args.address);
            exit(1);
        }
        thread::sleep(Duration::from_millis(200));
    }
}

fn register(base: &str, run: u64, i: usize) -> Result<User, String> {
    thread_local! {
        static HTTP: std::cell::RefCell<Option<Http>> = const { std::cell::RefCell::new(None) };
    }
    HTTP.with(|cell| {
        let mut cell = cell.borrow_mut();
        let http = cell.get_or_insert_with(|| Http::new(base));
        let body = json!({"username": format!("bench{run}_{i}"), "password": PASSWORD});
        let reply = http.call("POST", "/auth/register", None, Some(&body))?;
        let token = reply["token"]
            .as_str()
            .ok_or_else(|| format!("no token in {reply}"))?
            .to_owned();
        let me = http.call("GET", "/auth/me", Some(&token), None)?;
        let id = me["id"].as_i64().ok_or_else(|| format!("no id in {me}"))?;
        Ok(User { token, id })
    })
}

/// Opens the socket of `user` and hands it to a reader thread. The socket
/// lives until the process exits (no clone kept: that would double the
/// descriptors this process needs).
fn open_socket(address: &str, user: &User, shared: &Arc<Shared>) -> Result<(), String> {
    let to = address
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    let stream = TcpStream::connect_timeout(&to, HTTP_TIMEOUT).map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(HTTP_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let url = format!("ws://{address}/ws/{}", user.token);
    let (mut socket, _) =
        tungstenite::client::client_with_config(url.as_str(), stream, Some(config))
            .map_err(|e| format!("handshake: {e}"))?;
    socket
        .get_mut()
        .set_read_timeout(None)
        .map_err(|e| e.to_string())?;
    let shared = shared.clone();
    thread::Builder::new()
        .stack_size(READER_STACK)
        .spawn(move || loop {
            // Pings are answered by tungstenite inside `read`.
            match socket.read() {
                Ok(Message::Text(text)) => shared.record(text.as_str(), now_micros()),
                Ok(Message::Close(_)) | Err(_) => {
                    if !shared.finished.load(Ordering::Relaxed) {
                        shared.closed_early.fetch_add(1, Ordering::Relaxed);
                    }
                    return;
                }
                Ok(_) => {}
            }
        })
        .map_err(|e| format!("reader thread: {e}"))?;
    Ok(())
}

/// What one sender thread did.
#[derive(Default)]
struct SenderReport {
    sent: usize,
    failed: usize,
    unsent: usize,
    first_error: Option<String>,
    /// POST round trips, µs.
    round_trips: Vec<u64>,
    /// Largest delay between a message's slot and its POST, µs.
    max_lag: u64,
    /// Messages posted more than 1 ms after their slot.
    late: usize,
}

fn main() {
    let args = parse_args();
    let pid = args.pid.to_string();
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let total = (args.rate * args.seconds) as usize;
    let load_at_start = load_average();
    eprintln!(
        "bench_ws: {} sockets, {} msg/s for {} s against {} (pid {})",
        args.sockets, args.rate, args.seconds, args.base, args.pid
    );
    wait_for_server(&args);
    let rss_at_start = proc_status(&pid, "VmRSS");

    // 1. Users.
    let run = now_micros() / 1_000_000;
    let base = args.base.clone();
    let (users, _) = parallel(args.sockets, REGISTER_THREADS, "registered", move |i| {
        register(&base, run, i)
    });
    let users: Arc<Vec<User>> = Arc::new(users.into_iter().map(|(_, u)| u).collect());
    if users.len() < 2 {
        eprintln!("bench_ws: fewer than two users could register");
        exit(1);
    }
    let rss_registered = proc_status(&pid, "VmRSS");

    // 2. Sockets.
    let shared = Arc::new(Shared {
        latencies: (0..total).map(|_| AtomicU64::new(NOT_DELIVERED)).collect(),
        delivered: AtomicUsize::new(0),
        duplicates: AtomicUsize::new(0),
        closed_early: AtomicUsize::new(0),
        finished: AtomicBool::new(false),
    });
    let open_users: Vec<usize> = {
        let (users, shared, address) = (users.clone(), shared.clone(), args.address.clone());
        let (opened, _) = parallel(users.len(), OPENER_THREADS, "sockets opened", move |i| {
            open_socket(&address, &users[i], &shared)
        });
        opened.into_iter().map(|(i, ())| i).collect()
    };
    let opened = open_users.len();
    if open_users.len() < 2 {
        eprintln!("bench_ws: fewer than two sockets opened");
        exit(1);
    }
    // Let the server finish subscribing and settle before measuring it idle.
    thread::sleep(Duration::from_secs(3));
    let rss_idle = proc_status(&pid, "VmRSS");
    let rss_anon_idle = proc_status(&pid, "RssAnon");
    let threads_idle = proc_status(&pid, "Threads");
    let hwm_before_send = proc_status(&pid, "VmHWM");
    eprintln!("  idle with {} sockets: VmRSS {}", opened, mib(rss_idle));

    // 3. Messages.
    let open_users = Arc::new(open_users);
    let sending = Arc::new(AtomicBool::new(true));
    let peak_rss_sending = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (sending, peak, pid) = (sending.clone(), peak_rss_sending.clone(), pid.clone());
        thread::spawn(move || {
            while sending.load(Ordering::Relaxed) {
                if let Some(rss) = proc_status(&pid, "VmRSS") {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let machine_before = machine_ticks();
    let server_before = proc_cpu_ticks(&pid);
    let self_before = proc_cpu_ticks("self");
    let start = Instant::now() + Duration::from_millis(200);
    let give_up = start + Duration::from_secs(args.seconds) + SEND_GRACE;
    let senders: Vec<_> = (0..SENDER_THREADS)
        .map(|j| {
            let (users, open_users, base) = (users.clone(), open_users.clone(), args.base.clone());
            let rate = args.rate;
            thread::spawn(move || {
                let http = Http::new(&base);
                let me = open_users[j % open_users.len()];
                let token = users[me].token.clone();
                let mut random = 0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(j as u64 + 1);
                let mut report = SenderReport::default();
                for seq in (j..total).step_by(SENDER_THREADS) {
                    let slot = start + Duration::from_nanos(seq as u64 * 1_000_000_000 / rate);
                    let now = Instant::now();
                    if now < slot {
                        thread::sleep(slot - now);
                    } else if now > give_up {
                        report.unsent += 1;
                        continue;
                    }
                    // xorshift64: a receiver other than the sender.
                    random ^= random << 13;
                    random ^= random >> 7;
                    random ^= random << 17;
                    let mut to = open_users[(random % open_users.len() as u64) as usize];
                    if to == me {
                        to = open_users[(random as usize + 1) % open_users.len()];
                    }
                    let posted = Instant::now();
                    let lag = posted.saturating_duration_since(slot).as_micros() as u64;
                    report.max_lag = report.max_lag.max(lag);
                    if lag > 1000 {
                        report.late += 1;
                    }
                    let body = json!({
                        "content": format!("bench {seq} {}", now_micros()),
                        "receiver_id": users[to].id,
                    });
                    match http.call("POST", "/messages/", Some(&token), Some(&body)) {
                        Ok(_) => {
                            report.sent += 1;
                            report.round_trips.push(posted.elapsed().as_micros() as u64);
                        }
                        Err(e) => {
                            report.failed += 1;
                            report.first_error.get_or_insert(e);
                        }
                    }
                }
                report
            })
        })
        .collect();
    let mut sent = SenderReport::default();
    for handle in senders {
        let report = handle.join().unwrap_or_default();
        sent.sent += report.sent;
        sent.failed += report.failed;
        sent.unsent += report.unsent;
        sent.late += report.late;
        sent.max_lag = sent.max_lag.max(report.max_lag);
        sent.round_trips.extend(report.round_trips);
        if sent.first_error.is_none() {
            sent.first_error = report.first_error;
        }
    }
    let send_took = start.elapsed();
    let machine_after = machine_ticks();
    let server_after = proc_cpu_ticks(&pid);
    let self_after = proc_cpu_ticks("self");
    if let Some(e) = &sent.first_error {
        eprintln!("  {} POSTs failed; first error: {e}", sent.failed);
    }

    // 4. Stragglers.
    let drain_deadline = Instant::now() + DRAIN_LIMIT;
    while shared.delivered.load(Ordering::Relaxed) < sent.sent && Instant::now() < drain_deadline {
        thread::sleep(Duration::from_millis(20));
    }
    let drained_after = start.elapsed();
    sending.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    let hwm = proc_status(&pid, "VmHWM");
    let rss_end = proc_status(&pid, "VmRSS");
    shared.finished.store(true, Ordering::Relaxed);
    let closed_early = shared.closed_early.load(Ordering::Relaxed);

    // 5. Report.
    let mut latencies: Vec<u64> = shared
        .latencies
        .iter()
        .map(|l| l.load(Ordering::Relaxed))
        .filter(|&l| l != NOT_DELIVERED)
        .collect();
    latencies.sort_unstable();
    sent.round_trips.sort_unstable();
    let delivered = latencies.len();
    let rtt = &sent.round_trips;
    let ticks_per_cpu = |before: Option<u64>, after: Option<u64>| -> String {
        match (before, after) {
            (Some(b), Some(a)) => {
                // Clock ticks are 1/100 s on Linux.
                let cpu = (a - b) as f64 / 100.0 / send_took.as_secs_f64();
                format!("{:.0} %", cpu * 100.0)
            }
            _ => "?".into(),
        }
    };
    let machine_busy = match (machine_before, machine_after) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
            let cpus = thread::available_parallelism().map_or(1, |n| n.get()) as f64;
            format!(
                "{:.0} % of {cpus} cores",
                (b1 - b0) as f64 / (t1 - t0) as f64 * cpus * 100.0
            )
        }
        _ => "?".into(),
    };

    let mut table = String::new();
    let mut row = |name: &str, value: String| {
        let _ = writeln!(table, "| {name} | {value} |");
    };
    row("sockets opened", format!("{} / {}", opened, args.sockets));
    row(
        "sockets closed by the server during the run",
        closed_early.to_string(),
    );
    row(
        "messages sent (POST 200)",
        format!(
            "{} / {total} in {:.2} s ({:.0} msg/s); {} failed, {} not sent in time",
            sent.sent,
            send_took.as_secs_f64(),
            sent.sent as f64 / send_took.as_secs_f64(),
            sent.failed,
            sent.unsent
        ),
    );
    row(
        "messages delivered",
        format!(
            "{delivered} ({} duplicates); wait for them ended {:.2} s after the first POST",
            shared.duplicates.load(Ordering::Relaxed),
            drained_after.as_secs_f64()
        ),
    );
    row(
        "**delivery latency POST→socket p50 / p99 / max**",
        format!(
            "**{} / {} / {}**",
            millis(percentile(&latencies, 0.50)),
            millis(percentile(&latencies, 0.99)),
            millis(latencies.last().copied().unwrap_or(0))
        ),
    );
    row(
        "delivery latency p90 / p99.9",
        format!(
            "{} / {}",
            millis(percentile(&latencies, 0.90)),
            millis(percentile(&latencies, 0.999))
        ),
    );
    row(
        "POST round trip p50 / p99 / max",
        format!(
            "{} / {} / {}",
            millis(percentile(rtt, 0.50)),
            millis(percentile(rtt, 0.99)),
            millis(rtt.last().copied().unwrap_or(0))
        ),
    );
    row(
        "sender pacing: posts > 1 ms late, worst lag",
        format!("{}, {}", sent.late, millis(sent.max_lag)),
    );
    row("server RSS at start", mib(rss_at_start));
    row(
        "server RSS after registrations, no socket",
        mib(rss_registered),
    );
    row(
        "**server idle RSS, all sockets open**",
        format!(
            "**{}** (anon {}, {} threads; {} before any socket; {:.1} KiB a socket over it)",
            mib(rss_idle),
            mib(rss_anon_idle),
            threads_idle.map_or_else(|| "?".into(), |t| t.to_string()),
            mib(rss_registered),
            match (rss_idle, rss_registered) {
                (Some(idle), Some(before)) if opened > 0 =>
                    (idle as f64 - before as f64) / opened as f64,
                _ => f64::NAN,
            }
        ),
    );
    row(
        "server RSS peak while sending (50 ms samples)",
        mib(Some(peak_rss_sending.load(Ordering::Relaxed))),
    );
    row(
        "**server peak RSS (VmHWM)**",
        format!(
            "**{}** ({} before sending; {} at the end)",
            mib(hwm),
            mib(hwm_before_send),
            mib(rss_end)
        ),
    );
    row(
        "CPU while sending: server / bench / whole machine",
        format!(
            "{} / {} / {machine_busy}",
            ticks_per_cpu(server_before, server_after),
            ticks_per_cpu(self_before, self_after)
        ),
    );
    row(
        "load average at start / end",
        format!("{load_at_start} / {}", load_average()),
    );
    row("bench client peak RSS", mib(proc_status("self", "VmHWM")));
    row("command", format!("`{command}`"));

    println!("| measure | value |");
    println!("|---|---|");
    print!("{table}");
    // Exiting closes every socket and ends the reader threads.
    exit(if delivered == 0 { 1 } else { 0 });
}
