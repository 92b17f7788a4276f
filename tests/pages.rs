//! API.md "Pages a person sees", black-box over HTTP on both backends: the
//! pages under /account/ as a browser without JavaScript uses them (its
//! cookies kept by hand), their headers, CSRF and weights.

mod common;

use std::cell::RefCell;
use std::path::PathBuf;

use common::outbox::nth_mail;
use common::{Body, Reply, TestApp, PASSWORD};
use serde_json::{json, Value};
use sesame_testkit::SoftBrowser;

const ORIGIN: &str = "http://localhost:8080";
const NEW_PASSWORD: &str = "Another-long-pass-42";
/// The one script a page may load.
const SCRIPT_TAG: &str = "<script src=\"/account/static/passkeys.js\" defer></script>";
/// The most a page may weigh with everything it loads.
const MAX_PAGE_BYTES: usize = 30 * 1024;

/// A browser: its cookies, and the pages it asks for.
struct Browser<'a> {
    app: &'a TestApp,
    cookies: RefCell<Vec<(String, String)>>,
    user_agent: &'static str,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            cookies: RefCell::new(Vec::new()),
            user_agent: "pages-test/1.0",
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .borrow()
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .borrow()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn keep_cookies(&self, reply: &Reply) {
        let mut jar = self.cookies.borrow_mut();
        for header in reply.headers_named("set-cookie") {
            let pair = header.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').unwrap();
            let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
            jar.retain(|(n, _)| *n != name);
            let removed = value.is_empty() || header.to_ascii_lowercase().contains("max-age=0");
            if !removed {
                jar.push((name, value));
            }
        }
    }

    fn send(&self, method: &str, path: &str, form: Option<String>) -> Reply {
        let cookies = self.cookie_header();
        let mut headers = vec![("User-Agent", self.user_agent)];
        if !cookies.is_empty() {
            headers.push(("Cookie", cookies.as_str()));
        }
        let body = match form {
            Some(form) => Body::Raw("application/x-www-form-urlencoded", form),
            None => Body::None,
        };
        let reply = self.app.request_with_headers(method, path, &headers, body);
        self.keep_cookies(&reply);
        reply
    }

    fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None)
    }

    /// Posts `body` as JSON to `path` as the passkey script does, with the
    /// page's CSRF token in its header.
    fn script(&self, path: &str, csrf: Option<&str>, body: Value) -> Reply {
        let cookies = self.cookie_header();
        let mut headers = vec![("User-Agent", self.user_agent)];
        if !cookies.is_empty() {
            headers.push(("Cookie", cookies.as_str()));
        }
        if let Some(csrf) = csrf {
            headers.push(("X-CSRF-Token", csrf));
        }
        let reply = self
            .app
            .request_with_headers("POST", path, &headers, Body::Json(body));
        self.keep_cookies(&reply);
        reply
    }

    /// Posts `fields` to `path` as the form of a page would.
    fn post(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let form = serde_urlencoded::to_string(fields).unwrap();
        self.send("POST", path, Some(form))
    }

    /// Opens `path`, then submits its form with its CSRF token and `fields`.
    fn submit(&self, path: &str, action: &str, fields: &[(&str, &str)]) -> Reply {
        let page = self.get(path);
        assert_eq!(page.status, 200, "{}", page.text);
        let token = csrf_of(&page);
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all)
    }

    /// Signs in with the password (and no second factor).
    fn sign_in(&self, username: &str, password: &str) -> Reply {
        self.submit(
            "/account/sign-in",
            "/account/sign-in",
            &[("username", username), ("password", password)],
        )
    }
}

fn csrf_of(page: &Reply) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page
        .text
        .find(marker)
        .unwrap_or_else(|| panic!("no CSRF token in {}", page.text))
        + marker.len();
    let end = page.text[start..].find('"').unwrap() + start;
    page.text[start..end].to_owned()
}

fn outbox_of(app: &TestApp) -> PathBuf {
    app.data_dir.join("outbox")
}

/// The path of the link to the pages in the newest of `count` emails to `to`.
fn link_path(app: &TestApp, to: &str, count: usize, page: &str) -> String {
    let prefix = format!("{ORIGIN}/account/{page}/");
    let link = nth_mail(&outbox_of(app), to, count).link(&prefix);
    link.strip_prefix(ORIGIN).unwrap().to_owned()
}

