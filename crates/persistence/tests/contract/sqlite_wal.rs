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

fn log_bytes(dir: &tempfile::TempDir) -> u64 {
    std::fs::metadata(dir.path().join("sesame.db-wal")).map_or(0, |m| m.len())
}

#[test]
fn the_log_is_checkpointed_under_steady_writes_that_return_their_rows() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("sesame.db").display());
    let db = Database::connect(&url, 4).expect("open");
    db.migrate().expect("migrate");

    for i in 0..3000 {
        UserRepository::insert(&db, &new_user(&format!("writer{i}"), None))
            .expect("insert an account");
    }
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

    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("sesame.db");
    let db = Database::connect(&format!("sqlite://{}", file.display()), 4).expect("open");
    db.migrate().expect("migrate");
    let mut reader =
        diesel::SqliteConnection::establish(&file.display().to_string()).expect("open a reader");
    reader
        .batch_execute("BEGIN; SELECT count(*) FROM users;")
        .expect("hold a snapshot");
    for i in 0..5000 {
        UserRepository::insert(&db, &new_user(&format!("writer{i}"), None))
            .expect("insert an account");
    }
    let held = log_bytes(&dir);
    assert!(
        held > 64 << 20,
        "a reader keeps the log from starting over: {held} bytes"
    );

    reader
        .batch_execute("COMMIT;")
        .expect("let go of the snapshot");
    for i in 0..2 {
        UserRepository::insert(&db, &new_user(&format!("after{i}"), None))
            .expect("insert an account");
    }
    assert!(
        log_bytes(&dir) <= 64 << 20,
        "cut back to {} bytes",
        log_bytes(&dir)
    );
}
