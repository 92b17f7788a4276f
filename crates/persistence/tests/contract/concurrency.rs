//! Racing writers: uniqueness is decided by the database, and SQLite's
//! single writer makes others wait instead of failing.

use std::sync::Barrier;
use std::thread;

use sesame_kernel::{Page, UserId};
use sesame_persistence::Database;
use sesame_tokens::{
    KeyState, Listing, SessionRepository, SigningAlgorithm, SigningKeyRepository, StoredSigningKey,
};
use sesame_users::{ProfileChanges, User, UserRepository, UsersError};

use crate::support::{jwt_session, new_user, now};

const RACERS: usize = 20;
const WRITERS: usize = 16;
const WRITES_PER_WRITER: usize = 25;

/// Runs `work(i)` on `threads` threads released at the same moment, and
/// returns the results in thread order.
fn race<T: Send>(threads: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let start = Barrier::new(threads);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (start, work) = (&start, &work);
                scope.spawn(move || {
                    start.wait();
                    work(i)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a racing thread panicked"))
            .collect()
    })
}

/// Every account, page by page.
fn all_users(db: &Database) -> Vec<User> {
    let mut all = Vec::new();
    loop {
        let page = db
            .list(Page::new(Some(all.len() as i64), Some(Page::MAX_LIMIT)))
            .unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// `name` with the letters at positions set in `mask` upper-cased.
fn recased(name: &str, mask: usize) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask & (1 << i) != 0 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// `RACERS` different spellings of one username, "Racer" and "RACER" among them.
fn racer_names() -> Vec<String> {
    (0..RACERS).map(|i| recased("racer", i * 7 + 1)).collect()
}

contract_tests! {
    fn of_racing_rotations_one_key_ends_up_active(db: &Database) {
        race(RACERS, |i| {
            db.activate_new(&StoredSigningKey {
                kid: format!("racer-{i}"),
                algorithm: SigningAlgorithm::Hs256,
                state: KeyState::Active,
                created_at: now(),
                sealed_private: "sealed".into(),
                public_jwk: None,
            })
            .unwrap();
        });
        let keys = db.list_keys().unwrap();
        assert_eq!(keys.len(), RACERS);
        let active = keys.iter().filter(|k| k.state == KeyState::Active).count();
        assert_eq!(active, 1);
    }

    fn one_of_many_racing_registrations_of_a_username_wins(db: &Database) {
        let names = racer_names();
        let results = race(RACERS, |i| {
            db.insert(&new_user(&names[i], Some(&format!("racer{i}@example.com"))))
        });

        let winners: Vec<&User> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        let taken = results
            .iter()
            .filter(|r| matches!(r, Err(UsersError::UsernameTaken)))
            .count();
        assert_eq!(taken, RACERS - 1, "{results:?}");

        let stored = db.find_by_username("RaCeR").unwrap().unwrap();
        assert_eq!(&stored, winners[0]);
        assert_eq!(all_users(db).len(), 1);
    }

    fn one_of_many_racing_registrations_of_an_email_wins(db: &Database) {
        let results = race(RACERS, |i| {
            let mail = format!("{}@Example.com", recased("racer", i * 5 + 2));
            db.insert(&new_user(&format!("racer{i}"), Some(&mail)))
        });

        let wins = results.iter().filter(|r| r.is_ok()).count();
        let taken = results
            .iter()
            .filter(|r| matches!(r, Err(UsersError::EmailTaken)))
            .count();
        assert_eq!((wins, taken), (1, RACERS - 1), "{results:?}");
        assert_eq!(all_users(db).len(), 1);
    }

    fn racing_avatar_changes_each_replace_another_file(db: &Database) {
        // Each upload deletes the file its change replaced: two that read
        // the same one would leave another file behind, stored and served
        // but named by no account.
        let user = db.insert(&new_user("painter", None)).unwrap();
        let rounds = race(RACERS, |racer| {
            let changes = ProfileChanges {
                avatar: Some(Some(format!("avatar-{racer}.png"))),
                ..ProfileChanges::default()
            };
            db.update_profile(user.id, &changes).unwrap().replaced_avatar
        });
        let mut replaced: Vec<String> = rounds.into_iter().flatten().collect();
        let last = db.find_by_id(user.id).unwrap().unwrap().avatar.unwrap();
        replaced.push(last);
        replaced.sort();
        let mut stored: Vec<String> = (0..RACERS).map(|racer| format!("avatar-{racer}.png")).collect();
        stored.sort();
        assert_eq!(replaced, stored, "every stored file is replaced once, or is the last");
    }

    fn concurrent_writers_all_succeed(db: &Database) {
        let results = race(WRITERS, |writer| {
            let mut failures = Vec::new();
            let mut record = |what: String, result: Result<(), String>| {
                if let Err(e) = result {
                    failures.push(format!("writer {writer}, {what}: {e}"));
                }
            };
            let (me, mut current_hash) = match db.insert(&new_user(&format!("writer{writer}"), None)) {
                Ok(user) => (user.id, user.password_hash),
                Err(e) => return vec![format!("writer {writer}, first insert: {e}")],
            };
            let mut keep = None;
            for step in 1..WRITES_PER_WRITER {
                let at = now();
                match step % 3 {
                    0 => {
                        let name = format!("writer{writer}-extra{step}");
                        let mail = format!("{name}@example.com");
                        let result = db.insert(&new_user(&name, Some(&mail)));
                        let result = result.map(drop).map_err(|e| e.to_string());
                        record(format!("insert {name}"), result);
                    }
                    1 => {
                        let id = format!("writer{writer}-session{step}");
                        let result = db.create(&jwt_session(&id, me, at));
                        record(format!("create {id}"), result.map_err(|e| e.to_string()));
                        keep.get_or_insert(id);
                    }
                    _ => {
                        let hash = format!("hash-{writer}-{step}");
                        let result = db.change_password(me, &current_hash, &hash, keep.as_deref(), at);
                        current_hash = hash;
                        record(format!("password {step}"), result.map_err(|e| e.to_string()));
                    }
                }
            }
            failures
        });

        let failures: Vec<String> = results.into_iter().flatten().collect();
        assert!(failures.is_empty(), "{} writes failed:\n{}", failures.len(), failures.join("\n"));

        // Every write landed.
        let users = all_users(db);
        let extras_per_writer = (1..WRITES_PER_WRITER).filter(|s| s % 3 == 0).count();
        assert_eq!(users.len(), WRITERS * (1 + extras_per_writer));
        let last_change = (1..WRITES_PER_WRITER).filter(|s| s % 3 == 2).max().unwrap();
        for writer in 0..WRITERS {
            let me = db.find_by_username(&format!("writer{writer}")).unwrap().unwrap();
            assert_eq!(me.password_hash, format!("hash-{writer}-{last_change}"));
            let live: Vec<UserId> =
                db.list_for_user(me.id, Listing::Open, now(), 100).unwrap().iter().map(|s| s.user_id).collect();
            assert!(!live.is_empty(), "the kept session of writer {writer} is live");
            assert!(live.iter().all(|id| *id == me.id));
        }
    }
}

#[test]
fn racer_names_differ_only_in_case() {
    let names = racer_names();
    assert!(names.iter().all(|n| n.eq_ignore_ascii_case("racer")));
    assert!(names.contains(&"Racer".to_owned()));
    assert!(names.contains(&"RACER".to_owned()));
    let distinct: std::collections::HashSet<_> = names.iter().collect();
    assert_eq!(distinct.len(), RACERS);
}
