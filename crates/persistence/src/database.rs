use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use sesame_kernel::{ChangeObserver, OutsideChanges, UserId};

use crate::change_file::{self, ChangeFile};

use crate::PersistenceError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// A pool of connections to one of the two supported databases.
#[derive(Clone)]
pub enum Backend {
    /// A SQLite file.
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
    /// A PostgreSQL server.
    Postgres(Pool<ConnectionManager<PgConnection>>),
}

/// Sesame's database: implements every repository port of the domain crates.
#[derive(Clone)]
pub struct Database {
    pub(crate) backend: Backend,
    changes: Arc<Observers>,
    /// On SQLite: how this process and the others on the same file tell
    /// each other of changes.
    change_file: Option<Arc<ChangeFile>>,
    /// On PostgreSQL: the URL, for the listener's own connection.
    pub(crate) postgres_url: Option<Arc<str>>,
    /// On SQLite: the database file (its signing key change file is beside it).
    pub(crate) sqlite_file: Option<Arc<str>>,
}

/// Runs `$body` with `$conn` bound to a pooled connection of whichever
/// backend is configured; the body is compiled once per backend. The body
/// returns `Result<T, diesel::result::Error>`; the macro gives
/// `Result<T, PersistenceError>`.
macro_rules! with_connection {
    ($db:expr, |$conn:ident| $body:expr) => {{
        match &$db.backend {
            $crate::Backend::Sqlite(pool) => match $crate::database::checkout(pool) {
                Ok(mut pooled) => {
                    let $conn = &mut *pooled;
                    ($body).map_err($crate::PersistenceError::from)
                }
                Err(e) => Err($crate::PersistenceError::from(e)),
            },
            $crate::Backend::Postgres(pool) => match $crate::database::checkout(pool) {
                Ok(mut pooled) => {
                    let $conn = &mut *pooled;
                    ($body).map_err($crate::PersistenceError::from)
                }
                Err(e) => Err($crate::PersistenceError::from(e)),
            },
        }
    }};
}

/// Like `with_connection!`, inside one transaction. On SQLite the
/// transaction takes the write lock up front (`BEGIN IMMEDIATE`), so that
/// concurrent writers wait for each other instead of failing.
macro_rules! in_transaction {
    ($db:expr, |$conn:ident| $body:expr) => {{
        use diesel::Connection as _;
        match &$db.backend {
            $crate::Backend::Sqlite(pool) => match $crate::database::checkout(pool) {
                Ok(mut pooled) => pooled
                    .immediate_transaction(|$conn| $body)
                    .map_err($crate::PersistenceError::from),
                Err(e) => Err($crate::PersistenceError::from(e)),
            },
            $crate::Backend::Postgres(pool) => match $crate::database::checkout(pool) {
                Ok(mut pooled) => pooled
                    .transaction(|$conn| $body)
                    .map_err($crate::PersistenceError::from),
                Err(e) => Err($crate::PersistenceError::from(e)),
            },
        }
    }};
}

/// How long a SQLite statement waits for another connection's lock.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 15_000;

/// What the write-ahead log file is cut back to when it starts over: a
/// burst of concurrent writes (where readers keep the log from starting over
/// for a while) leaves no lasting file behind.
const SQLITE_LOG_LIMIT_BYTES: u64 = 64 << 20;

/// Pragmas every SQLite connection needs, set each time the pool opens one.
/// The busy timeout comes first, so that the others wait for locks too.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};
             PRAGMA journal_mode = WAL;
             PRAGMA foreign_keys = ON;
             PRAGMA synchronous = NORMAL;
             PRAGMA journal_size_limit = {SQLITE_LOG_LIMIT_BYTES};"
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Connections a pool keeps open while idle; it opens more, up to its size,
/// as requests need them, and closes those after ten idle minutes. Holding
/// the whole pool open costs an idle SQLite server about 70 KiB of memory a
/// connection, and PostgreSQL a backend process each.
const IDLE_CONNECTIONS: u32 = 2;
/// How long to wait for a connection before giving up.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a wait for a connection goes on once the pool holds none at all:
/// every one was lost and none could be opened again, the database is away.
const OUTAGE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long `/readyz` waits for a connection: a probe must answer promptly.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// A pooled connection. A busy pool is waited for up to [`CONNECTION_TIMEOUT`];
/// but when, after [`OUTAGE_TIMEOUT`], the pool holds no connection at all,
/// the database is away: give up then, so that requests answer 503 at once
/// instead of hanging through the outage (r2d2 keeps reconnecting in the
/// background, at most `CONNECTION_TIMEOUT / 2` apart, and the pool fills
/// again by itself when the database is back).
pub(crate) fn checkout<M: diesel::r2d2::ManageConnection>(
    pool: &Pool<M>,
) -> Result<diesel::r2d2::PooledConnection<M>, diesel::r2d2::PoolError> {
    let deadline = std::time::Instant::now() + CONNECTION_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match pool.get_timeout(left.min(OUTAGE_TIMEOUT)) {
            Err(_) if left > OUTAGE_TIMEOUT && pool.state().connections > 0 => continue,
            outcome => return outcome,
        }
    }
}

