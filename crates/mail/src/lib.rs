//! Sesame's outgoing mail: the two adapters of the users domain's [`Mailer`]
//! port. [`SmtpMailer`] speaks SMTP through lettre (plain, STARTTLS or
//! implicit TLS, as the URL says); [`OutboxMailer`] writes each email as one
//! RFC 5322 `.eml` file into a folder, for development and tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::{Message, SmtpTransport, Transport};
use sesame_users::{MailError, Mailer, OutgoingEmail};

/// Why the mail adapter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    /// The sender address is not a valid mailbox.
    #[error("invalid sender address {0:?}: expected \"Name <user@host>\" or \"user@host\"")]
    From(String),
    /// The SMTP URL is not one lettre understands.
    #[error("invalid SMTP URL: {0} (expected smtp://host:port, smtp://host:port?tls=required or smtps://host:port)")]
    SmtpUrl(String),
    /// The outbox folder cannot be created.
    #[error("cannot create the outbox folder {path}: {source}")]
    Outbox {
        /// The folder.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What the mail adapters need to know.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// The `From:` mailbox, e.g. `Sesame <noreply@example.com>`.
    pub from: String,
    /// `smtp://` (plain, or STARTTLS with `?tls=required`) or `smtps://`
    /// (implicit TLS); credentials in the URL's user info. `None`: the outbox.
    pub smtp_url: Option<String>,
    /// Where the outbox writes `.eml` files.
    pub outbox_dir: PathBuf,
    /// Connect, read and write timeout of one SMTP conversation.
    pub timeout: Duration,
}

/// The mailer the settings ask for: SMTP when a URL is set, the outbox otherwise.
///
/// # Errors
/// [`MailSetupError`] for a bad sender, URL, or outbox folder.
pub fn mailer(settings: &MailSettings) -> Result<Arc<dyn Mailer>, MailSetupError> {
    Ok(match settings.smtp_url.as_deref().map(str::trim) {
        Some(url) if !url.is_empty() => {
            Arc::new(SmtpMailer::new(url, &settings.from, settings.timeout)?)
        }
        _ => Arc::new(OutboxMailer::new(&settings.outbox_dir, &settings.from)?),
    })
}

fn parse_from(from: &str) -> Result<Mailbox, MailSetupError> {
    from.parse::<Mailbox>()
        .map_err(|_| MailSetupError::From(from.to_owned()))
}

/// `email` as an RFC 5322 message from `from`, named by `key`.
///
/// # Errors
/// A permanent [`MailError`] when the recipient is not a valid address.
pub fn render(email: &OutgoingEmail, key: &str, from: &Mailbox) -> Result<Message, MailError> {
    let to = email
        .to
        .parse::<Mailbox>()
        .map_err(|e| MailError::permanent(format!("invalid recipient address: {e}")))?;
    let body = text_body(&email.text);
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.clone())
        .message_id(Some(format!("<{key}@{}>", from.email.domain())))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| MailError::permanent(format!("cannot build the message: {e}")))
}

/// Plain 7-bit text when RFC 5322 allows it (ASCII, lines of at most 998
/// characters), so links stay whole and readable in the raw message;
/// quoted-printable or base64 otherwise. (lettre's own choice folds any line
/// longer than 76 characters, which cuts every link in two.)
fn text_body(text: &str) -> Body {
    const MAX_LINE: usize = 998;
    let seven_bit = text.bytes().all(|b| b.is_ascii() && b != 0 && b != b'\r')
        && text.split('\n').all(|line| line.len() <= MAX_LINE);
    if seven_bit {
        let crlf = text.replace('\n', "\r\n");
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(text.to_owned())
    }
}

/// Sends through an SMTP server.
pub struct SmtpMailer {
    transport: SmtpTransport,
    from: Mailbox,
    server: String,
}

