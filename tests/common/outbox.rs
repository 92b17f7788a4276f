//! Reading the emails Sesame writes into its outbox folder (one RFC 5322
//! `.eml` file per email), or that a test SMTP server received.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

/// One email, parsed just enough for the tests.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The file it came from (empty for SMTP).
    pub file: String,
    /// The whole message as written.
    pub raw: String,
    /// The header block.
    pub headers: String,
    /// The body, with LF line ends.
    pub body: String,
}

impl Mail {
    /// Parses a raw RFC 5322 message (CRLF or LF line ends).
    pub fn parse(file: &str, raw: &str) -> Mail {
        let normalized = raw.replace("\r\n", "\n");
        let (headers, body) = normalized
            .split_once("\n\n")
            .unwrap_or((normalized.as_str(), ""));
        Mail {
            file: file.to_owned(),
            raw: raw.to_owned(),
            headers: headers.to_owned(),
            body: body.to_owned(),
        }
    }

    /// The value of header `name` (unfolded), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut value: Option<String> = None;
        for line in self.headers.lines() {
            if let Some(current) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    current.push(' ');
                    current.push_str(line.trim());
                    continue;
                }
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                if n.eq_ignore_ascii_case(name) {
                    value = Some(v.trim().to_owned());
                }
            }
        }
        value
    }

    pub fn to(&self) -> String {
        self.header("To").unwrap_or_default()
    }

    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The first line of the body that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> String {
        self.body
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no link {prefix} in {}", self.raw))
            .trim()
            .to_owned()
    }

    /// `(uid, token)`: the last two path segments of the link under `prefix`.
    pub fn uid_token(&self, prefix: &str) -> (String, String) {
        let link = self.link(prefix);
        let rest = link.strip_prefix(prefix).unwrap().trim_matches('/');
        let (uid, token) = rest.split_once('/').expect("uid/token");
        (uid.to_owned(), token.to_owned())
    }
}

/// Every email in the outbox folder, oldest first (file names sort by time).
pub fn outbox(dir: &Path) -> Vec<Mail> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".eml") && !name.starts_with('.'))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let raw = std::fs::read_to_string(dir.join(&name)).expect("a readable email");
            Mail::parse(&name, &raw)
        })
        .collect()
}

/// The emails to `to` in the outbox, once there are at least `count` of
/// them (panics after 15 seconds).
pub fn wait_for_mail(dir: &Path, to: &str, count: usize) -> Vec<Mail> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mails: Vec<Mail> = outbox(dir).into_iter().filter(|m| m.to() == to).collect();
        if mails.len() >= count {
            return mails;
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} email(s) to {to}, found {}: {:?}",
            mails.len(),
            outbox(dir)
                .iter()
                .map(|m| (m.to(), m.subject()))
                .collect::<Vec<_>>()
        );
        thread::sleep(Duration::from_millis(25));
    }
}

/// The newest email to `to`, waiting for the `count`-th one.
pub fn nth_mail(dir: &Path, to: &str, count: usize) -> Mail {
    wait_for_mail(dir, to, count).pop().unwrap()
}
