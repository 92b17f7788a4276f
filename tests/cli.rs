//! The `sesame` binary as an operator uses it: start-up errors, `migrate`,
//! `user create`, `user promote`, and a first start with nothing configured.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::{run_cli, TestApp, PASSWORD};
use serde_json::json;

fn assert_one_clear_line(output: &std::process::Output, mentions: &str) {
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(mentions), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "stderr: {stderr}");
}

#[test]
fn bad_configuration_stops_start_up_with_one_line() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().to_str().unwrap();
    let output = run_cli(
        &["serve"],
        "",
        &[
            ("SESAME__DATA_DIR", data),
            ("SESAME__PASSWORDS__BCRYPT_COST", "50"),
        ],
    );
    assert_one_clear_line(&output, "bcrypt_cost");
    let output = run_cli(
        &["serve"],
        "",
        &[
            ("SESAME__DATA_DIR", data),
            ("DATABASE_URL", "mysql://nowhere"),
        ],
    );
    assert_one_clear_line(&output, "database.url");
    let output = run_cli(
        &["serve"],
        "",
        &[
            ("SESAME__DATA_DIR", data),
            ("SESAME__HTTP__BIND", "not an address"),
        ],
    );
    assert_one_clear_line(&output, "http.bind");
    let output = run_cli(
        &["serve"],
        "",
        &[
            ("SESAME__DATA_DIR", data),
            ("SESAME__HTTP__SURFACES", "primary,soap"),
        ],
    );
    assert_one_clear_line(&output, "http.surfaces");
}

#[test]
fn a_taken_bind_address_stops_start_up() {
    let dir = tempfile::TempDir::new().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = run_cli(
        &["serve"],
        "",
        &[
            ("SESAME__DATA_DIR", dir.path().to_str().unwrap()),
            ("SESAME__HTTP__BIND", &address),
        ],
    );
    assert_one_clear_line(&output, "cannot listen");
}