impl SmtpMailer {
    /// A mailer for the server at `url` (see [`MailSettings::smtp_url`]).
    ///
    /// # Errors
    /// [`MailSetupError`] for a bad URL or sender.
    pub fn new(url: &str, from: &str, timeout: Duration) -> Result<SmtpMailer, MailSetupError> {
        // Read as lettre reads it; a URL it cannot read, lettre refuses below.
        let parsed = url::Url::parse(url).ok();
        let in_clear = parsed
            .as_ref()
            .is_some_and(goes_in_clear_to_another_machine);
        if in_clear && parsed.is_some_and(|u| u.password().is_some()) {
            return Err(MailSetupError::SmtpUrl(
                "a password would go in clear (or behind STARTTLS that can be stripped) \
                 to a host that is not this machine: use smtps:// or ?tls=required"
                    .into(),
            ));
        }
        let transport = SmtpTransport::from_url(url)
            .map_err(|e| MailSetupError::SmtpUrl(e.to_string()))?
            .timeout(Some(timeout))
            .build();
        let server = redact(url);
        if in_clear {
            // A relay on a private network is a common, sound choice: warned, not refused.
            tracing::warn!(
                server = %server,
                "emails (with their sign-in and reset links) go in clear to another machine; \
                 use smtps:// or ?tls=required unless the path to it is private"
            );
        }
        Ok(SmtpMailer {
            transport,
            from: parse_from(from)?,
            server,
        })
    }
}

/// Whether what goes to `url` would cross the network in clear, or behind
/// an opportunistic STARTTLS a man in the middle can strip: neither
/// `smtps://` nor `tls=required`, to a host that is not this machine. Read
/// as lettre reads it (the first `tls` pair, its key and value as written).
fn goes_in_clear_to_another_machine(url: &url::Url) -> bool {
    let tls = url.query_pairs().find(|(key, _)| key == "tls");
    let encrypted = url.scheme() == "smtps"
        || (url.scheme() == "smtp" && tls.is_some_and(|(_, value)| value == "required"));
    let loopback = match url.host() {
        // `smtp` is not a scheme the URL standard knows: an IPv4 host
        // comes as a name.
        Some(url::Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    !encrypted && !loopback
}

/// `url` without its password, for logs (read as lettre reads it).
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => match parsed.set_password(Some("***")) {
            Ok(()) => parsed.into(),
            Err(()) => format!("{}://***", parsed.scheme()),
        },
        Ok(parsed) => parsed.into(),
        Err(_) => "an unreadable SMTP URL".to_owned(),
    }
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, email: &OutgoingEmail, key: &str) -> Result<(), MailError> {
        let message = render(email, key, &self.from)?;
        self.transport.send(&message).map(|_| ()).map_err(|e| {
            let reason = format!("SMTP {}: {e}", self.server);
            let text = std::error::Error::source(&e).map(ToString::to_string);
            let code = e.status().map(u16::from);
            if e.is_permanent() && refuses_the_recipient(code, text.as_deref().unwrap_or_default())
            {
                MailError::permanent(reason)
            } else {
                MailError::transient(reason)
            }
        })
    }
}

/// Whether a permanent SMTP refusal (`code`, saying `text`) is about the
/// recipient (no such mailbox, its domain takes no mail), which no retry
/// changes. Other refusals are about the relay's settings (530 or 535 for
/// authentication, 5.7.x for its policy: relay access denied, sender not
/// allowed): taken for good, they would drop every queued email in one
/// pass, so they are retried. Told by the enhanced status code (RFC 3463)
/// the text starts with, 5.1.x or 5.2.x, when there is one; else by the
/// reply code.
fn refuses_the_recipient(code: Option<u16>, text: &str) -> bool {
    let enhanced = text.split_whitespace().next().filter(|status| {
        let parts: Vec<&str> = status.split('.').collect();
        parts.len() == 3
            && (parts.iter()).all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    });
    match enhanced {
        Some(status) => status.starts_with("5.1.") || status.starts_with("5.2."),
        None => code.is_some_and(|code| matches!(code, 550..=553 | 556)),
    }
}

