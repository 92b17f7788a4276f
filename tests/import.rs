//! Moving in (issue 19): accounts of a Django project, a fastapi-users app
//! and a JSONL file come over with their passwords. The fixtures were made
//! by the real libraries (`scripts/make_import_fixtures.py`): every password
//! logs in on every login route of every surface, the first login replaces
//! the hash by Sesame's own, and exports re-import whole.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{Backend, Body, TestApp, PASSWORD};
use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::{json, Value};
use sesame_persistence::testing::TestDatabase;

const FORM: &str = "application/x-www-form-urlencoded";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

/// source -> username -> password, as the fixture script wrote them.
fn passwords() -> BTreeMap<String, BTreeMap<String, String>> {
    serde_json::from_str(&std::fs::read_to_string(fixture("passwords.json")).unwrap()).unwrap()
}

/// Runs `sesame <args>` on `app`'s database: (exit code, stdout).
fn sesame(app: &TestApp, args: &[&str]) -> (i32, String) {
    let output = app.cli(args, "");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (output.status.code().unwrap_or(-1), stdout + &stderr)
}

/// The Django table's URL: the committed SQLite file, or on PostgreSQL the
/// same rows loaded into a database of their own (kept alive by the guard).
fn django_source(backend: &Backend) -> (String, Option<TestDatabase>) {
    match backend {
        Backend::Sqlite => (
            format!("sqlite://{}", fixture("django.sqlite3").display()),
            None,
        ),
        Backend::Postgres(admin) => {
            let database = TestDatabase::create(admin);
            let mut conn = diesel::PgConnection::establish(database.url()).unwrap();
            conn.batch_execute(&std::fs::read_to_string(fixture("django_pg.sql")).unwrap())
                .unwrap();
            (database.url().to_owned(), Some(database))
        }
    }
}

/// Imports the three fixtures into `app`; returns the Django source guard.
fn import_all(app: &TestApp, backend: &Backend) -> Option<TestDatabase> {
    let (django, guard) = django_source(backend);
    let fastapi = format!("sqlite://{}", fixture("fastapi_users.sqlite3").display());
    let jsonl = fixture("accounts.jsonl");
    for (args, imported) in [
        (vec!["import", "django", "--from", &django], 9),
        (vec!["import", "fastapi-users", "--from", &fastapi], 5),
        (vec!["import", "jsonl", jsonl.to_str().unwrap()], 11),
    ] {
        let (code, out) = sesame(app, &args);
        assert_eq!(code, 0, "{args:?}: {out}");
        assert!(
            out.trim_end()
                .ends_with(&format!("imported {imported}, skipped 0, refused 0")),
            "{args:?}: {out}"
        );
        if args[1] == "jsonl" {
            // Each admin is named: whoever runs the move checks who they are.
            assert!(
                out.contains("admin line 1 (js_pbkdf2): an admin of Sesame\n"),
                "{out}"
            );
        }
    }
    guard
}

/// Every account of the export, by username.
fn exported(app: &TestApp) -> BTreeMap<String, Value> {
    let (code, out) = sesame(app, &["export", "jsonl"]);
    assert_eq!(code, 0, "{out}");
    out.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .map(|v| (v["username"].as_str().unwrap().to_owned(), v))
        .collect()
}

const ROUTES: [&str; 5] = [
    "/auth/jwt/create/",
    "/login",
    "/auth/token",
    "/auth/login",
    "/auth/re-authenticate",
];