fn assert_page(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{}", reply.text);
    let csp = reply.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'self'"), "CSP: {csp:?}");
    if status != 303 {
        assert!(reply
            .header("content-type")
            .unwrap()
            .starts_with("text/html"));
        // Every field a person fills in has its label.
        for input in reply.text.split("<input ").skip(1) {
            let tag = &input[..input.find('>').unwrap()];
            if tag.contains("type=\"hidden\"") {
                continue;
            }
            let id = tag
                .split("id=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .expect("an id");
            assert!(
                reply.text.contains(&format!("<label for=\"{id}\">")),
                "no label for {id}"
            );
        }
    }
}

fn login_status(app: &TestApp, username: &str, password: &str) -> u16 {
    app.post(
        "/auth/jwt/create/",
        None,
        json!({"username": username, "password": password}),
    )
    .status
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

backend_tests! {
    fn every_form_needs_its_csrf_token(backend) {
        let app = TestApp::spawn(&backend);
        app.register("alice");
        let browser = Browser::new(&app);
        let page = browser.get("/account/sign-in");
        assert_page(&page, 200);
        let token = csrf_of(&page);
        let credentials = [("username", "alice"), ("password", PASSWORD)];

        // No token, a wrong one, or another browser's: 403, a page, no session.
        let missing = browser.post("/account/sign-in", &credentials);
        assert_eq!(missing.status, 403, "{}", missing.text);
        assert!(missing.header("content-type").unwrap().starts_with("text/html"));
        assert!(missing.text.contains("Form expired"));
        let wrong = browser.post("/account/sign-in", &[("csrf", "bm90IGEgdG9rZW4"), credentials[0], credentials[1]]);
        assert_eq!(wrong.status, 403);
        let other = Browser::new(&app);
        other.get("/account/sign-in");
        let foreign = other.post("/account/sign-in", &[("csrf", &token), credentials[0], credentials[1]]);
        assert_eq!(foreign.status, 403);
        let cookieless = app.request("POST", "/account/sign-in", None, Body::Raw(
            "application/x-www-form-urlencoded",
            serde_urlencoded::to_string([("csrf", token.as_str()), credentials[0], credentials[1]]).unwrap(),
        ));
        assert_eq!(cookieless.status, 403);
        assert!(browser.cookie("sesame_account").is_none());

        // Every other form too.
        for path in [
            "/account/sign-in/otp",
            "/account/sign-out",
            "/account/sessions/x/end",
            "/account/activate/MQ/x",
            "/account/password/reset/confirm/MQ/x",
            "/account/username/reset/confirm/MQ/x",
            "/account/email/confirm/MQ/x",
            "/account/passkeys/x/remove",
        ] {
            assert_eq!(browser.post(path, &[("csrf", "")]).status, 403, "{path}");
        }
        // A form a browser posts from another origin (a sibling subdomain
        // counts: it is the same site) is refused, token or not.
        let fields = [("csrf", token.as_str()), credentials[0], credentials[1]];
        let form = serde_urlencoded::to_string(fields).unwrap();
        let cookies = browser.cookie_header();
        for site in ["same-site", "cross-site"] {
            let headers = [("Cookie", cookies.as_str()), ("Sec-Fetch-Site", site)];
            let posted = app.request_with_headers("POST", "/account/sign-in", &headers, Body::Raw("application/x-www-form-urlencoded", form.clone()));
            assert_eq!(posted.status, 403, "{site}: {}", posted.text);
            assert!(posted.set_cookie("sesame_account").is_none());
        }
        // A browser sending no Fetch Metadata still names the origin.
        for origin in ["https://evil.example.com", "null"] {
            let headers = [("Cookie", cookies.as_str()), ("Origin", origin)];
            let posted = app.request_with_headers("POST", "/account/sign-in", &headers, Body::Raw("application/x-www-form-urlencoded", form.clone()));
            assert_eq!(posted.status, 403, "{origin}: {}", posted.text);
            assert!(posted.set_cookie("sesame_account").is_none());
        }
        // A body that is not a form is a 400 page, not a 500.
        let garbled = browser.send("POST", "/account/sign-in", Some("%%%".into()));
        assert!(garbled.status == 400 || garbled.status == 403, "{}", garbled.status);

        // With the token it signs in, from its own origin too.
        let headers = [("Cookie", cookies.as_str()), ("Origin", app.base.as_str())];
        let signed_in = app.request_with_headers("POST", "/account/sign-in", &headers, Body::Raw("application/x-www-form-urlencoded", form));
        assert_page(&signed_in, 303);
        assert_eq!(signed_in.header("location"), Some("/account/"));
    }

    fn pages_carry_csp_and_strict_cookies(backend) {
        let app = TestApp::spawn(&backend);
        app.register("bob");
        let browser = Browser::new(&app);
        let page = browser.get("/account/");
        assert_page(&page, 200);
        assert_eq!(page.header("cache-control"), Some("no-store"));
        let csrf_cookie = page.set_cookie("sesame_csrf").expect("a CSRF cookie");
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/account"] {
            assert!(csrf_cookie.contains(flag), "{csrf_cookie}");
        }
        assert!(!csrf_cookie.contains("Secure"), "{csrf_cookie}");
        let css = browser.get("/account/static/pages.css");
        assert_eq!(css.status, 200);
        assert!(css.header("content-type").unwrap().starts_with("text/css"));

        let signed_in = browser.sign_in("bob", PASSWORD);
        let session = signed_in.set_cookie("sesame_account").expect("a session cookie");
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/account"] {
            assert!(session.contains(flag), "{session}");
        }
        assert!(!session.contains("Secure"), "{session}");
        let not_found = browser.get("/account/nothing-here");
        assert_page(&not_found, 404);

        // Behind TLS, Secure too: as configured, or whenever people reach
        // Sesame at an https:// origin.
        let configured = TestApp::spawn_with(&backend, |c| c.http.secure_cookies = true);
        let https = TestApp::spawn_with(&backend, |c| c.http.public_url = "https://auth.example.com".into());
        // Then under the `__Host-` prefix (Path=/, no Domain), which a browser
        // keeps only from this host: a sibling subdomain cannot plant one.
        let host_only = |cookie: &str| {
            let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
            ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"].iter().all(|a| attributes.contains(a))
                && !cookie.to_ascii_lowercase().contains("domain=")
        };
        for secure in [configured, https] {
            secure.register("bob");
            let browser = Browser::new(&secure);
            let page = browser.get("/account/sign-in");
            let csrf = page.set_cookie("__Host-sesame_csrf").expect("a host-only CSRF cookie");
            assert!(host_only(csrf), "{csrf}");
            let signed_in = browser.sign_in("bob", PASSWORD);
            assert_page(&signed_in, 303);
            let session = signed_in.set_cookie("__Host-sesame_account").expect("a host-only session");
            assert!(host_only(session), "{session}");
            let sign_in_title = "<title>Sign in";
            let account = browser.get("/account/");
            assert_page(&account, 200);
            assert!(!account.text.contains(sign_in_title), "{}", account.text);
            // The same token under the bare name, as a sibling could set it, is no session.
            let planted = Browser::new(&secure);
            let token = browser.cookie("__Host-sesame_account").unwrap();
            planted.cookies.borrow_mut().push(("sesame_account".into(), token));
            let page = planted.get("/account/");
            assert_page(&page, 200);
            assert!(page.text.contains(sign_in_title), "{}", page.text);
        }
    }

    fn sign_in_with_password_then_totp(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("grace");
        let setup = app.post("/auth/mfa/totp/setup/", Some(&token), json!({"current_password": PASSWORD}));
        let secret = setup.str("secret");
        let first = sesame_tokens::totp_code(&secret, now()).unwrap();
        let confirmed = app.post("/auth/mfa/totp/confirm/", Some(&token), json!({"code": first}));
        assert_eq!(confirmed.status, 200);

        let browser = Browser::new(&app);
        // A wrong password: shown on the page, 401, nothing else.
        let wrong = browser.sign_in("grace", "not-the-password-1");
        assert_page(&wrong, 401);
        assert!(wrong.text.contains("The username or the password is wrong."));
        assert!(wrong.text.contains("value=\"grace\""));
        assert!(browser.cookie("sesame_sign_in").is_none());

        // The password: on to the code step; the password is not in the page or readable in the cookie.
        let first_step = browser.sign_in("grace", PASSWORD);
        assert_page(&first_step, 303);
        assert_eq!(first_step.header("location"), Some("/account/sign-in/otp"));
        let pending = browser.cookie("sesame_sign_in").expect("the half-done sign-in");
        assert!(!pending.contains("grace") && !pending.contains("dumbo"));
        let lapses = first_step.set_cookie("sesame_sign_in").is_some_and(|c| c.contains("Max-Age=300"));
        assert!(lapses, "the browser keeps the sealed password past its step: {:?}", first_step.set_cookie("sesame_sign_in"));
        // Signing out from the code step forgets it too.
        let leaving = Browser::new(&app);
        assert_page(&leaving.sign_in("grace", PASSWORD), 303);
        assert!(leaving.cookie("sesame_sign_in").is_some());
        assert_page(&leaving.submit("/account/sign-in", "/account/sign-out", &[]), 303);
        assert!(leaving.cookie("sesame_sign_in").is_none(), "signing out kept the half-done sign-in");
        assert!(browser.cookie("sesame_account").is_none());
        let otp_page = browser.get("/account/sign-in/otp");
        assert_page(&otp_page, 200);
        assert!(otp_page.text.contains("id=\"otp\""));
        assert!(!otp_page.text.contains(PASSWORD));

        let wrong_code = browser.submit("/account/sign-in/otp", "/account/sign-in/otp", &[("otp", "000000")]);
        assert_page(&wrong_code, 401);
        assert!(wrong_code.text.contains("The code is wrong"));
        let blank = browser.submit("/account/sign-in/otp", "/account/sign-in/otp", &[("otp", " ")]);
        assert_page(&blank, 400);

        let code = sesame_tokens::totp_code(&secret, now() + 30).unwrap();
        let done = browser.submit("/account/sign-in/otp", "/account/sign-in/otp", &[("otp", &code)]);
        assert_page(&done, 303);
        assert_eq!(done.header("location"), Some("/account/"));
        assert!(browser.cookie("sesame_sign_in").is_none());
        let cookie_token = browser.cookie("sesame_account").expect("signed in");

        let account = browser.get("/account/");
        assert_page(&account, 200);
        assert!(account.text.contains("grace@example.com"));
        assert!(account.text.contains("id=\"sign-out\""));
        assert!(account.text.contains("pages-test/1.0"));

        // Adding a passkey, which signs in without TOTP, needs a code too.
        assert!(account.text.contains("id=\"passkey-code\""));
        let csrf = csrf_of(&account);
        let begin = "/account/passkeys/register/begin";
        let without = browser.script(begin, Some(&csrf), json!({"current_password": PASSWORD}));
        assert_eq!(without.status, 400, "{}", without.text);
        assert!(without.json["error"].as_str().unwrap().contains("code"), "{}", without.text);
        let recovery = confirmed.json["recovery_codes"][0].clone();
        let with_code = browser.script(begin, Some(&csrf), json!({"current_password": PASSWORD, "code": recovery}));
        assert_eq!(with_code.status, 200, "{}", with_code.text);

        // The cookie holds a real session: listed in the API, ended by logout.
        let listed = app.get("/auth/sessions/", Some(&token)).json;
        let kinds: Vec<_> = listed.as_array().unwrap().iter().map(|s| s["kind"].clone()).collect();
        assert!(kinds.contains(&json!("opaque")), "{listed}");
        assert_eq!(app.post("/auth/logout", Some(&cookie_token), json!({})).status, 200);
        let after = browser.get("/account/");
        assert_page(&after, 200);
        assert!(after.text.contains("id=\"sign-in\""), "signed out: {}", after.text);

        // Without a pending sign-in the code step sends back to the start.
        let fresh = Browser::new(&app);
        let redirected = fresh.get("/account/sign-in/otp");
        assert_eq!(redirected.header("location"), Some("/account/sign-in"));
    }

    fn an_api_token_in_the_cookie_is_not_a_page_session(backend) {
        let app = TestApp::spawn(&backend);
        let access = app.user_with_token("kim");
        // Checked once by the API: its session is in the token cache now.
        assert_eq!(app.get("/auth/users/me/", Some(&access)).status, 200);
        let browser = Browser::new(&app);
        browser.cookies.borrow_mut().push(("sesame_account".into(), access));
        let page = browser.get("/account/");
        assert_page(&page, 200);
        assert!(page.text.contains("id=\"sign-in\""), "{}", page.text);
    }

    fn a_cookie_is_read_by_its_name_as_sent(backend) {
        // A browser keeps `__Host-` cookies from this very host only, by the
        // name as written: `__Host%2Dsesame_account` is no such cookie, and
        // a sibling subdomain could set it. It must not count as one.
        let app = TestApp::spawn(&backend);
        app.register("lena");
        let owner = Browser::new(&app);
        assert_eq!(owner.sign_in("lena", PASSWORD).status, 303);
        let session = owner.cookie("sesame_account").expect("a session cookie");
        let planted = Browser::new(&app);
        planted.cookies.borrow_mut().push(("sesame%5Faccount".into(), session));
        let page = planted.get("/account/");
        assert_page(&page, 200);
        assert!(page.text.contains("id=\"sign-in\""), "{}", page.text);
    }

    fn the_account_page_ends_sessions_and_signs_out(backend) {
        let app = TestApp::spawn(&backend);
        app.register("carol");
        let (other, _) = app.login("carol", PASSWORD);
        let browser = Browser::new(&app);
        let before = csrf_of(&browser.get("/account/sign-in"));
        assert_eq!(browser.sign_in("carol", PASSWORD).status, 303);
        // The tokens are bound to the session: one from before signing in no longer fits.
        assert_eq!(browser.post("/account/sign-out", &[("csrf", &before)]).status, 403);
        let account = browser.get("/account/");
        assert_page(&account, 200);
        let sessions = app.get("/auth/sessions/", Some(&other)).json;
        let other_id = sessions.as_array().unwrap().iter().find(|s| s["current"] == true).unwrap()["id"].as_str().unwrap().to_owned();
        assert!(account.text.contains(&format!("id=\"end-{other_id}\"")), "{}", account.text);

        let ended = browser.post(&format!("/account/sessions/{other_id}/end"), &[("csrf", &csrf_of(&account))]);
        assert_page(&ended, 303);
        assert_eq!(app.get("/auth/users/me/", Some(&other)).status, 401);
        let again = browser.post(&format!("/account/sessions/{other_id}/end"), &[("csrf", &csrf_of(&account))]);
        assert_page(&again, 404);

        let cookie_token = browser.cookie("sesame_account").unwrap();
        assert_eq!(app.get("/auth/me", Some(&cookie_token)).status, 200);
        let out = browser.submit("/account/", "/account/sign-out", &[]);
        assert_page(&out, 303);
        assert!(browser.cookie("sesame_account").is_none());
        assert_eq!(app.get("/auth/me", Some(&cookie_token)).status, 401);
    }

    fn signing_out_after_the_idle_period_still_ends_the_session(backend) {
        // A lapsed session is ended all the same (one opened before
        // `sessions.revivable` could still be brought back by seed 002's
        // re-authenticate).
        let app = TestApp::spawn_with(&backend, |c| c.tokens.opaque_idle_seconds = 1);
        app.register("dora");
        let browser = Browser::new(&app);
        assert_eq!(browser.sign_in("dora", PASSWORD).status, 303);
        let cookie_token = browser.cookie("sesame_account").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1300));
        assert_eq!(app.get("/auth/me", Some(&cookie_token)).status, 401, "lapsed");
        let token = csrf_of(&browser.get("/account/sign-in"));
        assert_page(&browser.post("/account/sign-out", &[("csrf", &token)]), 303);
        assert!(browser.cookie("sesame_account").is_none());
        let again = app.post("/auth/re-authenticate", None, json!({"username": "dora", "password": PASSWORD}));
        assert_eq!(again.status, 200, "{}", again.text);
        assert_eq!(app.get("/auth/me", Some(&cookie_token)).status, 401, "not brought back");
    }

    fn a_sign_in_ends_the_session_whose_cookie_it_replaces(backend) {
        // Nobody holds its token any more: on a shared browser, the
        // previous person's. (While a session is live the sign-in page leads
        // to its account, but a sign-in form left open is still sent.)
        let app = TestApp::spawn(&backend);
        app.register("erin");
        app.register("fred");
        let browser = Browser::new(&app);
        assert_eq!(browser.sign_in("erin", PASSWORD).status, 303);
        let erins = browser.cookie("sesame_account").unwrap();
        let csrf = csrf_of(&browser.get("/account/"));
        let fields = [("csrf", csrf.as_str()), ("username", "fred"), ("password", PASSWORD)];
        assert_page(&browser.post("/account/sign-in", &fields), 303);
        let freds = browser.cookie("sesame_account").unwrap();
        assert_ne!(freds, erins);
        assert_eq!(app.get("/auth/me", Some(&freds)).status, 200);
        assert_eq!(app.get("/auth/me", Some(&erins)).status, 401);
    }

    fn re_authenticating_elsewhere_never_brings_a_lapsed_page_session_back(backend) {
        // A browser left signed in on a shared computer; later its owner's
        // app re-authenticates (seed 002), and the next person opens the pages.
        let app = TestApp::spawn_with(&backend, |c| c.tokens.opaque_idle_seconds = 2);
        let seeds = app.post("/auth/register", None, json!({"username": "gina", "password": PASSWORD}));
        assert_eq!(seeds.status, 200, "{}", seeds.text);
        let seeds = seeds.json["token"].as_str().unwrap().to_owned();
        let browser = Browser::new(&app);
        assert_eq!(browser.sign_in("gina", PASSWORD).status, 303);
        let page = browser.cookie("sesame_account").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2300));
        let again = app.post("/auth/re-authenticate", None, json!({"username": "gina", "password": PASSWORD}));
        assert_eq!(again.status, 200, "{}", again.text);
        assert_eq!(app.get(&format!("/auth/validate/{seeds}"), None).status, 200, "seed 002's token is back");
        assert_eq!(app.get("/auth/me", Some(&page)).status, 401, "the page's is not");
        assert_page(&browser.get("/account/sign-in"), 200);
    }

    fn a_link_opened_from_a_mail_client_works_in_a_signed_in_browser(backend) {
        let app = TestApp::spawn(&backend);
        app.register("erin");
        let browser = Browser::new(&app);
        assert_page(&browser.sign_in("erin", PASSWORD), 303);
        assert!(browser.cookie("sesame_account").is_some());
        assert_eq!(app.post("/auth/users/reset_password/", None, json!({"email": "erin@example.com"})).status, 204);
        let reset = link_path(&app, "erin@example.com", 1, "password/reset/confirm");
        // Followed from webmail, another site: the browser sends none of
        // the SameSite=Strict cookies, and takes the new CSRF cookie set.
        let opened = app.request_with_headers("GET", &reset, &[("Sec-Fetch-Site", "cross-site")], Body::None);
        assert_page(&opened, 200);
        browser.keep_cookies(&opened);
        // The form is posted from the page itself, with every cookie.
        let fields = [("csrf", csrf_of(&opened)), ("new_password", NEW_PASSWORD.to_owned()), ("re_new_password", NEW_PASSWORD.to_owned())];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let changed = browser.post(&reset, &fields);
        assert_page(&changed, 200);
        assert_eq!(login_status(&app, "erin", NEW_PASSWORD), 200);
    }

    fn link_pages_change_nothing_on_get_and_change_on_post(backend) {
        let app = TestApp::spawn_with(&backend, |c| c.accounts.require_activation = true);
        let created = app.post("/auth/users/", None, json!({
            "username": "dora", "email": "dora@example.com",
            "password": PASSWORD, "re_password": PASSWORD,
        }));
        assert_eq!(created.status, 201);
        let browser = Browser::new(&app);

        // Activation: opening the link (twice, as a scanner would) changes nothing.
        let activate = link_path(&app, "dora@example.com", 1, "activate");
        for _ in 0..2 {
            let page = browser.get(&activate);
            assert_page(&page, 200);
            assert!(page.text.contains("id=\"confirm\""));
        }
        assert_eq!(login_status(&app, "dora", PASSWORD), 401);
        let done = browser.submit(&activate, &activate, &[]);
        assert_page(&done, 200);
        assert!(done.text.contains("Your account is active"));
        assert_eq!(login_status(&app, "dora", PASSWORD), 200);

        // Password reset: GET changes nothing, differing passwords are refused on the page.
        assert_eq!(app.post("/auth/users/reset_password/", None, json!({"email": "dora@example.com"})).status, 204);
        let reset = link_path(&app, "dora@example.com", 2, "password/reset/confirm");
        assert_page(&browser.get(&reset), 200);
        assert_eq!(login_status(&app, "dora", PASSWORD), 200);
        let differ = browser.submit(&reset, &reset, &[("new_password", NEW_PASSWORD), ("re_new_password", "something-else-9")]);
        assert_page(&differ, 400);
        assert!(differ.text.contains("The two passwords differ."));
        let weak = browser.submit(&reset, &reset, &[("new_password", "123"), ("re_new_password", "123")]);
        assert_page(&weak, 400);
        assert!(weak.text.contains("<li>"), "{}", weak.text);
        let changed = browser.submit(&reset, &reset, &[("new_password", NEW_PASSWORD), ("re_new_password", NEW_PASSWORD)]);
        assert_page(&changed, 200);
        assert!(changed.text.contains("your passkeys are removed"), "{}", changed.text);
        assert_eq!(login_status(&app, "dora", PASSWORD), 401);
        assert_eq!(login_status(&app, "dora", NEW_PASSWORD), 200);
        // Used once, the link is expired: said on the page.
        let used = browser.submit(&reset, &reset, &[("new_password", PASSWORD), ("re_new_password", PASSWORD)]);
        assert_page(&used, 400);
        assert!(used.text.contains("Link expired"));
        assert_eq!(login_status(&app, "dora", NEW_PASSWORD), 200);

        // Username reset.
        assert_eq!(app.post("/auth/users/reset_username/", None, json!({"email": "dora@example.com"})).status, 204);
        let rename = link_path(&app, "dora@example.com", 3, "username/reset/confirm");
        assert_page(&browser.get(&rename), 200);
        assert_eq!(login_status(&app, "dora", NEW_PASSWORD), 200);
        let renamed = browser.submit(&rename, &rename, &[("new_username", "dorothy")]);
        assert_page(&renamed, 200);
        assert_eq!(login_status(&app, "dorothy", NEW_PASSWORD), 200);

        // Email change, confirmed from the link sent to the new address.
        let (access, _) = app.login("dorothy", NEW_PASSWORD);
        let asked = app.post("/auth/users/set_email/", Some(&access), json!({"current_password": NEW_PASSWORD, "new_email": "dora@new.example.com"}));
        assert_eq!(asked.status, 204, "{}", asked.text);
        let confirm = link_path(&app, "dora@new.example.com", 1, "email/confirm");
        assert_page(&browser.get(&confirm), 200);
        assert_eq!(app.get("/auth/users/me/", Some(&access)).json["email"], "dora@example.com");
        let confirmed = browser.submit(&confirm, &confirm, &[]);
        assert_page(&confirmed, 200);
        assert_eq!(app.get("/auth/users/me/", Some(&access)).json["email"], "dora@new.example.com");

        // A made-up link is refused on the page, not with a 500.
        let bogus = browser.submit("/account/activate/MQ/not-a-token", "/account/activate/MQ/not-a-token", &[]);
        assert_page(&bogus, 400);
    }

    fn posted_forms_count_against_the_address_limit(backend) {
        let app = TestApp::spawn_with(&backend, |c| {
            c.rate_limit.enabled = true;
            c.rate_limit.per_ip_burst = 2;
            c.rate_limit.per_ip_per_minute = 1;
        });
        let browser = Browser::new(&app);
        // Forms another site makes a browser post cost the address nothing:
        // they cannot throttle everyone behind it.
        browser.get("/account/sign-in");
        let cookies = browser.cookie_header();
        for _ in 0..4 {
            let headers = [("Cookie", cookies.as_str()), ("Sec-Fetch-Site", "cross-site")];
            let form = Body::Raw("application/x-www-form-urlencoded", "csrf=x&username=a&password=b".into());
            assert_eq!(app.request_with_headers("POST", "/account/sign-in", &headers, form).status, 403);
        }
        let replies: Vec<Reply> = (0..4).map(|_| browser.sign_in("nobody", "wrong-password-1")).collect();
        assert_eq!(replies[0].status, 401);
        let limited = replies.last().unwrap();
        assert_page(limited, 429);
        assert!(limited.header("retry-after").is_some());
        assert!(limited.text.contains("Too many requests"));
        // Pages that only show something are not counted.
        assert_page(&browser.get("/account/sign-in"), 200);
    }

    fn failed_sign_ins_lock_the_account_for_the_api_too(backend) {
        let app = TestApp::spawn_with(&backend, |c| {
            c.rate_limit.enabled = true;
            c.rate_limit.failed_logins_per_account = 2;
        });
        app.user_with_token("ivy");
        let browser = Browser::new(&app);
        for expected in [401, 401, 429] {
            assert_page(&browser.sign_in("ivy", "wrong-password-1"), expected);
        }
        assert_eq!(login_status(&app, "ivy", PASSWORD), 429, "one lockout for pages and API");
        let metrics = app.get("/metrics", None).text;
        assert!(metrics.contains("sesame_login_failures_total 3"), "{metrics}");
    }

    fn wrong_passwords_for_a_passkey_lock_the_account_and_are_answered_429(backend) {
        let app = TestApp::spawn_with(&backend, |c| {
            c.rate_limit.enabled = true;
            c.rate_limit.failed_logins_per_account = 2;
        });
        app.register("jade");
        let browser = Browser::new(&app);
        assert_eq!(browser.sign_in("jade", PASSWORD).status, 303);
        let token = csrf_of(&browser.get("/account/"));
        let begin = "/account/passkeys/register/begin";
        for guess in ["guess-one-1", "guess-two-2"] {
            let wrong = browser.script(begin, Some(&token), json!({"current_password": guess}));
            assert_eq!(wrong.status, 400, "{}", wrong.text);
            assert!(wrong.json["error"].as_str().unwrap().contains("password is wrong"));
        }
        // The guess that locks the account is not answered, nor the right one after it.
        for guess in ["guess-three-3", PASSWORD] {
            let locked = browser.script(begin, Some(&token), json!({"current_password": guess}));
            assert_eq!(locked.status, 429, "{}", locked.text);
            assert!(locked.header("retry-after").is_some());
            assert!(locked.json["error"].as_str().unwrap().contains("wrong passwords"));
        }
        let removal = browser.post(
            "/account/passkeys/any/remove",
            &[("csrf", &token), ("current_password", PASSWORD)],
        );
        assert_page(&removal, 429);
        assert_eq!(login_status(&app, "jade", PASSWORD), 429, "one lockout for pages and API");
    }

    fn a_sign_in_with_a_null_character_is_refused_like_a_wrong_password(backend) {
        // PostgreSQL cannot compare text with U+0000: the login names no
        // account, rather than failing the lookup.
        let app = TestApp::spawn(&backend);
        app.register("nully");
        let browser = Browser::new(&app);
        assert_page(&browser.sign_in("nu\u{0}lly", PASSWORD), 401);
        assert_eq!(browser.sign_in("nully", PASSWORD).status, 303);
    }

    fn every_page_weighs_at_most_30_kb(backend) {
        let app = TestApp::spawn(&backend);
        app.register("erin");
        let token = app.user_with_token("gus");
        let setup = app.post("/auth/mfa/totp/setup/", Some(&token), json!({"current_password": PASSWORD}));
        let code = sesame_tokens::totp_code(&setup.str("secret"), now()).unwrap();
        app.post("/auth/mfa/totp/confirm/", Some(&token), json!({"code": code}));

        let browser = Browser::new(&app);
        let css = browser.get("/account/static/pages.css").text.len();
        let script = browser.get("/account/static/passkeys.js");
        assert!(script.header("content-type").unwrap().starts_with("text/javascript"));
        let js = script.text.len();
        let mut pages = vec![
            ("sign in", browser.get("/account/sign-in")),
            ("activate", browser.get("/account/activate/MQ/token")),
            ("password reset", browser.get("/account/password/reset/confirm/MQ/token")),
            ("username reset", browser.get("/account/username/reset/confirm/MQ/token")),
            ("email confirm", browser.get("/account/email/confirm/MQ/token")),
            ("link expired", browser.submit("/account/activate/MQ/t", "/account/activate/MQ/t", &[])),
        ];
        // A few sessions and passkeys on the account page.
        for _ in 0..5 {
            app.login("erin", PASSWORD);
        }
        let (erin, _) = app.login("erin", PASSWORD);
        let mut soft = SoftBrowser::new(ORIGIN);
        for n in 0..3 {
            let options = app.post("/auth/passkeys/register/begin/", Some(&erin), json!({"current_password": PASSWORD}));
            let credential = soft.create(&options.json).unwrap();
            let name = format!("A passkey with a long name, number {n}");
            let added = app.post("/auth/passkeys/register/finish/", Some(&erin), json!({"credential": credential, "name": name}));
            assert_eq!(added.status, 201, "{}", added.text);
        }
        browser.sign_in("erin", PASSWORD);
        pages.push(("account", browser.get("/account/")));
        let otp = Browser::new(&app);
        otp.sign_in("gus", PASSWORD);
        pages.push(("TOTP step", otp.get("/account/sign-in/otp")));
        for (name, page) in &pages {
            assert!(page.status < 500, "{name}: {}", page.status);
            assert!(page.text.contains("/account/static/pages.css"), "{name}");
            // No inline script: at most the passkey script, from Sesame.
            let loads_script = page.text.contains(SCRIPT_TAG);
            assert_eq!(page.text.matches("<script").count(), usize::from(loads_script), "{name}");
            let js = if loads_script { js } else { 0 };
            let weight = page.text.len() + css + js;
            eprintln!("{name}: {} bytes + {css} bytes of CSS + {js} bytes of script = {weight} bytes", page.text.len());
            assert!(weight <= MAX_PAGE_BYTES, "{name} weighs {weight} bytes");
        }
    }

    fn passkeys_on_the_pages(backend) {
        let app = TestApp::spawn(&backend);
        app.register("hana");
        let browser = Browser::new(&app);
        assert_eq!(browser.sign_in("hana", PASSWORD).status, 303);
        let account = browser.get("/account/");
        assert_page(&account, 200);
        assert!(account.text.contains(SCRIPT_TAG));
        assert!(account.text.contains("id=\"add-passkey\""));
        assert!(account.text.contains("No passkey yet."));
        let token = csrf_of(&account);

        // The script's routes check the token in their header, and a session.
        let begin = "/account/passkeys/register/begin";
        for csrf in [None, Some("bm90IGEgdG9rZW4")] {
            let refused = browser.script(begin, csrf, json!({}));
            assert_eq!(refused.status, 403, "{}", refused.text);
            assert!(refused.json["error"].as_str().unwrap().contains("expired"));
        }
        let stranger = Browser::new(&app);
        let their_token = csrf_of(&stranger.get("/account/sign-in"));
        let signed_out = stranger.script(begin, Some(&their_token), json!({}));
        assert_eq!(signed_out.status, 401, "{}", signed_out.text);
        assert!(signed_out.json["error"].is_string());

        // Add one.
        let mut soft = SoftBrowser::new(ORIGIN);
        let options = browser.script(begin, Some(&token), json!({"current_password": PASSWORD}));
        assert_eq!(options.status, 200, "{}", options.text);
        assert!(options.header("content-security-policy").is_some());
        let credential = soft.create(&options.json).unwrap();
        let finish = "/account/passkeys/register/finish";
        let body = json!({"credential": credential, "name": "Laptop"});
        let added = browser.script(finish, Some(&token), body.clone());
        assert_eq!(added.status, 201, "{}", added.text);
        let id = added.json["id"].as_str().unwrap().to_owned();
        let replayed = browser.script(finish, Some(&token), body);
        assert_eq!(replayed.status, 400, "{}", replayed.text);
        assert!(replayed.json["error"].as_str().unwrap().contains("refused"));
        for garbled in [json!({"credential": "text"}), json!([1])] {
            let bad = browser.script(finish, Some(&token), garbled);
            assert_eq!(bad.status, 400, "{}", bad.text);
            assert!(bad.json["error"].is_string(), "{}", bad.text);
        }
        let account = browser.get("/account/");
        assert_page(&account, 200);
        assert!(account.text.contains("Laptop"));
        assert!(account.text.contains(&format!("id=\"remove-{id}\"")));

        // Sign in with it in another browser: a session in the cookie like any other.
        let other = Browser::new(&app);
        let sign_in = other.get("/account/sign-in");
        assert!(sign_in.text.contains("id=\"passkey-sign-in\""));
        let their_token = csrf_of(&sign_in);
        assert_eq!(other.script("/account/passkeys/login/begin", None, json!({})).status, 403);
        let options = other.script("/account/passkeys/login/begin", Some(&their_token), json!({}));
        assert_eq!(options.status, 200, "{}", options.text);
        let response = soft.get(&options.json).unwrap();
        let login = "/account/passkeys/login/finish";
        let done = other.script(login, Some(&their_token), json!({"credential": response.clone()}));
        assert_eq!(done.status, 200, "{}", done.text);
        assert_eq!(done.json["redirect"], "/account/");
        let session = done.set_cookie("sesame_account").expect("a session cookie");
        assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"), "{session}");
        let cookie_token = other.cookie("sesame_account").unwrap();
        assert_eq!(app.get("/auth/me", Some(&cookie_token)).status, 200);
        assert_eq!(other.get("/account/").status, 200);
        assert!(other.get("/account/").text.contains("id=\"sign-out\""));
        // A response is accepted once.
        let again = Browser::new(&app);
        let again_token = csrf_of(&again.get("/account/sign-in"));
        let replayed = again.script(login, Some(&again_token), json!({"credential": response}));
        assert_eq!(replayed.status, 401, "{}", replayed.text);
        assert!(again.cookie("sesame_account").is_none());

        // Removal needs the password; another id is not found.
        let remove = format!("/account/passkeys/{id}/remove");
        let blank = browser.post(&remove, &[("csrf", &token), ("current_password", "")]);
        assert_page(&blank, 400);
        assert!(blank.text.contains("Enter your password"));
        let wrong = browser.post(&remove, &[("csrf", &token), ("current_password", "not-it-at-all-9")]);
        assert_page(&wrong, 400);
        assert!(wrong.text.contains("The password is wrong"));
        assert!(wrong.text.contains("Laptop"));
        assert_eq!(browser.post(&remove, &[("current_password", PASSWORD)]).status, 403);
        let unknown = browser.post("/account/passkeys/nope/remove", &[("csrf", &token), ("current_password", PASSWORD)]);
        assert_page(&unknown, 404);
        let removed = browser.post(&remove, &[("csrf", &token), ("current_password", PASSWORD)]);
        assert_page(&removed, 303);
        assert!(!browser.get("/account/").text.contains("Laptop"));
    }
}