/// Writes each email as `<key>.eml` into a folder.
#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: Mailbox,
}

impl OutboxMailer {
    /// An outbox in `dir` (created if needed).
    ///
    /// # Errors
    /// [`MailSetupError`] for a bad sender or a folder that cannot be made.
    pub fn new(dir: &Path, from: &str) -> Result<OutboxMailer, MailSetupError> {
        std::fs::create_dir_all(dir).map_err(|source| MailSetupError::Outbox {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(OutboxMailer {
            dir: dir.to_owned(),
            from: parse_from(from)?,
        })
    }
}

impl Mailer for OutboxMailer {
    fn send(&self, email: &OutgoingEmail, key: &str) -> Result<(), MailError> {
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(MailError::permanent("unusable message key"));
        }
        let message = render(email, key, &self.from)?;
        // Written aside, then renamed: a reader never sees half an email, and
        // a retry of the same email replaces it.
        let path = self.dir.join(format!("{key}.eml"));
        let partial = self.dir.join(format!(".{key}.eml.partial"));
        std::fs::write(&partial, message.formatted())
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|e| MailError::transient(format!("cannot write {}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> OutgoingEmail {
        OutgoingEmail {
            to: "alice@example.com".into(),
            subject: "Activate your Sesame account".into(),
            text: format!(
                "Hello alice,\n\nhttp://localhost:3000/activate/MQ/{}\n",
                "t".repeat(43)
            ),
        }
    }

    #[test]
    fn only_a_refused_recipient_is_given_up_at_once() {
        for (code, text, recipient) in [
            (550, "5.1.1 no such mailbox", true),
            (552, "5.2.2 mailbox full", true),
            (556, "5.1.10 domain takes no mail", true),
            (550, "mailbox unavailable", true),
            (554, "5.7.1 Relay access denied", false),
            (550, "5.7.60 SendAsDenied", false),
            (553, "5.7.1 sender not owned by the user", false),
            (530, "5.7.0 authentication required", false),
            (535, "5.7.8 bad credentials", false),
            (535, "authentication failed", false),
            (521, "this host takes no mail", false),
            (554, "transaction failed", false),
        ] {
            assert_eq!(
                refuses_the_recipient(Some(code), text),
                recipient,
                "{code} {text}"
            );
        }
    }

    #[test]
    fn messages_are_rfc5322_with_readable_links() {
        let from: Mailbox = "Sesame <noreply@sesame.test>".parse().unwrap();
        let raw = String::from_utf8(render(&email(), "k-1", &from).unwrap().formatted()).unwrap();
        assert!(
            raw.contains("From: Sesame <noreply@sesame.test>\r\n"),
            "{raw}"
        );
        assert!(raw.contains("To: alice@example.com\r\n"));
        assert!(raw.contains("Subject: Activate your Sesame account\r\n"));
        assert!(raw.contains("Message-ID: <k-1@sesame.test>\r\n"));
        assert!(raw.contains("Date: "));
        assert!(raw.contains("Content-Type: text/plain; charset=utf-8\r\n"));
        assert!(raw.contains("Content-Transfer-Encoding: 7bit\r\n"), "{raw}");
        assert!(raw.contains(&format!(
            "\r\n\r\nHello alice,\r\n\r\nhttp://localhost:3000/activate/MQ/{}\r\n",
            "t".repeat(43)
        )));
    }

    #[test]
    fn non_ascii_text_is_encoded() {
        let from: Mailbox = "noreply@sesame.test".parse().unwrap();
        let mut email = email();
        email.text = "Bonjour Élodie".into();
        let raw = String::from_utf8(render(&email, "k", &from).unwrap().formatted()).unwrap();
        assert!(!raw.contains("7bit"));
        assert_eq!(text_body("a\nb").into_vec(), b"a\r\nb");
    }

    #[test]
    fn bad_recipients_fail_for_good() {
        let from: Mailbox = "noreply@sesame.test".parse().unwrap();
        let mut email = email();
        email.to = "not an address".into();
        assert!(render(&email, "k", &from).unwrap_err().permanent);
    }

    #[test]
    fn the_outbox_writes_one_file_per_email() {
        let dir = tempfile::tempdir().unwrap();
        let outbox =
            OutboxMailer::new(&dir.path().join("outbox"), "Sesame <noreply@sesame.test>").unwrap();
        outbox.send(&email(), "20240314T120000000000-abc").unwrap();
        outbox.send(&email(), "20240314T120000000000-abc").unwrap();
        outbox.send(&email(), "20240314T120001000000-def").unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "20240314T120000000000-abc.eml",
                "20240314T120001000000-def.eml"
            ]
        );
        assert!(outbox.send(&email(), "../escape").unwrap_err().permanent);
    }

    #[test]
    fn settings_pick_the_adapter() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = MailSettings {
            from: "Sesame <noreply@sesame.test>".into(),
            smtp_url: None,
            outbox_dir: dir.path().to_owned(),
            timeout: Duration::from_secs(5),
        };
        assert!(mailer(&settings).is_ok());
        settings.smtp_url = Some("smtp://127.0.0.1:2525".into());
        assert!(mailer(&settings).is_ok());
        settings.smtp_url = Some("smtps://mail.example.com".into());
        assert!(mailer(&settings).is_ok());
        settings.smtp_url = Some("smtp://mail.example.com:587?tls=required".into());
        assert!(mailer(&settings).is_ok());
        settings.smtp_url = Some("http://mail.example.com".into());
        assert!(matches!(mailer(&settings), Err(MailSetupError::SmtpUrl(_))));
        // A password goes only over TLS, or to this machine.
        for (url, accepted) in [
            ("smtp://user:pw@mail.example.com:587", false),
            (
                "smtp://user:pw@mail.example.com:587?tls=opportunistic",
                false,
            ),
            ("smtp://user:pw@mail.example.com:587?tls=required", true),
            ("smtps://user:pw@mail.example.com", true),
            ("smtp://user:pw@127.0.0.1:2525", true),
            ("smtp://user:pw@[::1]:2525", true),
            ("smtp://user:pw@localhost:2525", true),
            ("smtp://user@mail.example.com:25", true),
            // As lettre reads them: the key as written, the first pair, the real host.
            ("smtp://user:pw@mail.example.com:587?TLS=required", false),
            (
                "smtp://user:pw@mail.example.com:587?tls=opportunistic&tls=required",
                false,
            ),
            ("smtp://user:pw@mail.example.com:25#@localhost", false),
        ] {
            settings.smtp_url = Some(url.into());
            assert_eq!(mailer(&settings).is_ok(), accepted, "{url}");
        }
        for (url, in_clear) in [
            ("smtp://relay.internal:25", true),
            ("smtp://relay.internal:587?tls=opportunistic", true),
            ("smtp://relay.internal:587?tls=required", false),
            ("smtps://relay.internal", false),
            ("smtp://127.0.0.1:25", false),
        ] {
            let parsed = url::Url::parse(url).unwrap();
            assert_eq!(goes_in_clear_to_another_machine(&parsed), in_clear, "{url}");
        }
        settings.smtp_url = None;
        settings.from = "nobody".into();
        assert!(matches!(mailer(&settings), Err(MailSetupError::From(_))));
    }

    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(
            redact("smtp://bob:s3cret@mail.example.com:587?tls=required"),
            "smtp://bob:***@mail.example.com:587?tls=required"
        );
        assert_eq!(redact("smtp://127.0.0.1:2525"), "smtp://127.0.0.1:2525");
        // The password ends where lettre's URL parser ends it, not at the last `@`.
        assert_eq!(
            redact("smtps://bob:s3cret@mail.example.com?tls=required#@x"),
            "smtps://bob:***@mail.example.com?tls=required#@x"
        );
        assert_eq!(
            redact("smtps://bob:p%40ss@mail.example.com"),
            "smtps://bob:***@mail.example.com"
        );
    }
}