/// Logs in on one route: the status.
fn log_in(app: &TestApp, route: &str, login: &str, password: &str) -> u16 {
    match route {
        "/auth/jwt/create/" | "/auth/re-authenticate" => app.post(
            route,
            None,
            json!({"username": login, "password": password}),
        ),
        "/login" => app.post(route, None, json!({"email": login, "password": password})),
        "/auth/login" => app.post(route, None, json!({"login": login, "password": password})),
        "/auth/token" => {
            let form = format!(
                "username={}&password={}",
                urlencode(login),
                urlencode(password)
            );
            app.request("POST", route, None, Body::Raw(FORM, form))
        }
        other => panic!("no route {other}"),
    }
    .status
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The accounts that must log in: every fixture password but the inactive ones.
fn active_accounts() -> Vec<(String, String)> {
    passwords()
        .into_values()
        .flatten()
        .filter(|(login, _)| !login.contains("inactive"))
        .collect()
}

/// Puts `hash` back as `username`'s stored hash, straight in the database.
fn set_hash(app: &TestApp, username: &str, hash: &str) {
    let sql = format!("UPDATE users SET password_hash = '{hash}' WHERE username = '{username}'");
    match app.database_url.strip_prefix("sqlite://") {
        Some(path) => diesel::SqliteConnection::establish(path)
            .unwrap()
            .batch_execute(&sql),
        None => diesel::PgConnection::establish(&app.database_url)
            .unwrap()
            .batch_execute(&sql),
    }
    .unwrap();
}

/// The password hash stored for `username`.
fn stored_hash(app: &TestApp, username: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        password_hash: String,
    }
    let query = diesel::sql_query("SELECT password_hash FROM users WHERE username = $1")
        .bind::<diesel::sql_types::Text, _>(username);
    let row: Row = match app.database_url.strip_prefix("sqlite://") {
        Some(path) => diesel::RunQueryDsl::get_result(
            query,
            &mut diesel::SqliteConnection::establish(path).unwrap(),
        ),
        None => diesel::RunQueryDsl::get_result(
            query,
            &mut diesel::PgConnection::establish(&app.database_url).unwrap(),
        ),
    }
    .unwrap();
    row.password_hash
}

