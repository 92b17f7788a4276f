//! The fixtures every contract test shares: a fresh database of either
//! backend, and builders for users and sessions.

use chrono::{Duration, TimeZone, Utc};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use sesame_kernel::{Clock, SystemClock, Timestamp, UserId};
use sesame_persistence::testing::{postgres_admin_url, TestDatabase, POSTGRES_URL_VAR};
use sesame_persistence::Database;
use sesame_tokens::{ClientInfo, Revival, Session, SessionKind};
use sesame_users::{Email, NewUser, User, UserRepository, Username};

/// Connections per test pool: more than one, so that concurrent callers
/// really use separate connections.
const POOL_SIZE: u32 = 8;

/// Expands each test body into a function of the enclosing module, plus
/// `sqlite::name` and `postgres::name` tests that run it on a fresh
/// database of that backend.
///
/// ```ignore
/// contract_tests! {
///     fn finds_what_it_stored(db: &Database) { ... }
/// }
/// ```
macro_rules! contract_tests {
    ($( $(#[$meta:meta])* fn $name:ident($db:ident: &Database) $body:block )*) => {
        $(
            $(#[$meta])*
            fn $name($db: &sesame_persistence::Database) $body
        )*

        mod sqlite {
            $(
                #[test]
                fn $name() {
                    $crate::support::on_sqlite(super::$name);
                }
            )*
        }

        mod postgres {
            $(
                #[test]
                fn $name() {
                    $crate::support::on_postgres(
                        concat!(module_path!(), "::", stringify!($name)),
                        super::$name,
                    );
                }
            )*
        }
    };
}

/// Runs `test` on a migrated SQLite file in a fresh temporary folder.
pub fn on_sqlite(test: fn(&Database)) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("sesame.db").display());
    let db = Database::connect(&url, POOL_SIZE).expect("open the SQLite database");
    db.migrate().expect("migrate the SQLite database");
    assert_eq!(db.backend_name(), "sqlite");
    test(&db);
    // The pool closes its connections before the folder goes.
    drop(db);
    drop(dir);
}

/// Runs `test` on a migrated, freshly created PostgreSQL database (dropped
/// afterwards), or skips it when no server is configured. A configured
/// server that cannot be reached fails the test.
pub fn on_postgres(name: &str, test: fn(&Database)) {
    on_postgres_with_url(name, |db, _| test(db));
}

/// [`on_postgres`] for a test that also opens connections of its own to
/// the database at the URL it is given.
pub fn on_postgres_with_url(name: &str, test: impl FnOnce(&Database, &str)) {
    let Some(admin_url) = postgres_admin_url() else {
        eprintln!("skipped {name}: {POSTGRES_URL_VAR} is not set");
        return;
    };
    let fresh = TestDatabase::create(&admin_url);
    let db = Database::connect(fresh.url(), POOL_SIZE).expect("open the PostgreSQL database");
    db.migrate().expect("migrate the PostgreSQL database");
    assert_eq!(db.backend_name(), "postgres");
    test(&db, fresh.url());
    // The pool closes its connections before the database is dropped.
    drop(db);
    drop(fresh);
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Runs `test` on a fresh SQLite file, handing it the file's URL and
/// `reapply`, which reverts the migrations down to `version` (a migration's
/// date and number, `20240601000100`) and runs them again: an upgrade
/// from before that migration, over the rows the test wrote.
pub fn on_sqlite_reapplying(version: &str, test: impl FnOnce(&str, &dyn Fn())) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sesame.db").display().to_string();
    let reapply = || {
        let conn = SqliteConnection::establish(&path).unwrap();
        reapply_from(conn, || SQLITE_MIGRATIONS, version);
    };
    test(&format!("sqlite://{path}"), &reapply);
}

/// [`on_sqlite_reapplying`] on a fresh PostgreSQL database.
pub fn on_postgres_reapplying(name: &str, version: &str, test: impl FnOnce(&str, &dyn Fn())) {
    let Some(admin_url) = postgres_admin_url() else {
        eprintln!("skipped {name}: {POSTGRES_URL_VAR} is not set");
        return;
    };
    let fresh = TestDatabase::create(&admin_url);
    let reapply = || {
        let conn = PgConnection::establish(fresh.url()).unwrap();
        reapply_from(conn, || POSTGRES_MIGRATIONS, version);
    };
    test(fresh.url(), &reapply);
}

/// Reverts the `migrations` down to `version`, then runs them again (the
/// embedded set is not `Copy`: each use takes a fresh one).
fn reapply_from<C>(mut conn: C, migrations: fn() -> EmbeddedMigrations, version: &str)
where
    C: Connection + MigrationHarness<C::Backend>,
{
    while conn
        .revert_last_migration(migrations())
        .unwrap()
        .to_string()
        != version
    {}
    conn.run_pending_migrations(migrations()).unwrap();
}

/// The current time, to the microsecond (what both backends keep).
pub fn now() -> Timestamp {
    SystemClock.now()
}

/// A fixed time with every microsecond digit set, to catch truncation.
pub fn precise_time() -> Timestamp {
    Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 58).unwrap() + Duration::microseconds(987_654)
}

/// A valid [`Username`].
pub fn username(raw: &str) -> Username {
    Username::parse(raw, "username").expect("a valid username")
}

/// A valid [`Email`].
pub fn email(raw: &str) -> Email {
    Email::parse(raw, "email").expect("a valid email")
}

/// An active, non-staff account to insert.
pub fn new_user(name: &str, mail: Option<&str>) -> NewUser {
    NewUser {
        username: username(name),
        email: mail.map(email),
        first_name: String::new(),
        last_name: String::new(),
        password_hash: format!("hash-of-{name}"),
        is_active: true,
        is_staff: false,
        date_joined: now(),
    }
}

/// Inserts an account, failing the test if that fails.
pub fn insert_user(db: &Database, name: &str, mail: Option<&str>) -> User {
    db.insert(&new_user(name, mail))
        .unwrap_or_else(|e| panic!("insert {name}: {e}"))
}

/// The id of an account that does not exist.
pub const UNKNOWN_USER: UserId = UserId(987_654_321);

/// A live JWT session of `user_id`, opened and last used at `at`.
pub fn jwt_session(id: &str, user_id: UserId, at: Timestamp) -> Session {
    Session {
        id: id.to_owned(),
        user_id,
        kind: SessionKind::Jwt,
        created_at: at,
        last_used_at: at,
        expires_at: at + Duration::days(14),
        revoked_at: None,
        refresh_jti: Some(format!("{id}-jti-1")),
        token_hash: None,
        client: ClientInfo {
            ip: Some("203.0.113.7".to_owned()),
            user_agent: Some("contract-tests/1.0".to_owned()),
        },
        revival: Revival::Never,
    }
}

/// A live opaque session of `user_id` whose token hashes to `token_hash`.
pub fn opaque_session(id: &str, user_id: UserId, token_hash: &str, at: Timestamp) -> Session {
    Session {
        id: id.to_owned(),
        user_id,
        kind: SessionKind::Opaque,
        created_at: at,
        last_used_at: at,
        expires_at: at + Duration::hours(1),
        revoked_at: None,
        refresh_jti: None,
        token_hash: Some(token_hash.to_owned()),
        client: ClientInfo::default(),
        revival: Revival::OnReauthentication,
    }
}
