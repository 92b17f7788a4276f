//! Accounts' failed logins and locks: one count for every instance on the
//! database, changed atomically, gone with the account.

use std::sync::Barrier;
use std::thread;

use chrono::Duration;
use sesame_tokens::{AccountLocks, LockState};
use sesame_users::UserRepository;

use crate::support::{insert_user, precise_time};

contract_tests! {
    fn a_state_is_kept_whole_and_read_back(db: &Database) {
        let alice = insert_user(db, "alice", Some("alice@example.com"));
        assert!(db.account_locks(&[alice.id]).unwrap().is_empty(), "none kept yet");
        let at = precise_time();
        let changed = db
            .change_account_lock(alice.id, &mut |state| {
                *state = LockState {
                    failures_until: Some(at),
                    locked_until: Some(at + Duration::seconds(30)),
                    streak: 2,
                    wrong_codes: 5,
                    last_wrong_code: Some(at - Duration::seconds(1)),
                    wrong_passwords: 400,
                    last_wrong_password: Some(at - Duration::seconds(2)),
                };
            })
            .unwrap();
        assert_eq!(db.account_locks(&[alice.id]).unwrap(), [changed]);
        assert_eq!(changed.streak, 2);
        // Cleared fields are stored as cleared.
        db.change_account_lock(alice.id, &mut |state| state.locked_until = None).unwrap();
        assert_eq!(db.account_locks(&[alice.id]).unwrap()[0].locked_until, None);
        db.delete(alice.id).unwrap();
        assert!(db.account_locks(&[alice.id]).unwrap().is_empty(), "gone with the account");
    }

    fn racing_changes_all_count(db: &Database) {
        let alice = insert_user(db, "alice", Some("alice@example.com"));
        let threads = 8;
        let start = Barrier::new(threads);
        thread::scope(|scope| {
            for _ in 0..threads {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    for _ in 0..5 {
                        db.change_account_lock(alice.id, &mut |state| state.wrong_codes += 1).unwrap();
                    }
                });
            }
        });
        assert_eq!(db.account_locks(&[alice.id]).unwrap()[0].wrong_codes, 40);
    }
}