#[test]
fn first_start_creates_the_data_dir_and_a_private_secret() {
    let workdir = tempfile::TempDir::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .current_dir(workdir.path())
        .env_remove("DATABASE_URL")
        .env("SESAME__HTTP__BIND", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let listening = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find(|line| line.contains("listening"));
    child.kill().unwrap();
    child.wait().unwrap();
    let line = listening.expect("a line saying where it listens");
    assert!(line.contains("http://127.0.0.1:"), "{line}");
    let data = workdir.path().join("data");
    assert!(data.join("sesame.db").exists());
    let mode = std::fs::metadata(data.join("jwt_secret"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_misspelt_setting_stops_start_up_and_is_named() {
    // Ignored, it would leave its default in force: the limits on, say,
    // where the operator meant them off.
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().to_str().unwrap();
    let misspelt = [
        ("SESAME__TOKENS__ACESS_TTL_SECONDS", "acess_ttl_seconds"),
        ("SESAME__RATE_LIMITS__ENABLED", "rate_limits"),
    ];
    for (variable, named) in misspelt {
        let output = run_cli(
            &["migrate"],
            "",
            &[("SESAME__DATA_DIR", data), (variable, "60")],
        );
        assert_one_clear_line(&output, named);
    }
    let workdir = tempfile::TempDir::new().unwrap();
    std::fs::create_dir(workdir.path().join("config")).unwrap();
    let file = "[http]\nbind = \"127.0.0.1:0\"\nsecure_cookie = true\n";
    std::fs::write(workdir.path().join("config/default.toml"), file).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .current_dir(workdir.path())
        .env_remove("DATABASE_URL")
        .arg("migrate")
        .output()
        .unwrap();
    assert_one_clear_line(&output, "secure_cookie");
}

#[test]
fn the_sesame_database_url_wins_over_the_conventional_one() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().to_str().unwrap();
    let file = format!("sqlite://{data}/chosen.db");
    let output = run_cli(
        &["migrate"],
        "",
        &[
            ("SESAME__DATA_DIR", data),
            ("DATABASE_URL", "mysql://nowhere"),
            ("SESAME__DATABASE__URL", &file),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(dir.path().join("chosen.db").exists());
}

#[test]
fn a_sqlite_file_outside_the_data_dir_is_made_private_too() {
    // Made by an older version under a looser umask.
    let (data, elsewhere) = (
        tempfile::TempDir::new().unwrap(),
        tempfile::TempDir::new().unwrap(),
    );
    let file = elsewhere.path().join("accounts.db");
    std::fs::write(&file, "").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let url = format!("sqlite://{}", file.display());
    let output = run_cli(
        &["migrate"],
        "",
        &[
            ("SESAME__DATA_DIR", data.path().to_str().unwrap()),
            ("DATABASE_URL", &url),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn only_the_working_directorys_env_file_is_read() {
    // A `.env` in a directory above may be another project's, or anyone's
    // (`/tmp/.env`): it must not configure Sesame.
    let outer = tempfile::TempDir::new().unwrap();
    let workdir = outer.path().join("sesame");
    std::fs::create_dir(&workdir).unwrap();
    let bad = "SESAME__PASSWORDS__BCRYPT_COST=50\n";
    std::fs::write(outer.path().join(".env"), bad).unwrap();
    let migrate = || {
        Command::new(env!("CARGO_BIN_EXE_sesame"))
            .current_dir(&workdir)
            .env_remove("DATABASE_URL")
            .env_remove("SESAME__PASSWORDS__BCRYPT_COST")
            .arg("migrate")
            .output()
            .unwrap()
    };
    let output = migrate();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    std::fs::write(workdir.join(".env"), bad).unwrap();
    assert_one_clear_line(&migrate(), "bcrypt_cost");
}

#[test]
fn an_import_into_a_new_data_dir_keeps_it_private() {
    // Moving in before the first start: the import makes the database,
    // which holds every imported hash.
    let workdir = tempfile::TempDir::new().unwrap();
    let accounts = r#"{"username":"moved","password_hash":null}"#;
    std::fs::write(workdir.path().join("accounts.jsonl"), accounts).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .current_dir(workdir.path())
        .env_remove("DATABASE_URL")
        .args(["import", "jsonl", "accounts.jsonl"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let data = workdir.path().join("data");
    for (path, wanted) in [(data.clone(), 0o700), (data.join("sesame.db"), 0o600)] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, wanted, "{} is {mode:o}", path.display());
    }
}

backend_tests! {
    fn user_create_and_promote(backend) {
        let app = TestApp::spawn(&backend);
        let created = app.cli(&["user", "create", "--username", "ops", "--email", "ops@example.com", "--password-stdin"], &format!("{PASSWORD}\n"));
        assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
        let (token, _) = app.login("ops", PASSWORD);
        app.register("someone");
        assert_eq!(app.get("/auth/users/", Some(&token)).json.as_array().unwrap().len(), 1);

        let promoted = app.cli(&["user", "promote", "ops"], "");
        assert!(promoted.status.success(), "{}", String::from_utf8_lossy(&promoted.stderr));
        // The server learns of the CLI's change through a notice (PostgreSQL) or
        // the change file (SQLite): asynchronously, within milliseconds.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let mut seen = 0;
        while std::time::Instant::now() < deadline {
            seen = app.get("/auth/users/", Some(&token)).json.as_array().unwrap().len();
            if seen == 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(seen, 2, "the promotion is seen by the running server");

        let weak = app.cli(&["user", "create", "--username", "weak", "--password-stdin"], "password\n");
        assert!(!weak.status.success());
        assert!(String::from_utf8_lossy(&weak.stderr).contains("too common"));
        let unknown = app.cli(&["user", "promote", "ghost"], "");
        assert!(!unknown.status.success());
        let migrated = app.cli(&["migrate"], "");
        assert!(migrated.status.success());
        let taken = app.post("/auth/users/", None, json!({"username": "OPS", "email": "x@example.com", "password": PASSWORD, "re_password": PASSWORD}));
        assert_eq!(taken.status, 400);
    }
}
