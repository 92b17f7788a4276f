//! SQLite's write-ahead log stays bounded under steady writes: each write
//! that returns its row still checkpoints the log into the database file, so
//! that it starts over instead of growing with every write the server makes.

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
