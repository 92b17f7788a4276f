//! A small SMTP server for tests: it speaks enough real SMTP (RFC 5321:
//! greeting, EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP,
//! QUIT) for a real client such as lettre, keeps what it receives, and can be
//! stopped and started again on the same port. Standard library only, so it
//! works offline.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    /// Accepts every message.
    Accept,
    /// Refuses every recipient for good (550).
    RejectRecipients,
    /// Refuses every message for now (451).
    TemporaryFailure,
    /// Refuses every sender for good until it authenticates (530): the
    /// server's setting, not any one email's fault.
    RequireAuthentication,
    /// Accepts connections and never says a word (for client timeouts).
    Silent,
}

/// One message the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The message as transmitted (headers and body, CRLF line ends, dots unstuffed).
    pub data: String,
}

/// A running test SMTP server; it stops when dropped.
pub struct TestSmtpServer {
    address: SocketAddr,
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl TestSmtpServer {
    /// A server that accepts everything, on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// When no port can be bound.
    pub fn start() -> TestSmtpServer {
        Self::start_on(0, SmtpMode::Accept).expect("a free port for the test SMTP server")
    }

    /// A server on `port` of 127.0.0.1 (0: any free port) answering as `mode`.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub fn start_on(port: u16, mode: SmtpMode) -> std::io::Result<TestSmtpServer> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (received, stop) = (received.clone(), stop.clone());
            thread::spawn(move || accept_loop(&listener, mode, &received, &stop))
        };
        Ok(TestSmtpServer {
            address,
            received,
            stop,
            acceptor: Some(acceptor),
        })
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port())
    }

    /// Every message accepted so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `count` messages arrived (or `timeout` passed)
    /// and returns what arrived.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() >= deadline {
                return received;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops listening: new connections are refused. Returns the port, to
    /// start again on it.
    pub fn stop(mut self) -> u16 {
        self.shutdown();
        self.port()
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

impl Drop for TestSmtpServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(
    listener: &TcpListener,
    mode: SmtpMode,
    received: &Arc<Mutex<Vec<ReceivedMail>>>,
    stop: &Arc<AtomicBool>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (received, stop) = (received.clone(), stop.clone());
                thread::spawn(move || {
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    if mode == SmtpMode::Silent {
                        while !stop.load(Ordering::SeqCst) {
                            thread::sleep(Duration::from_millis(20));
                        }
                        return;
                    }
                    let _ = converse(stream, mode, &received);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn converse(
    stream: TcpStream,
    mode: SmtpMode,
    received: &Mutex<Vec<ReceivedMail>>,
) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    let mut reply = |text: &str| out.write_all(format!("{text}\r\n").as_bytes());
    reply("220 sesame-test ESMTP ready")?;
    let (mut from, mut to) = (None::<String>, Vec::<String>::new());
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end_matches(['\r', '\n']);
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => reply("250-sesame-test\r\n250-8BITMIME\r\n250 SMTPUTF8")?,
            "HELO" => reply("250 sesame-test")?,
            "MAIL" if mode == SmtpMode::TemporaryFailure => {
                reply("451 4.3.0 try again later")?;
            }
            "MAIL" if mode == SmtpMode::RequireAuthentication => {
                reply("530 5.7.0 authentication required")?;
            }
            "MAIL" => {
                from = Some(address_of(command));
                to.clear();
                reply("250 2.1.0 ok")?;
            }
            "RCPT" if mode == SmtpMode::RejectRecipients => {
                reply("550 5.1.1 no such mailbox")?;
            }
            "RCPT" if from.is_some() => {
                to.push(address_of(command));
                reply("250 2.1.5 ok")?;
            }
            "DATA" if from.is_some() && !to.is_empty() => {
                reply("354 end data with <CR><LF>.<CR><LF>")?;
                let data = read_data(&mut input)?;
                received.lock().unwrap().push(ReceivedMail {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    data,
                });
                reply("250 2.0.0 queued")?;
            }
            "RSET" => {
                from = None;
                to.clear();
                reply("250 2.0.0 ok")?;
            }
            "NOOP" => reply("250 2.0.0 ok")?,
            "QUIT" => {
                reply("221 2.0.0 bye")?;
                return Ok(());
            }
            "RCPT" | "DATA" => reply("503 5.5.1 bad sequence of commands")?,
            _ => reply("502 5.5.2 command not recognized")?,
        }
    }
}

/// The address between `<` and `>` of a MAIL or RCPT command.
fn address_of(command: &str) -> String {
    command
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(address, _)| address.to_owned())
        .unwrap_or_default()
}

fn read_data(input: &mut impl BufRead) -> std::io::Result<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == ".\r\n" || line == ".\n" {
            return Ok(data);
        }
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
    }
}
