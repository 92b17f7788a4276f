//! The real `sesame` binary as a child process, for what only a process
//! shows: signals, SIGKILL, its log lines.

use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};

/// A started binary; its stderr (JSON log lines) is read up to the line
/// saying where it listens, the rest is left in `log` until
/// [`Binary::drain_log`] takes it.
pub struct Binary {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub port: u16,
    pub log: Option<Lines<BufReader<ChildStderr>>>,
}

/// Starts the binary in `dir` on a free port, SQLite unless `env` says
/// otherwise, bcrypt cost 4, no rate limits, JSON logs.
pub fn start(dir: &Path, env: &[(&str, &str)]) -> Binary {
    start_command(Command::new(env!("CARGO_BIN_EXE_sesame")), dir, env)
}

/// [`start`], through `sh` after `umask {umask}`.
pub fn start_with_umask(dir: &Path, env: &[(&str, &str)], umask: &str) -> Binary {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\""))
        .arg(env!("CARGO_BIN_EXE_sesame"));
    start_command(command, dir, env)
}

fn start_command(mut command: Command, dir: &Path, env: &[(&str, &str)]) -> Binary {
    command
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("SESAME__HTTP__BIND", "127.0.0.1:0")
        .env("SESAME__PASSWORDS__BCRYPT_COST", "4")
        .env("SESAME__RATE_LIMIT__ENABLED", "false")
        .env("SESAME__LOG__FORMAT", "json")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = command.spawn().expect("the sesame binary runs");
    let stderr = child.stderr.take().unwrap();
    let mut log = BufReader::new(stderr).lines();
    let line = log
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.contains("listening"))
        .expect("a line saying where it listens");
    let line: serde_json::Value = serde_json::from_str(&line).expect("JSON log lines");
    let address = line["fields"]["address"].as_str().unwrap();
    let port = address.rsplit(':').next().unwrap().parse().unwrap();
    Binary {
        child,
        base: format!("http://127.0.0.1:{port}"),
        port,
        log: Some(log),
    }
}

impl Binary {
    /// Keeps reading the log in the background (lines the server cannot
    /// write into a full pipe are dropped), handing each line to `sink`.
    pub fn drain_log(&mut self, mut sink: impl FnMut(String) + Send + 'static) {
        if let Some(log) = self.log.take() {
            std::thread::spawn(move || log.map_while(Result::ok).for_each(&mut sink));
        }
    }
}

/// Stops the binary when the test ends, even on a failed assertion.
pub struct Stopping(pub Binary);

impl Drop for Stopping {
    fn drop(&mut self) {
        let _ = self.0.child.kill();
        let _ = self.0.child.wait();
    }
}