/// A write whose `RETURNING` clause gives back one row, read to the
/// statement's end. On SQLite, an autocommit write runs its WAL checkpoint
/// only when its statement steps to the end: read with diesel's
/// `get_result`, which stops at the first row, no write would ever
/// checkpoint, and the log would grow with every write until restart.
pub(crate) trait Returned<'q, C, U>: diesel::query_dsl::LoadQuery<'q, C, U> + Sized {
    /// The row the write returned ([`diesel::result::Error::NotFound`] if none).
    fn get_returned(self, conn: &mut C) -> diesel::QueryResult<U> {
        self.load(conn)?
            .into_iter()
            .next()
            .ok_or(diesel::result::Error::NotFound)
    }
}

impl<'q, C, U, Q: diesel::query_dsl::LoadQuery<'q, C, U>> Returned<'q, C, U> for Q {}

/// A lock number that only Sesame's migration step takes.
const MIGRATION_LOCK: i64 = 0x5e5a_3e00;

impl Database {
    /// Opens a pool for `url`: `sqlite://PATH` (the file and its folder are
    /// created) or `postgres://...` / `postgresql://...`.
    ///
    /// # Errors
    /// [`PersistenceError::UnsupportedUrl`], [`PersistenceError::Connect`].
    pub fn connect(url: &str, pool_size: u32) -> Result<Database, PersistenceError> {
        let backend = if let Some(path) = sqlite_path(url) {
            if let Some(parent) = Path::new(path)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent).map_err(|e| {
                    PersistenceError::Connect(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            use_wal(path)?;
            let pool = Pool::builder()
                .max_size(pool_size)
                .min_idle(Some(IDLE_CONNECTIONS.min(pool_size)))
                .connection_timeout(CONNECTION_TIMEOUT)
                .connection_customizer(Box::new(SqlitePragmas))
                .build(ConnectionManager::<SqliteConnection>::new(path))
                .map_err(|e| PersistenceError::Connect(e.to_string()))?;
            Backend::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = Pool::builder()
                .max_size(pool_size)
                .min_idle(Some(IDLE_CONNECTIONS.min(pool_size)))
                .connection_timeout(CONNECTION_TIMEOUT)
                .build(ConnectionManager::<PgConnection>::new(url))
                .map_err(|e| PersistenceError::Connect(e.to_string()))?;
            Backend::Postgres(pool)
        } else {
            return Err(PersistenceError::unsupported_url(url));
        };
        // After the SQLite file's folder is made: the change file goes beside it.
        let change_file = sqlite_path(url).map(|path| Arc::new(ChangeFile::beside(path)));
        let postgres_url = matches!(backend, Backend::Postgres(_)).then(|| Arc::from(url));
        Ok(Database {
            backend,
            changes: Arc::default(),
            change_file,
            postgres_url,
            sqlite_file: sqlite_path(url).map(Arc::from),
        })
    }

    /// Reports every write to users and sessions, once made, to `observer`
    /// (the token cache, the sockets), after the observers given before.
    pub fn observe_changes(&self, observer: Arc<dyn ChangeObserver>) {
        self.changes
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(observer);
    }

    /// What other processes on the same SQLite file changed (on
    /// PostgreSQL, triggers and `listen_for_notices` report it instead).
    pub fn outside_changes(&self) -> Option<Arc<dyn OutsideChanges>> {
        self.change_file
            .clone()
            .map(|file| file as Arc<dyn OutsideChanges>)
    }

    /// An account changed or was deleted (and perhaps all its sessions).
    pub(crate) fn user_changed(&self, user: UserId) {
        self.user_touched(user);
        self.announce();
    }

    /// An account changed in a way that does not matter to authentication
    /// (its last login).
    pub(crate) fn user_touched(&self, user: UserId) {
        self.changes.user_changed(user);
    }

    /// A session was revoked or deleted.
    pub(crate) fn session_revoked(&self, session_id: &str) {
        self.session_changed(session_id);
        self.announce();
    }

    /// A session's last use, expiry or refresh token changed.
    pub(crate) fn session_changed(&self, session_id: &str) {
        self.changes.session_changed(session_id);
    }

    fn announce(&self) {
        if let Some(file) = &self.change_file {
            file.announce();
        }
    }

    /// On SQLite, starts a thread that reports to the observers that
    /// everything changed whenever another process announces a change (it
    /// does not say which), five times a second. The thread ends with the
    /// database.
    pub(crate) fn watch_other_processes(&self) {
        if let Some(file) = self.change_file.clone() {
            let changed = move || file.changed_by_another_process();
            change_file::poll("sesame-changes", self.observers(), changed, |o| {
                o.all_changed()
            });
        }
    }

    /// The observers given to [`Database::observe_changes`], held weakly:
    /// by a watcher thread, which ends with the database.
    pub(crate) fn observers(&self) -> Weak<dyn ChangeObserver> {
        let observers: Arc<dyn ChangeObserver> = self.changes.clone();
        Arc::downgrade(&observers)
    }

    /// The observer given to [`Database::observe_changes`], for changes
    /// other processes report.
    pub(crate) fn change_observer(&self) -> Option<Arc<dyn ChangeObserver>> {
        let any = !self.changes.list().is_empty();
        any.then(|| self.changes.clone() as Arc<dyn ChangeObserver>)
    }

    /// The files SQLite keeps for the database at `url` (the database, its
    /// `-wal` and its `-shm`), whether they exist yet or not; none for a
    /// PostgreSQL URL.
    pub fn sqlite_files(url: &str) -> Vec<PathBuf> {
        let Some(path) = sqlite_path(url) else {
            return Vec::new();
        };
        ["", "-wal", "-shm"]
            .iter()
            .map(|suffix| PathBuf::from(format!("{path}{suffix}")))
            .collect()
    }

    /// Checks that `url` names a supported database, without connecting.
    ///
    /// # Errors
    /// [`PersistenceError::UnsupportedUrl`].
    pub fn check_url(url: &str) -> Result<(), PersistenceError> {
        let supported = sqlite_path(url).is_some_and(|p| !p.is_empty())
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://");
        if supported {
            Ok(())
        } else {
            Err(PersistenceError::unsupported_url(url))
        }
    }

    /// Applies every pending migration (one process at a time on PostgreSQL),
    /// then brings the users' stored keys to the current rule if needed.
    ///
    /// # Errors
    /// [`PersistenceError::Migration`], [`PersistenceError::Pool`].
    pub fn migrate(&self) -> Result<(), PersistenceError> {
        let migration_error = |e: Box<dyn std::error::Error + Send + Sync>| {
            PersistenceError::Migration(e.to_string())
        };
        match &self.backend {
            Backend::Sqlite(pool) => {
                let mut conn = pool.get()?;
                conn.run_pending_migrations(SQLITE_MIGRATIONS)
                    .map_err(migration_error)?;
            }
            Backend::Postgres(pool) => {
                let mut conn = pool.get()?;
                conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
                let outcome = conn
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|_| ())
                    .map_err(migration_error);
                conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
                outcome?;
            }
        }
        self.refresh_identity_keys()
    }

    /// Whether the database answers a trivial query.
    pub fn is_reachable(&self) -> bool {
        match &self.backend {
            Backend::Sqlite(pool) => pool
                .get_timeout(READINESS_TIMEOUT)
                .is_ok_and(|mut conn| conn.batch_execute("SELECT 1").is_ok()),
            Backend::Postgres(pool) => pool
                .get_timeout(READINESS_TIMEOUT)
                .is_ok_and(|mut conn| conn.batch_execute("SELECT 1").is_ok()),
        }
    }

    /// Connections the pool holds, and how many of them are idle.
    pub fn pool_usage(&self) -> (u32, u32) {
        let state = match &self.backend {
            Backend::Sqlite(pool) => pool.state(),
            Backend::Postgres(pool) => pool.state(),
        };
        (state.connections, state.idle_connections)
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The underlying pools.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }
}

/// The observers given to [`Database::observe_changes`], told in turn.
#[derive(Default)]
struct Observers(RwLock<Vec<Arc<dyn ChangeObserver>>>);

impl Observers {
    fn list(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<dyn ChangeObserver>>> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl ChangeObserver for Observers {
    fn user_changed(&self, user: UserId) {
        self.list().iter().for_each(|o| o.user_changed(user));
    }

    fn session_changed(&self, session_id: &str) {
        self.list()
            .iter()
            .for_each(|o| o.session_changed(session_id));
    }

    fn all_changed(&self) {
        self.list().iter().for_each(|o| o.all_changed());
    }

    fn signing_keys_changed(&self) {
        self.list().iter().for_each(|o| o.signing_keys_changed());
    }
}

/// Puts the SQLite file in WAL mode. The mode is kept in the file, and the
/// switch takes an exclusive lock that the pool's connections, opening all at
/// once, would fight over (failing with "database is locked" and retried by
/// r2d2 with back-off, for seconds): so it happens once, before the pool opens.
fn use_wal(path: &str) -> Result<(), PersistenceError> {
    let mut conn = SqliteConnection::establish(path)
        .map_err(|e| PersistenceError::Connect(format!("cannot open {path}: {e}")))?;
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL;"
    ))
    .map_err(|e| PersistenceError::Connect(format!("cannot put {path} in WAL mode: {e}")))
}

/// The file path of a `sqlite://` URL (`sqlite:///abs` is absolute).
fn sqlite_path(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .filter(|p| !p.is_empty())
}

/// Opens a single PostgreSQL connection (for tests and tooling).
///
/// # Errors
/// [`PersistenceError::Connect`].
pub(crate) fn connect_postgres(url: &str) -> Result<PgConnection, PersistenceError> {
    PgConnection::establish(url).map_err(|e| PersistenceError::Connect(e.to_string()))
}
