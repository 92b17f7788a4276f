//! The SMTP adapter against a real SMTP conversation (the test server of
//! `sesame_testkit::smtp`, speaking SMTP over TCP on 127.0.0.1).

use std::sync::Arc;
use std::time::{Duration, Instant};

use sesame_mail::SmtpMailer;
use sesame_testkit::smtp::{SmtpMode, TestSmtpServer};
use sesame_testkit::{FakeClock, InMemoryStore};
use sesame_tokens::ChaChaCipher;
use sesame_users::{
    AccountMail, AccountService, AccountSettings, BcryptHasher, LinkTemplates, MailDelivery,
    Mailer, OutgoingEmail, Registration, RetryPolicy, TokenLifetimes,
};

const FROM: &str = "Sesame <noreply@sesame.test>";

fn email() -> OutgoingEmail {
    OutgoingEmail {
        to: "alice@example.com".into(),
        subject: "Reset your Sesame password".into(),
        text: format!(
            "Hello alice,\n\n.a line that starts with a dot\n\nhttp://localhost:3000/password/reset/confirm/MQ/{}\n",
            "T".repeat(43)
        ),
    }
}

fn mailer(url: &str) -> SmtpMailer {
    SmtpMailer::new(url, FROM, Duration::from_secs(2)).unwrap()
}

#[test]
fn an_email_goes_through_a_real_smtp_conversation() {
    let server = TestSmtpServer::start();
    mailer(&server.url())
        .send(&email(), "20240314T120000000000-abc")
        .unwrap();
    let received = server.wait_for(1, Duration::from_secs(5));
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert_eq!(mail.from, "noreply@sesame.test");
    assert_eq!(mail.to, ["alice@example.com"]);
    assert!(
        mail.data.contains("From: Sesame <noreply@sesame.test>\r\n"),
        "{}",
        mail.data
    );
    assert!(mail.data.contains("To: alice@example.com\r\n"));
    assert!(mail
        .data
        .contains("Subject: Reset your Sesame password\r\n"));
    assert!(mail
        .data
        .contains("Message-ID: <20240314T120000000000-abc@sesame.test>\r\n"));
    // Dot-stuffed on the wire, whole again on arrival; the link is not folded.
    assert!(mail.data.contains("\r\n.a line that starts with a dot\r\n"));
    assert!(mail.data.contains(&format!(
        "http://localhost:3000/password/reset/confirm/MQ/{}\r\n",
        "T".repeat(43)
    )));
}

#[test]
fn a_server_that_is_down_is_a_transient_failure() {
    let port = TestSmtpServer::start().stop();
    let started = Instant::now();
    let error = mailer(&format!("smtp://127.0.0.1:{port}"))
        .send(&email(), "k")
        .unwrap_err();
    assert!(!error.permanent, "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn refusals_say_whether_to_retry() {
    let rejecting = TestSmtpServer::start_on(0, SmtpMode::RejectRecipients).unwrap();
    let error = mailer(&rejecting.url()).send(&email(), "k").unwrap_err();
    assert!(error.permanent, "{error:?}");
    assert!(error.reason.contains("550"), "{error:?}");

    let busy = TestSmtpServer::start_on(0, SmtpMode::TemporaryFailure).unwrap();
    let error = mailer(&busy.url()).send(&email(), "k").unwrap_err();
    assert!(!error.permanent, "{error:?}");
    assert!(busy.received().is_empty() && rejecting.received().is_empty());

    // The relay's own setting: every email would be refused alike.
    let closed = TestSmtpServer::start_on(0, SmtpMode::RequireAuthentication).unwrap();
    let error = mailer(&closed.url()).send(&email(), "k").unwrap_err();
    assert!(!error.permanent, "{error:?}");
    assert!(error.reason.contains("530"), "{error:?}");
}

#[test]
fn a_silent_server_times_out() {
    let silent = TestSmtpServer::start_on(0, SmtpMode::Silent).unwrap();
    let started = Instant::now();
    let error = SmtpMailer::new(&silent.url(), FROM, Duration::from_millis(500))
        .unwrap()
        .send(&email(), "k")
        .unwrap_err();
    assert!(!error.permanent, "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// The whole chain with fakes for storage and time: an activation email is
/// queued while the SMTP server is down, retried, and delivered once the
/// server is back on the same port.
#[test]
fn queued_email_reaches_a_server_that_comes_back() {
    let server = TestSmtpServer::start();
    let port = server.stop();

    let store = Arc::new(InMemoryStore::new());
    let clock = Arc::new(FakeClock::new());
    let cipher = Arc::new(ChaChaCipher::new(&[5u8; 32]).unwrap());
    let accounts = AccountService::new(
        store.clone(),
        Arc::new(BcryptHasher::new(4).unwrap()),
        clock.clone(),
        AccountSettings {
            require_activation: true,
        },
    )
    .with_mail(AccountMail {
        store: store.clone(),
        links: LinkTemplates::default(),
        lifetimes: TokenLifetimes::default(),
        queued: Arc::new(|| {}),
        cipher: cipher.clone(),
    });
    let delivery = MailDelivery::new(
        store.clone(),
        Arc::new(mailer(&format!("smtp://127.0.0.1:{port}"))),
        cipher,
        clock.clone(),
        RetryPolicy::default(),
    );
    accounts
        .register(Registration {
            username: "alice".into(),
            email: Some("alice@example.com".into()),
            password: "Zq7!vR2#kLm".into(),
            ..Registration::default()
        })
        .unwrap();

    let report = delivery.deliver_due().unwrap();
    assert_eq!((report.sent, report.retried), (0, 1));

    let server = TestSmtpServer::start_on(port, SmtpMode::Accept).unwrap();
    clock.advance(chrono::Duration::seconds(2));
    let report = delivery.deliver_due().unwrap();
    assert_eq!((report.sent, report.retried, report.next_due), (1, 0, None));
    let received = server.wait_for(1, Duration::from_secs(5));
    assert_eq!(received.len(), 1);
    assert!(received[0]
        .data
        .contains("http://localhost:3000/activate/MQ/"));
}
