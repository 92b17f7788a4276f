//! Nothing is lost: emails wait in the database until a real SMTP server
//! (the test server of `sesame_testkit::smtp`, speaking SMTP over TCP) takes
//! them. Requests never wait for SMTP; an email queued while the server is
//! down goes out when it is back; an email committed by an instance that
//! stopped before sending is sent by the next one, and waits sealed.

mod common;

use std::time::{Duration, Instant};

use common::outbox::Mail;
use common::{Backend, TestApp, PASSWORD};
use serde_json::json;
use sesame_persistence::testing::TestDatabase;
use sesame_server::Config;
use sesame_testkit::smtp::{SmtpMode, TestSmtpServer};

const ACTIVATE: &str = "http://localhost:8080/account/activate/";

/// Activation on, SMTP at `smtp_url`, quick retries.
fn smtp_config(config: &mut Config, smtp_url: &str) {
    config.accounts.require_activation = true;
    config.mail.smtp_url = Some(smtp_url.to_owned());
    config.mail.retry_initial_ms = 100;
    config.mail.retry_max_ms = 300;
    config.mail.max_attempts = 10_000;
    config.mail.timeout_seconds = 2;
}

fn register(app: &TestApp, username: &str) -> serde_json::Value {
    let reply = app.post(
        "/auth/users/",
        None,
        json!({
            "username": username, "email": format!("{username}@example.com"),
            "password": PASSWORD, "re_password": PASSWORD,
        }),
    );
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.json
}

/// A database that outlives the apps that use it.
enum Kept {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Postgres(#[allow(dead_code)] TestDatabase),
}

fn shared_database(backend: &Backend) -> (String, Kept) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("shared.db").display());
            (url, Kept::Dir(dir))
        }
        Backend::Postgres(admin) => {
            let db = TestDatabase::create(admin);
            (db.url().to_owned(), Kept::Postgres(db))
        }
    }
}

/// The bodies of the emails waiting in the database at `url`, read straight from it.
fn waiting_bodies(url: &str) -> Vec<String> {
    use diesel::{Connection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        body: String,
    }
    let query = diesel::sql_query("SELECT body FROM outgoing_emails WHERE sent_at IS NULL");
    let rows: Vec<Row> = match url.strip_prefix("sqlite://") {
        Some(path) => query.load(&mut diesel::SqliteConnection::establish(path).unwrap()),
        None => query.load(&mut diesel::PgConnection::establish(url).unwrap()),
    }
    .unwrap();
    rows.into_iter().map(|row| row.body).collect()
}

backend_tests! {
    fn requests_never_wait_for_smtp(backend) {
        // A server that accepts connections and never answers: a send
        // would hang until its 20-second timeout.
        let silent = TestSmtpServer::start_on(0, SmtpMode::Silent).unwrap();
        let app = TestApp::spawn_with(&backend, |c| {
            smtp_config(c, &silent.url());
            c.mail.timeout_seconds = 20;
        });
        for name in ["alice", "bob"] {
            let started = Instant::now();
            register(&app, name);
            let reply = app.post("/auth/users/reset_password/", None, json!({"email": format!("{name}@example.com")}));
            assert_eq!(reply.status, 204);
            assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
        }
    }

    fn an_email_queued_while_smtp_is_down_goes_out_when_it_is_back(backend) {
        let port = TestSmtpServer::start().stop();
        let url = format!("smtp://127.0.0.1:{port}");
        let app = TestApp::spawn_with(&backend, |c| smtp_config(c, &url));
        let user = register(&app, "alice");
        assert_eq!(user["is_active"], false);
        // Refused connections for a while (several failed attempts): the
        // email waits in the database, never in the outbox.
        std::thread::sleep(Duration::from_millis(700));
        assert!(!app.data_dir.join("outbox").exists());

        let server = TestSmtpServer::start_on(port, SmtpMode::Accept).unwrap();
        let received = server.wait_for(1, Duration::from_secs(15));
        assert_eq!(received.len(), 1, "the queued email never arrived");
        assert_eq!(received[0].to, ["alice@example.com"]);
        let mail = Mail::parse("", &received[0].data);
        assert_eq!(mail.subject(), "Activate your Sesame account");
        let (uid, token) = mail.uid_token(ACTIVATE);
        assert_eq!(app.post("/auth/users/activation/", None, json!({"uid": uid, "token": token})).status, 204);
        app.login("alice", PASSWORD);

        // Delivered once: later passes do not send it again.
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(server.received().len(), 1);
    }

    fn an_email_committed_before_a_crash_is_sent_after_it(backend) {
        let (database_url, _kept) = shared_database(&backend);
        // The same deployment restarted: the key the signing keys are sealed
        // with is kept, and so is its MFA key.
        let jwt_secret = "a-restart-keeps-its-jwt-secret-0123456789".to_owned();
        let mfa_key = "a restart keeps its MFA key too, forty characters".to_owned();
        let dead = TestSmtpServer::start().stop();
        let first = TestApp::spawn_with(&backend, |c| {
            smtp_config(c, &format!("smtp://127.0.0.1:{dead}"));
            c.database.url = Some(database_url.clone());
            c.tokens.jwt_secret = Some(jwt_secret.clone());
            c.mfa.encryption_key = Some(mfa_key.clone());
        });
        register(&first, "alice");
        // The instance that committed the account and its email stops
        // before it could send anything.
        drop(first);
        // What waits holds no link: a copy of the database opens no account.
        let waiting = waiting_bodies(&database_url);
        assert_eq!(waiting.len(), 1);
        assert!(waiting[0].contains("\nsealed:") && !waiting[0].contains(ACTIVATE), "{}", waiting[0]);

        let server = TestSmtpServer::start();
        let second = TestApp::spawn_with(&backend, |c| {
            smtp_config(c, &server.url());
            c.database.url = Some(database_url.clone());
            c.tokens.jwt_secret = Some(jwt_secret.clone());
            c.mfa.encryption_key = Some(mfa_key.clone());
        });
        let received = server.wait_for(1, Duration::from_secs(15));
        assert_eq!(received.len(), 1, "the committed email was lost");
        let mail = Mail::parse("", &received[0].data);
        assert_eq!(mail.to(), "alice@example.com");
        let (uid, token) = mail.uid_token(ACTIVATE);
        assert_eq!(second.post("/auth/users/activation/", None, json!({"uid": uid, "token": token})).status, 204);
        second.login("alice", PASSWORD);
    }
}
