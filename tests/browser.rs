//! The pages in a real browser: Chromium, headless, driven over WebDriver
//! by chromedriver. The walk: sign up (API) with activation on and activate
//! from the emailed link; sign in with the password and the TOTP step; end
//! another session from the account page; sign out; reset the password from
//! the emailed link and sign in with it; add a passkey (Chromium's virtual
//! authenticator) on the account page, sign out and sign in with it. Every
//! page is photographed at 360 and 1280 px wide into docs/screenshots/.
//!
//! Without chromedriver the test says why and passes, unless
//! `SESAME_TEST_BROWSER=require` (CI), when it fails.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::outbox::nth_mail;
use common::{Backend, TestApp, PASSWORD};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const ORIGIN: &str = "http://localhost:8080";
const NEW_PASSWORD: &str = "Another-long-pass-42";
const DRIVER: &str = "/usr/bin/chromedriver";
const WIDTHS: [u32; 2] = [360, 1280];

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(path: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver's path, or `None` (and why) when the test should skip.
fn driver_path() -> Option<PathBuf> {
    let required = std::env::var("SESAME_TEST_BROWSER").is_ok_and(|v| v == "require");
    let path = PathBuf::from(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| DRIVER.into()));
    if path.exists() {
        return Some(path);
    }
    let why = format!(
        "{} not found: install Debian's chromium and chromium-driver to run the browser test",
        path.display()
    );
    assert!(!required, "SESAME_TEST_BROWSER=require, but {why}");
    eprintln!("skipped: {why}");
    None
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The pages' path of the link in the newest of `count` emails to `to`.
fn link_path(app: &TestApp, to: &str, count: usize, page: &str) -> String {
    let prefix = format!("{ORIGIN}/account/{page}/");
    let link = nth_mail(&app.data_dir.join("outbox"), to, count).link(&prefix);
    link.strip_prefix(ORIGIN).unwrap().to_owned()
}

/// A headless Chromium on the app.
struct Walk<'a> {
    client: Client,
    app: &'a TestApp,
    /// Where the browser finds the app: `http://localhost:<port>`, the
    /// WebAuthn origin (a relying party id is a name, never an address).
    site: String,
    /// chromedriver's address, for the commands fantoccini has no call for.
    driver: String,
    shots: PathBuf,
}