backend_tests! {
    fn with_totp_on_an_imported_password_logs_in_with_a_code_and_is_rehashed(backend) {
        let app = TestApp::spawn(&backend);
        let hash = "pbkdf2_sha256$1000$PJG5lOaJB5uCkGXoTogY2q$V1INsf3t7dG8ypJ8g57RV+8Fc22UxJxt1Iqnln3geVU=";
        let password = "Django-in-jsonl";
        let file = app.data_dir.join("ada.jsonl");
        std::fs::write(&file, format!("{{\"username\":\"ada\",\"email\":\"ada@example.com\",\"password_hash\":\"{hash}\"}}\n")).unwrap();
        let (code, out) = sesame(&app, &["import", "jsonl", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        let token = app.login("ada", password).0;
        let setup = app.post("/auth/mfa/totp/setup/", Some(&token), json!({"current_password": password}));
        assert_eq!(setup.status, 200, "{}", setup.text);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let first = sesame_tokens::totp_code(&setup.str("secret"), now).unwrap();
        let confirmed = app.post("/auth/mfa/totp/confirm/", Some(&token), json!({"code": first}));
        assert_eq!(confirmed.status, 200, "{}", confirmed.text);
        let recovery: Vec<String> = confirmed.json["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();

        // An account that came over with TOTP on: its hash is the imported one again.
        set_hash(&app, "ada", hash);
        let without = app.post("/auth/jwt/create/", None, json!({"username": "ada", "password": password}));
        assert_eq!((without.status, without.json["code"].clone()), (401, json!("otp_required")));
        let wrong = app.post("/auth/jwt/create/", None, json!({"username": "ada", "password": "Django-in-jsonL", "otp": recovery[0]}));
        assert_eq!(wrong.status, 401);
        set_hash(&app, "ada", hash);
        let with = app.post("/login", None, json!({"email": "ada", "password": password, "otp": recovery[1]}));
        assert_eq!(with.status, 200, "{}", with.text);
        let stored = stored_hash(&app, "ada");
        assert!(stored.starts_with("$bcrypt-sha256$v=2,t=2b,r=4$"), "{stored}");
        let again = app.post("/auth/login", None, json!({"login": "ada", "password": password, "otp": recovery[2]}));
        assert_eq!(again.status, 200, "{}", again.text);
        assert_eq!(stored_hash(&app, "ada"), stored);
    }

    fn every_imported_password_logs_in_on_every_route_and_is_rehashed(backend) {
        for route in ROUTES {
            let app = TestApp::spawn(&backend);
            let _django = import_all(&app, &backend);
            let before = exported(&app);
            for (login, password) in active_accounts() {
                assert!(log_in(&app, route, &login, &format!("{password}!")) >= 400, "{route} {login}: wrong password taken");
                assert_eq!(log_in(&app, route, &login, &password), 200, "{route} {login}: imported hash");
                let after = exported(&app);
                let (old, new) = (&before[&login]["password_hash"], &after[&login]["password_hash"]);
                assert_ne!(old, new, "{route} {login}: not rehashed");
                assert!(new.as_str().unwrap().starts_with("$bcrypt-sha256$v=2,t=2b,r=4$"), "{route} {login}: {new}");
                assert_eq!(log_in(&app, route, &login, &password), 200, "{route} {login}: Sesame's hash");
                assert!(log_in(&app, route, &login, &format!("{password}!")) >= 400, "{route} {login}: wrong password taken");
            }
            for (login, password) in [
                ("dj_inactive", "Inactive-user-pass"),
                ("fa.inactive@example.com", "Fastapi-inactive-pass"),
                ("js_inactive", "Inactive-jsonl-pass"),
            ] {
                assert!(log_in(&app, route, login, password) >= 400, "{route} {login}: inactive logged in");
            }
            for login in ["dj_unusable", "js_nopassword"] {
                assert!(log_in(&app, route, login, "").min(log_in(&app, route, login, "!")) >= 400);
            }
            let (_, audit) = sesame(&app, &["audit", "--kind", "password_rehashed"]);
            assert_eq!(audit.lines().count(), active_accounts().len(), "{audit}");
            assert!(audit.contains("from django pbkdf2_sha256") && audit.contains("from django scrypt"), "{audit}");
        }
    }

    fn imported_fields_skips_refusals_and_dry_run(backend) {
        let app = TestApp::spawn(&backend);
        app.register("taken");
        let lines = [
            r#"{"username":"fresh","email":"fresh@example.com","password_hash":"$2b$04$RP7YKCJfGpCk5CtJfvpREOZWaToOj9iWmyfBbkcpp5XgQeIb94qIG","first_name":"Fre","last_name":"Sh","is_admin":true,"date_joined":"2020-02-03T04:05:06Z"}"#,
            r#"{"username":"TAKEN","password_hash":null}"#,
            r#"{"username":"other","email":"Taken@Example.com","password_hash":null}"#,
            r#"{"username":"md5user","password_hash":"md5$salt$0123456789abcdef0123456789abcdef"}"#,
            r#"{"username":"bad name","password_hash":null}"#,
            r#"{"username":"bademail","email":"nope","password_hash":null}"#,
            r#"{"username":"taken@example.com","password_hash":null}"#,
            r#"not json"#,
            r#"{"username":"fresh","password_hash":null}"#,
            // What PostgreSQL cannot store fails no batch.
            r#"{"username":"nul","first_name":"a\u0000b","password_hash":null}"#,
            r#"{"username":"ancient","password_hash":null,"date_joined":"-5000-01-01 00:00:00"}"#,
            r#"{"username":"mailname@example.org","password_hash":null}"#,
            r#"{"username":"copycat","email":"MailName@example.org","password_hash":null}"#,
        ];
        let file = app.data_dir.join("records.jsonl");
        let mut bytes = (lines.join("\n") + "\n").into_bytes();
        bytes.extend_from_slice(b"{\"username\":\"caf\xe9\",\"password_hash\":null}\n");
        bytes.extend_from_slice(b"{\"username\":\"after\",\"password_hash\":null}\n");
        bytes.extend_from_slice(br#"{"username":"guarded","password_hash":"$2b$04$RP7YKCJfGpCk5CtJfvpREOZWaToOj9iWmyfBbkcpp5XgQeIb94qIG","second_factor":true}"#);
        std::fs::write(&file, bytes).unwrap();
        let file = file.to_str().unwrap();

        let (code, dry) = sesame(&app, &["import", "jsonl", "--dry-run", file]);
        assert_eq!(code, 1, "{dry}");
        assert!(dry.trim_end().ends_with("imported 3, skipped 1, refused 12"), "{dry}");
        assert_eq!(exported(&app).len(), 1, "the dry run wrote something");

        let (code, out) = sesame(&app, &["import", "jsonl", file]);
        assert_eq!(code, 1, "{out}");
        assert_eq!(out.lines().last(), Some("imported 3, skipped 1, refused 12"), "{out}");
        for expected in [
            "refused line 2: username TAKEN is another account's, taken: they differ only in case or form",
            "refused line 3: email is taken by an account made here, not imported",
            "refused line 4: unknown or malformed password hash format",
            "refused line 5: invalid username",
            "refused line 6: invalid email",
            "refused line 7: username is another account's email",
            "refused line 8: not a JSON object",
            "skipped line 9 (fresh)",
            "refused line 10: invalid first_name: a null character",
            "refused line 11: invalid date_joined: a year outside 1 to 9999",
            "refused line 13: email is another account's username",
            "refused line 14: not UTF-8 text",
            "refused line 16: second_factor is true but a password_hash is given",
        ] {
            assert!(out.contains(expected), "{expected:?} missing from {out}");
        }
        assert!(!out.contains("0123456789abcdef") && !out.contains("RP7YKCJ"), "a hash was printed: {out}");
        assert_eq!(dry.replace("dry run: nothing was written\n", ""), out);

        let accounts = exported(&app);
        assert!(accounts.contains_key("after"), "the line after the refused ones was not imported");
        assert!(!accounts.contains_key("guarded"), "a password alone opens an account that had a second factor");
        let fresh = &accounts["fresh"];
        assert_eq!(fresh["is_admin"], true);
        assert_eq!(fresh["is_active"], true);
        assert_eq!((fresh["first_name"].as_str(), fresh["last_name"].as_str()), (Some("Fre"), Some("Sh")));
        assert!(fresh["date_joined"].as_str().unwrap().starts_with("2020-02-03T04:05:06"));
        assert_eq!(log_in(&app, "/auth/jwt/create/", "fresh", "Bcrypt-2b-pass"), 200);
        let token = app.login("fresh", "Bcrypt-2b-pass").0;
        assert_eq!(app.get("/auth/audit/", Some(&token)).status, 200, "an imported admin is an admin");

        // Django's flags, names and dates come over too.
        let (django, _guard) = django_source(&backend);
        let (code, out) = sesame(&app, &["import", "django", "--from", &django]);
        assert_eq!(code, 0, "{out}");
        let accounts = exported(&app);
        let argon = &accounts["dj_argon2"];
        assert_eq!((argon["is_admin"].as_bool(), argon["first_name"].as_str(), argon["email"].as_str()), (Some(true), Some("Dora"), Some("argon2@example.com")));
        assert!(argon["date_joined"].as_str().unwrap().starts_with("2021-04-14T08:30:04.123456"), "{argon}");
        assert_eq!(accounts["dj_bcrypt_sha256"]["is_admin"], true, "a superuser is an admin");
        assert_eq!(accounts["dj_pbkdf2"]["is_admin"], false);
        assert_eq!(accounts["dj_inactive"]["is_active"], false);
        assert_eq!(accounts["dj_unusable"]["password_hash"], Value::Null);
    }

    fn a_username_or_email_twin_is_refused_and_the_same_account_skipped_in_any_batch(backend) {
        // A source that told `Dup` and `dup` apart holds two people; Sesame
        // keeps one of them, and says so of the other, dry run or not, and
        // wherever the second stands (a thousand accounts are one batch).
        // So with two accounts sharing an address: the second one's owner
        // would get the first's resets.
        let app = TestApp::spawn(&backend);
        let mut lines = vec![r#"{"username":"Dup","email":"dup@example.com","password_hash":null}"#.to_owned()];
        lines.extend((0..1000).map(|i| format!(r#"{{"username":"filler{i}","password_hash":null}}"#)));
        lines.push(r#"{"username":"dup","password_hash":null}"#.to_owned());
        lines.push(r#"{"username":"Dup","email":"dup@example.com","password_hash":null}"#.to_owned());
        lines.push(r#"{"username":"sharer","email":"DUP@example.com","password_hash":null}"#.to_owned());
        let file = app.data_dir.join("twins.jsonl");
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        let file = file.to_str().unwrap();
        let twin = "refused line 1002: username dup is another account's, Dup: they differ only in case or form";
        let same = "skipped line 1003 (Dup): username Dup is already there";
        let sharer = "refused line 1004: email is another account's, Dup";
        let (_, dry) = sesame(&app, &["import", "jsonl", "--dry-run", file]);
        let (_, out) = sesame(&app, &["import", "jsonl", file]);
        for report in [&dry, &out] {
            assert!(report.contains(twin) && report.contains(same) && report.contains(sharer), "{report}");
            assert!(report.trim_end().ends_with("imported 1001, skipped 1, refused 2"), "{report}");
        }
    }

    fn an_account_turned_off_before_the_move_does_not_turn_itself_on_again(backend) {
        let app = TestApp::spawn_with(&backend, |c| c.accounts.require_activation = true);
        let lines = [
            r#"{"username":"banned","email":"banned@example.com","password_hash":null,"is_active":false,"last_login":"2024-01-02T03:04:05Z"}"#,
            r#"{"username":"pending","email":"pending@example.com","password_hash":null,"is_active":false}"#,
            r#"{"username":"kept_off","email":"kept_off@example.com","password_hash":null,"is_active":false,"deactivated_by_admin":true}"#,
            r#"{"username":"old_staff","email":"old_staff@example.com","password_hash":null,"is_active":false,"is_admin":true}"#,
        ];
        let file = app.data_dir.join("records.jsonl");
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        let (code, out) = sesame(&app, &["import", "jsonl", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        // fastapi-users turns accounts off by hand: its inactive one was.
        // The command reads the server's configuration (activation required).
        let fastapi = format!("sqlite://{}", fixture("fastapi_users.sqlite3").display());
        let imported = common::run_cli(&["import", "fastapi-users", "--from", &fastapi], "", &[
            ("SESAME__DATA_DIR", app.data_dir.to_str().unwrap()),
            ("DATABASE_URL", &app.database_url),
            ("SESAME__ACCOUNTS__REQUIRE_ACTIVATION", "true"),
        ]);
        assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));

        let outbox = app.data_dir.join("outbox");
        let activate = |email: &str| {
            app.post("/auth/users/resend_activation/", None, json!({"email": email}));
            let mail = common::outbox::nth_mail(&outbox, email, 1);
            let (uid, token) = mail.uid_token("http://localhost:8080/account/activate/");
            app.post("/auth/users/activation/", None, json!({"uid": uid, "token": token})).status
        };
        // It logged in before it was turned off: an admin turned it off.
        assert_eq!(activate("banned@example.com"), 400);
        assert_eq!(activate("fa.inactive@example.com"), 400);
        // Sesame's own export says so, for one that never logged in.
        assert_eq!(activate("kept_off@example.com"), 400);
        // An admin never logged in under simplejwt's defaults, but a sign-up
        // awaiting its activation is never one.
        assert_eq!(activate("old_staff@example.com"), 400);
        // It never logged in: it may be awaiting its activation, which works.
        assert_eq!(activate("pending@example.com"), 204);
        // Its owner never proved the address to fastapi-users: now to Sesame.
        assert_eq!(exported(&app)["fa.unverified@example.com"]["is_active"], false);
        assert!(log_in(&app, "/auth/jwt/create/", "fa.unverified@example.com", "Fastapi-unverified-pass") >= 400);
        assert_eq!(activate("fa.unverified@example.com"), 204);
        assert_eq!(log_in(&app, "/auth/jwt/create/", "fa.unverified@example.com", "Fastapi-unverified-pass"), 200);
        let accounts = exported(&app);
        assert_eq!(accounts["banned"]["is_active"], false);
        assert_eq!(accounts["fa.inactive@example.com"]["is_active"], false);
        assert_eq!(accounts["pending"]["is_active"], true);
        let exported_flag = |name: &str| accounts[name]["deactivated_by_admin"].clone();
        assert_eq!(exported_flag("kept_off"), true, "the export keeps it");
        assert_eq!(exported_flag("banned"), true);
        assert_eq!(exported_flag("pending"), false);
    }

    fn keep_ids_keeps_them_and_moves_the_sequence(backend) {
        let app = TestApp::spawn(&backend);
        let jsonl = fixture("accounts.jsonl");
        let (code, out) = sesame(&app, &["import", "jsonl", "--keep-ids", jsonl.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        let accounts = exported(&app);
        assert_eq!(accounts["js_pbkdf2"]["id"], 501);
        assert_eq!(accounts["js_nopassword"]["id"], 509);
        let newcomer = app.register("newcomer");
        assert!(newcomer["id"].as_i64().unwrap() > 511, "{newcomer}");

        let clash = app.data_dir.join("clash.jsonl");
        std::fs::write(&clash, "{\"id\":501,\"username\":\"someone_else\",\"password_hash\":null}\n").unwrap();
        let (code, out) = sesame(&app, &["import", "jsonl", "--keep-ids", clash.to_str().unwrap()]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("refused line 1: id 501 is taken"), "{out}");
        // Without --keep-ids the source's id is not used.
        let (code, out) = sesame(&app, &["import", "jsonl", clash.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        assert_ne!(exported(&app)["someone_else"]["id"], 501);

        // The highest account gone, a later import with a low id does not
        // move the sequence back: no id is given out twice.
        let doomed = app.register("doomed")["id"].as_i64().unwrap();
        let token = app.login("doomed", PASSWORD).0;
        let body = json!({"current_password": PASSWORD});
        assert_eq!(app.delete("/auth/users/me/", Some(&token), body).status, 204);
        let low = app.data_dir.join("low.jsonl");
        std::fs::write(&low, "{\"id\":2,\"username\":\"early\",\"password_hash\":null}\n").unwrap();
        let (code, out) = sesame(&app, &["import", "jsonl", "--keep-ids", low.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        let latecomer = app.register("latecomer")["id"].as_i64().unwrap();
        assert!(latecomer > doomed, "id {latecomer} was given out before");
        // Nor does an import give out the deleted account's id.
        let reused = app.data_dir.join("reused.jsonl");
        let line = format!("{{\"id\":{doomed},\"username\":\"heir\",\"password_hash\":null}}\n");
        std::fs::write(&reused, line).unwrap();
        let (code, out) = sesame(&app, &["import", "jsonl", "--keep-ids", reused.to_str().unwrap()]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("belonged to an account since deleted"), "{out}");
    }

    fn a_source_that_fails_partway_keeps_what_it_wrote_audited_and_counted(backend) {
        let app = TestApp::spawn(&backend);
        // The Django table, grown past one batch, with a row past the first
        // batch that cannot be read (a username that is not UTF-8).
        let source = app.data_dir.join("django_copy.sqlite3");
        std::fs::copy(fixture("django.sqlite3"), &source).unwrap();
        let mut conn = diesel::SqliteConnection::establish(source.to_str().unwrap()).unwrap();
        conn.batch_execute(
            "WITH RECURSIVE n(i) AS (SELECT 100 UNION ALL SELECT i + 1 FROM n WHERE i < 1100)
             INSERT INTO auth_user (id, password, is_superuser, username, last_name, email, is_staff, is_active, date_joined, first_name)
             SELECT i, '!', 0, 'bulk' || i, '', '', 0, 1, '2020-01-01 00:00:00', '' FROM n;
             INSERT INTO auth_user (id, password, is_superuser, username, last_name, email, is_staff, is_active, date_joined, first_name)
             VALUES (2000, '!', 0, X'FF', '', '', 0, 1, '2020-01-01 00:00:00', '');",
        )
        .unwrap();
        let from = format!("sqlite://{}", source.display());
        let (code, out) = sesame(&app, &["import", "django", "--from", &from, "--keep-ids"]);
        assert_ne!(code, 0, "{out}");
        let imported = exported(&app);
        assert!(imported.len() >= 1000 && imported.contains_key("bulk1000"), "{} accounts", imported.len());
        let (_, audit) = sesame(&app, &["audit", "--kind", "users_imported"]);
        assert!(audit.contains("then stopped"), "the partial import was not audited: {audit}");
        // Its start was, before the first batch: a kill leaves that much.
        let (_, started) = sesame(&app, &["audit", "--kind", "users_import_started"]);
        assert!(started.contains("from django, keeping ids"), "{started}");
        // Kept ids moved the sequence: a sign-up gets a fresh id.
        let newcomer = app.register("newcomer")["id"].as_i64().unwrap();
        assert!(newcomer > 1000, "id {newcomer}");
    }

    fn django_ids_kept_and_a_dry_run_writes_nothing(backend) {
        let app = TestApp::spawn(&backend);
        let (django, _guard) = django_source(&backend);
        let (code, dry) = sesame(&app, &["import", "django", "--from", &django, "--keep-ids", "--dry-run"]);
        assert_eq!(code, 0, "{dry}");
        assert!(dry.trim_end().ends_with("imported 9, skipped 0, refused 0"), "{dry}");
        assert!(exported(&app).is_empty(), "the dry run wrote something");
        let (code, out) = sesame(&app, &["import", "django", "--from", &django, "--keep-ids"]);
        assert_eq!(code, 0, "{out}");
        let accounts = exported(&app);
        assert_eq!(accounts["dj_pbkdf2_default"]["id"], 1);
        assert_eq!(accounts["dj_unusable"]["id"], 9);
        let newcomer = app.register("newcomer");
        assert_eq!(newcomer["id"].as_i64(), Some(10), "{newcomer}");
        // Again: every account is already there.
        let (code, again) = sesame(&app, &["import", "django", "--from", &django, "--keep-ids"]);
        assert_eq!(code, 0, "{again}");
        assert!(again.trim_end().ends_with("imported 0, skipped 9, refused 0"), "{again}");
        assert!(again.contains("skipped id 1 (dj_pbkdf2_default): username dj_pbkdf2_default is already there"), "{again}");
    }

    fn export_then_import_into_another_sesame_and_everyone_logs_in(backend) {
        let first = TestApp::spawn(&backend);
        let _django = import_all(&first, &backend);
        first.register("native");
        // An account with TOTP on: its secret stays behind, so its password must not open it elsewhere.
        let guarded = first.user_with_token("guarded");
        let setup = first.post("/auth/mfa/totp/setup/", Some(&guarded), json!({"current_password": PASSWORD}));
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let code = sesame_tokens::totp_code(&setup.str("secret"), now).unwrap();
        assert_eq!(first.post("/auth/mfa/totp/confirm/", Some(&guarded), json!({"code": code})).status, 200);
        // Some rehashed already, some not.
        assert_eq!(log_in(&first, "/auth/jwt/create/", "dj_bcrypt_sha256", "Bcrypt-sha256-pass"), 200);
        assert_eq!(log_in(&first, "/auth/jwt/create/", "js_argon2id", "Argon2id-phc-pass"), 200);
        let export = first.data_dir.join("export.jsonl");
        let (code, out) = sesame(&first, &["export", "jsonl", export.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("exported 27 (1 with TOTP or a passkey, without their password"), "{out}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&export).unwrap().permissions().mode() & 0o777, 0o600);
        // To standard output, the shell makes the file: a warning when others may read it.
        // (Outside the data dir, which every start makes private.)
        let elsewhere = tempfile::TempDir::new().unwrap();
        let redirected = elsewhere.path().join("redirected.jsonl");
        let file = std::fs::File::create(&redirected).unwrap();
        std::fs::set_permissions(&redirected, std::fs::Permissions::from_mode(0o644)).unwrap();
        let to_file = std::process::Command::new(env!("CARGO_BIN_EXE_sesame"))
            .args(["export", "jsonl"])
            .env("SESAME__DATA_DIR", &first.data_dir)
            .env("DATABASE_URL", &first.database_url)
            .stdout(file)
            .output()
            .unwrap();
        let warned = String::from_utf8_lossy(&to_file.stderr);
        assert!(to_file.status.success() && warned.contains("a file others may read (mode 644)"), "{warned}");
        assert_eq!(std::fs::read_to_string(&redirected).unwrap().lines().count(), 27);
        let (_, piped) = sesame(&first, &["export", "jsonl"]);
        assert!(!piped.contains("warning"), "a pipe is not a file");
        // An export never writes through a link someone planted at its path.
        let planted = first.data_dir.join("planted.jsonl");
        let target = first.data_dir.join("someone_elses.txt");
        std::fs::write(&target, "theirs").unwrap();
        std::os::unix::fs::symlink(&target, &planted).unwrap();
        let (code, out) = sesame(&first, &["export", "jsonl", planted.to_str().unwrap()]);
        assert_ne!(code, 0, "{out}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "theirs");
        // Nor through a hard link to a file someone keeps open to read it.
        let hard = first.data_dir.join("hard.jsonl");
        std::fs::hard_link(&target, &hard).unwrap();
        let (code, out) = sesame(&first, &["export", "jsonl", hard.to_str().unwrap()]);
        assert!(code != 0 && out.contains("another name links to this file"), "{out}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "theirs");
        // An earlier export of one's own is written over.
        let (code, out) = sesame(&first, &["export", "jsonl", export.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        // A file of one's own that someone opened to read before gives them nothing.
        let opened = first.data_dir.join("opened.jsonl");
        std::fs::write(&opened, "").unwrap();
        std::fs::set_permissions(&opened, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut reader = std::fs::File::open(&opened).unwrap();
        let (code, out) = sesame(&first, &["export", "jsonl", opened.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        let mut seen = String::new();
        std::io::Read::read_to_string(&mut reader, &mut seen).unwrap();
        assert_eq!(seen, "", "the export was written into a file someone held open");
        assert_eq!(std::fs::read(&opened).unwrap(), std::fs::read(&export).unwrap());
        assert_eq!(std::fs::metadata(&opened).unwrap().permissions().mode() & 0o777, 0o600);
        let parts = std::fs::read_dir(&first.data_dir).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".part"));
        assert_eq!(parts.count(), 0, "a file written aside was left");

        let second = TestApp::spawn(&backend);
        let (code, out) = sesame(&second, &["import", "jsonl", "--keep-ids", export.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        assert!(out.trim_end().ends_with("imported 27, skipped 0, refused 0"), "{out}");
        let mut everyone = active_accounts();
        everyone.push(("native".into(), PASSWORD.into()));
        for (login, password) in everyone {
            assert_eq!(log_in(&second, "/auth/login", &login, &password), 200, "{login}");
        }
        assert_eq!(log_in(&second, "/auth/login", "guarded", PASSWORD), 401);
        let (a, b) = (exported(&first), exported(&second));
        assert_eq!((a["guarded"]["password_hash"].clone(), a["guarded"]["second_factor"].clone()), (Value::Null, json!(true)));
        assert_eq!(a["native"]["second_factor"], json!(false));
        // A sign-up stays one on the next Sesame: the old system's account
        // of the same name is refused, not taken for it.
        assert_eq!((a["native"]["made_here"].clone(), b["native"]["made_here"].clone()), (json!(true), json!(true)));
        assert_eq!(b["dj_argon2"]["made_here"], json!(false));
        let legacy = second.data_dir.join("legacy.jsonl");
        std::fs::write(&legacy, "{\"username\":\"native\",\"password_hash\":null}\n").unwrap();
        let (code, out) = sesame(&second, &["import", "jsonl", legacy.to_str().unwrap()]);
        assert!(code == 1 && out.contains("username native is taken by an account made here"), "{out}");
        // The export imported again finds everyone there, dry run or not.
        for dry_run in [true, false] {
            let mut args = vec!["import", "jsonl", export.to_str().unwrap()];
            args.extend(dry_run.then_some("--dry-run"));
            let (code, out) = sesame(&second, &args);
            assert!(code == 0 && out.trim_end().ends_with("imported 0, skipped 27, refused 0"), "{out}");
        }
        assert_eq!(a["dj_argon2"]["id"], b["dj_argon2"]["id"]);
        assert_eq!(a["dj_argon2"]["date_joined"], b["dj_argon2"]["date_joined"]);
        // Both are in the audit log, made from the command line.
        let (_, exports) = sesame(&first, &["audit", "--kind", "users_exported"]);
        assert!(exports.contains("exported 27 (1 with TOTP") && exports.contains("sesame command line"), "{exports}");
        let (_, started) = sesame(&first, &["audit", "--kind", "users_export_started"]);
        assert!(started.contains(&format!("to {}", export.display())), "{started}");
        let (_, imports) = sesame(&second, &["audit", "--kind", "users_imported"]);
        assert!(imports.contains("imported 27 (") && imports.contains("admins), skipped 0, refused 0"), "{imports}");
    }
}
