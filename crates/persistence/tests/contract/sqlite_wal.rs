//! SQLite's write-ahead log stays bounded under steady writes: each write
//! that returns its row still checkpoints the log into the database file, so
//! that it starts over instead of growing with every write the server makes;
//! and a log a reader held open is cut back when it starts over.

use sesame_messaging::{MessageRepository, NewMessage};
use sesame_persistence::Database;
use sesame_users::UserRepository;

use crate::support::{insert_user, new_user, now};

/// Well above what a checkpoint every 1000 pages leaves (about 4 MiB), well
/// below what these writes leave without one (about 50 MiB each).
const BOUND: u64 = 16 << 20;

/// What the log file is cut back to when it starts over.
const LOG_LIMIT: u64 = 64 << 20;

/// A migrated SQLite database, `sesame.db` in a fresh temporary folder.
fn open() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("sesame.db").display());
    let db = Database::connect(&url, 4).expect("open");
    db.migrate().expect("migrate");
    (dir, db)
}

fn log_bytes(dir: &tempfile::TempDir) -> u64 {
    std::fs::metadata(dir.path().join("sesame.db-wal")).map_or(0, |m| m.len())
}

/// Writes `count` accounts named `prefix0`, `prefix1`, ...
fn insert_accounts(db: &Database, prefix: &str, count: usize) {
    for i in 0..count {
        UserRepository::insert(db, &new_user(&format!("{prefix}{i}"), None))
            .expect("insert an account");
    }
}

#[test]
fn the_log_is_checkpointed_under_steady_writes_that_return_their_rows() {
    let (dir, db) = open();
    insert_accounts(&db, "writer", 3000);
    assert!(
        log_bytes(&dir) < BOUND,
        "accounts: {} bytes",
        log_bytes(&dir)
    );

    let (alice, bob) = (
        insert_user(&db, "alice", None),
        insert_user(&db, "bob", None),
    );
    for i in 0..6000 {
        let message = NewMessage {
            content: format!("message {i}"),
            created_at: now(),
            sender_id: alice.id,
            receiver_id: bob.id,
        };
        MessageRepository::insert(&db, &message).expect("insert a message");
    }
    assert!(
        log_bytes(&dir) < BOUND,
        "messages: {} bytes",
        log_bytes(&dir)
    );
}

#[test]
fn a_log_held_open_by_a_reader_is_cut_back_once_it_starts_over() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;

    let (dir, db) = open();
    let file = dir.path().join("sesame.db");
    let mut reader =
        diesel::SqliteConnection::establish(&file.display().to_string()).expect("open a reader");
    reader
        .batch_execute("BEGIN; SELECT count(*) FROM users;")
        .expect("hold a snapshot");
    insert_accounts(&db, "writer", 5000);
    let held = log_bytes(&dir);
    assert!(
        held > LOG_LIMIT,
        "a reader keeps the log from starting over: {held} bytes"
    );

    reader
        .batch_execute("COMMIT;")
        .expect("let go of the snapshot");
    insert_accounts(&db, "after", 2);
    assert!(
        log_bytes(&dir) <= LOG_LIMIT,
        "cut back to {} bytes",
        log_bytes(&dir)
    );
}