impl Walk<'_> {
    async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.site))
            .await
            .unwrap();
    }

    /// Gives the browser a virtual platform authenticator that keeps
    /// discoverable passkeys and verifies its user (WebDriver's WebAuthn
    /// extension, sent to chromedriver as is).
    async fn add_authenticator(&self) {
        let session = self.client.session_id().await.unwrap().unwrap();
        let url = format!("{}/session/{session}/webauthn/authenticator", self.driver);
        let body = json!({
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserVerified": true,
        });
        let request = ureq::http::Request::post(&url)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent.run(request).expect("chromedriver answers");
        let answer = response.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(response.status().as_u16(), 200, "{answer}");
    }

    async fn fill(&self, id: &str, text: &str) {
        let field = self.client.find(Locator::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
        let typed = field.prop("value").await.unwrap().unwrap_or_default();
        assert_eq!(typed.len(), text.len(), "typing into {id}");
    }

    /// Clicks the button `id` and waits for the page its form loads.
    async fn click(&self, id: &str) {
        self.mark_page().await;
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.wait_for_new_page(id).await;
    }

    /// Types `text` into the field `id` and presses Enter, as a person
    /// using only the keyboard would, then waits for the page the form loads.
    async fn type_and_enter(&self, id: &str, text: &str) {
        self.mark_page().await;
        let field = self.client.find(Locator::Id(id)).await.unwrap();
        field.send_keys(&format!("{text}\u{E007}")).await.unwrap();
        self.wait_for_new_page(id).await;
    }

    async fn mark_page(&self) {
        self.client
            .execute("window.sesameOldPage = true;", vec![])
            .await
            .unwrap();
    }

    async fn wait_for_new_page(&self, after: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let loaded = self
                .client
                .execute(
                    "return window.sesameOldPage === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .unwrap_or(json!(false));
            if loaded == json!(true) {
                return;
            }
            if Instant::now() > deadline {
                panic!("no new page after {after}: {}", self.source().await);
            }
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Takes the WebAuthn Level 3 JSON helpers away from this page, so that
    /// the script converts options and responses itself.
    async fn without_json_helpers(&self) {
        let gone = self
            .client
            .execute(
                "delete PublicKeyCredential.parseCreationOptionsFromJSON;
                 delete PublicKeyCredential.parseRequestOptionsFromJSON;
                 delete PublicKeyCredential.prototype.toJSON;
                 return typeof PublicKeyCredential.parseRequestOptionsFromJSON
                     + typeof PublicKeyCredential.prototype.toJSON;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(gone, json!("undefinedundefined"));
    }

    /// Clicks the button `id`, which stays on the page, and waits until
    /// the status line says `words`.
    async fn click_and_read(&self, id: &str, words: &str) {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = self
                .client
                .find(Locator::Id("passkey-status"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if status.contains(words) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "after {id}, the status says {status:?}"
            );
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the element `id` has the focus. Chromium gives an
    /// `autofocus` field the focus at a rendering update after the load,
    /// later still on a busy machine.
    async fn wait_for_focus(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let focused = (self.client)
                .execute("return document.activeElement.id;", vec![])
                .await
                .unwrap();
            if focused == json!(id) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the focus is on {focused}, not {id}"
            );
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn heading(&self) -> String {
        let h1 = self.client.find(Locator::Css("h1")).await.unwrap();
        h1.text().await.unwrap()
    }

    async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// The page as it is now, at each width, into `<name>-<width>.png`;
    /// checks that nothing is wider than the screen.
    async fn photograph(&self, name: &str) {
        self.photograph_from(name, None).await;
    }

    /// [`Walk::photograph`], scrolled to the element `from` when given.
    async fn photograph_from(&self, name: &str, from: Option<&str>) {
        for width in WIDTHS {
            self.client.set_window_size(width, 900).await.unwrap();
            if let Some(id) = from {
                self.client
                    .execute(
                        "document.getElementById(arguments[0]).scrollIntoView();",
                        vec![json!(id)],
                    )
                    .await
                    .unwrap();
            }
            let widths = self
                .client
                .execute(
                    "return [document.documentElement.scrollWidth, window.innerWidth];",
                    vec![],
                )
                .await
                .unwrap();
            let (scroll, inner) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
            assert!(
                scroll <= inner,
                "{name} at {width} px: {scroll} px wide in a {inner} px window"
            );
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(self.shots.join(format!("{name}-{width}.png")), png).unwrap();
        }
        self.client.set_window_size(1280, 900).await.unwrap();
    }
}

#[test]
fn the_pages_in_a_real_browser() {
    let Some(driver_path) = driver_path() else {
        return;
    };
    // The port is chosen first: the WebAuthn origin names it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let site = format!("http://localhost:{port}");
    let app = TestApp::spawn_with(&Backend::Sqlite, |c| {
        c.accounts.require_activation = true;
        c.http.bind = format!("127.0.0.1:{port}");
        c.webauthn.rp_id = "localhost".into();
        c.webauthn.origin = site.clone();
    });
    let driver = Driver::start(&driver_path);
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    actix_web::rt::System::new().block_on(async {
        let mut chrome = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--hide-scrollbars", "--lang=en-US"],
            // No password manager: its prompts would sit over the pages.
            "prefs": {"credentials_enable_service": false, "profile.password_manager_enabled": false},
        });
        if Path::new("/usr/bin/chromium").exists() {
            chrome["binary"] = json!("/usr/bin/chromium");
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), chrome);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .expect("a Chromium session");
        let walk = Walk {
            client,
            app: &app,
            site,
            driver: driver.url.clone(),
            shots,
        };
        walk_the_pages(&walk).await;
        walk.client.close().await.unwrap();
    });
}

async fn walk_the_pages(walk: &Walk<'_>) {
    let app = walk.app;

    // Sign up through the API; the account waits for its emailed link.
    let created = app.post(
        "/auth/users/",
        None,
        json!({
            "username": "rosa", "email": "rosa@example.com",
            "password": PASSWORD, "re_password": PASSWORD,
        }),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let activate = link_path(app, "rosa@example.com", 1, "activate");
    walk.open(&activate).await;
    assert_eq!(walk.heading().await, "Activate your account");
    walk.photograph("activate").await;
    walk.click("confirm").await;
    assert_eq!(walk.heading().await, "Account active");
    walk.photograph("activated").await;

    // A session elsewhere (a phone, say), then TOTP on, through the API.
    let (phone, _) = app.login("rosa", PASSWORD);
    let phone_id = app.get("/auth/sessions/", Some(&phone)).json[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let setup = app.post(
        "/auth/mfa/totp/setup/",
        Some(&phone),
        json!({"current_password": PASSWORD}),
    );
    let secret = setup.str("secret");
    let first = sesame_tokens::totp_code(&secret, now()).unwrap();
    let confirmed = app.post(
        "/auth/mfa/totp/confirm/",
        Some(&phone),
        json!({"code": first}),
    );
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let recovery_code = |n: usize| {
        confirmed.json["recovery_codes"][n]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let recovery = recovery_code(0);

    // Sign in: a wrong password first, then the right one, then the code.
    walk.open("/account/sign-in").await;
    walk.photograph("sign-in").await;
    walk.fill("username", "rosa").await;
    walk.fill("password", "not-my-password-1").await;
    walk.click("sign-in").await;
    assert!(walk
        .source()
        .await
        .contains("The username or the password is wrong."));
    walk.photograph("sign-in-refused").await;
    walk.fill("password", PASSWORD).await;
    walk.click("sign-in").await;
    assert_eq!(
        walk.path().await,
        "/account/sign-in/otp",
        "{}",
        walk.source().await
    );
    walk.photograph("sign-in-code").await;
    let code = sesame_tokens::totp_code(&secret, now() + 30).unwrap();
    walk.fill("otp", &code).await;
    walk.click("sign-in").await;
    assert_eq!(walk.path().await, "/account/");
    assert_eq!(walk.heading().await, "Your account");
    assert!(walk.source().await.contains("rosa@example.com"));
    walk.photograph("account").await;

    // End the phone's session from the account page.
    walk.click(&format!("end-{phone_id}")).await;
    assert_eq!(walk.path().await, "/account/");
    assert!(!walk.source().await.contains(&phone_id));
    assert_eq!(app.get("/auth/users/me/", Some(&phone)).status, 401);

    // Sign out.
    walk.click("sign-out").await;
    assert_eq!(walk.path().await, "/account/sign-in");

    // Reset the password from the emailed link, then sign in with it.
    assert_eq!(
        app.post(
            "/auth/users/reset_password/",
            None,
            json!({"email": "rosa@example.com"})
        )
        .status,
        204
    );
    let reset = link_path(app, "rosa@example.com", 2, "password/reset/confirm");
    walk.open(&reset).await;
    walk.photograph("password-reset").await;
    walk.fill("new-password", NEW_PASSWORD).await;
    walk.fill("re-new-password", "a-different-one-77").await;
    walk.click("confirm").await;
    assert!(walk.source().await.contains("The two passwords differ."));
    walk.fill("new-password", NEW_PASSWORD).await;
    walk.fill("re-new-password", NEW_PASSWORD).await;
    walk.click("confirm").await;
    assert_eq!(walk.heading().await, "Password changed");
    walk.photograph("password-changed").await;
    walk.open(&reset).await;
    walk.fill("new-password", PASSWORD).await;
    walk.fill("re-new-password", PASSWORD).await;
    walk.click("confirm").await;
    assert_eq!(walk.heading().await, "Link expired");
    walk.photograph("link-expired").await;

    // This time with the keyboard alone: the username field has the
    // focus, Tab moves to the password, Enter sends each form.
    walk.open("/account/sign-in").await;
    walk.wait_for_focus("username").await;
    walk.client
        .find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys("rosa\u{E004}")
        .await
        .unwrap();
    walk.wait_for_focus("password").await;
    walk.type_and_enter("password", NEW_PASSWORD).await;
    assert_eq!(walk.path().await, "/account/sign-in/otp");
    walk.type_and_enter("otp", &recovery).await;
    assert_eq!(walk.heading().await, "Your account");

    // A passkey, added on the account page; signed out, in with it alone
    // (the authenticator verifies its user: no password, no TOTP step).
    walk.add_authenticator().await;
    walk.fill("passkey-name", "This laptop").await;
    walk.fill("passkey-password", NEW_PASSWORD).await;
    // With TOTP on, the password alone adds none.
    walk.click_and_read("add-passkey", "authenticator app too")
        .await;
    walk.fill("passkey-code", &recovery_code(1)).await;
    walk.click("add-passkey").await;
    assert_eq!(walk.path().await, "/account/");
    let source = walk.source().await;
    assert!(source.contains("This laptop"), "{source}");
    assert!(source.contains("not used yet"), "{source}");
    walk.photograph_from("account-passkey", Some("passkeys"))
        .await;
    // The same authenticator again, through the script's own base64url
    // conversion (as in a browser without the Level 3 JSON helpers): the
    // browser refuses it, as the options exclude it, and the page says so.
    walk.without_json_helpers().await;
    walk.fill("passkey-password", NEW_PASSWORD).await;
    walk.fill("passkey-code", &recovery_code(2)).await;
    walk.click_and_read("add-passkey", "already on your account")
        .await;
    walk.click("sign-out").await;
    assert_eq!(walk.path().await, "/account/sign-in");
    walk.click("passkey-sign-in").await;
    assert_eq!(walk.path().await, "/account/");
    assert_eq!(walk.heading().await, "Your account");
    let source = walk.source().await;
    assert!(source.contains("This laptop"), "{source}");
    assert!(!source.contains("not used yet"), "{source}");
    // Again without the helpers.
    walk.click("sign-out").await;
    walk.without_json_helpers().await;
    walk.click("passkey-sign-in").await;
    assert_eq!(walk.heading().await, "Your account");

    // The two link pages the walk did not need, as their links open them.
    walk.open("/account/username/reset/confirm/MQ/token").await;
    walk.photograph("username-reset").await;
    walk.open("/account/email/confirm/MQ/token").await;
    walk.photograph("email-confirm").await;
}
