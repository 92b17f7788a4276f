//! `PasskeyRepository` and `ChallengeStore` on both backends.

use chrono::Duration;
use sesame_kernel::{Timestamp, UserId};
use sesame_tokens::{
    Ceremony, CeremonyKind, ChallengeStore, PasskeyRepository, StoredPasskey, TokensError,
};
use sesame_users::UserRepository;

use crate::support::{insert_user, now, precise_time, UNKNOWN_USER};

const CAP: usize = sesame_tokens::MAX_PASSKEYS_PER_ACCOUNT;

fn passkey(id: &str, user: UserId, credential_id: &str, at: Timestamp) -> StoredPasskey {
    StoredPasskey {
        id: id.to_owned(),
        user_id: user,
        credential_id: credential_id.to_owned(),
        user_handle: format!("handle-of-{}", user.0),
        name: "Laptop ✓".to_owned(),
        credential: format!(r#"{{"cred_id":"{credential_id}"}}"#),
        counter: 7,
        created_at: at,
        last_used_at: None,
    }
}

fn ceremony(kind: CeremonyKind, user: Option<UserId>, expires_at: Timestamp) -> Ceremony {
    Ceremony {
        kind,
        user_id: user,
        state: r#"{"challenge":"abc"}"#.to_owned(),
        expires_at,
    }
}

contract_tests! {
    fn a_passkey_comes_back_as_stored(db: &Database) {
        let user = insert_user(db, "john", None);
        let stored = passkey("pk-1", user.id, "cred-1", precise_time());
        db.insert_passkey(&stored, CAP).unwrap();
        assert_eq!(db.passkeys_of(user.id).unwrap(), vec![stored.clone()]);
        assert_eq!(db.passkey_by_credential("cred-1").unwrap(), Some(stored));
        assert_eq!(db.passkey_by_credential("cred-2").unwrap(), None);
        assert!(db.passkeys_of(UserId(user.id.0 + 1)).unwrap().is_empty());
    }

    fn a_user_s_passkeys_are_listed_oldest_first(db: &Database) {
        let john = insert_user(db, "john", None);
        let jane = insert_user(db, "jane", None);
        let at = now();
        db.insert_passkey(&passkey("b", john.id, "cred-b", at + Duration::seconds(1)), CAP).unwrap();
        db.insert_passkey(&passkey("a", john.id, "cred-a", at), CAP).unwrap();
        db.insert_passkey(&passkey("c", jane.id, "cred-c", at), CAP).unwrap();
        let ids: Vec<String> = db.passkeys_of(john.id).unwrap().into_iter().map(|p| p.id).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    fn a_credential_is_registered_once(db: &Database) {
        let john = insert_user(db, "john", None);
        let jane = insert_user(db, "jane", None);
        db.insert_passkey(&passkey("pk-1", john.id, "cred-1", now()), CAP).unwrap();
        let again = db.insert_passkey(&passkey("pk-2", jane.id, "cred-1", now()), CAP);
        assert!(matches!(again, Err(TokensError::PasskeyExists)), "{again:?}");
        assert!(db.passkeys_of(jane.id).unwrap().is_empty());
    }

    fn an_account_holds_no_more_than_the_cap(db: &Database) {
        let john = insert_user(db, "john", None);
        let jane = insert_user(db, "jane", None);
        for i in 0..3 {
            db.insert_passkey(&passkey(&format!("pk-{i}"), john.id, &format!("cred-{i}"), now()), 3).unwrap();
        }
        let fourth = db.insert_passkey(&passkey("pk-3", john.id, "cred-3", now()), 3);
        assert!(matches!(fourth, Err(TokensError::TooManyPasskeys(3))), "{fourth:?}");
        assert_eq!(db.passkeys_of(john.id).unwrap().len(), 3);
        db.insert_passkey(&passkey("jane-1", jane.id, "cred-jane", now()), 3).unwrap();
    }

    fn a_passkey_needs_an_existing_account(db: &Database) {
        let orphan = db.insert_passkey(&passkey("pk-1", UNKNOWN_USER, "cred-1", now()), CAP);
        assert!(matches!(orphan, Err(TokensError::Storage(_))), "{orphan:?}");
    }

    fn a_use_is_recorded_only_over_the_counter_seen(db: &Database) {
        let user = insert_user(db, "john", None);
        db.insert_passkey(&passkey("pk-1", user.id, "cred-1", now()), CAP).unwrap();
        let at = precise_time();
        // A racing login that saw an older counter loses.
        assert!(!db.record_passkey_use("pk-1", 6, 9, "{}", at).unwrap());
        assert!(db.record_passkey_use("pk-1", 7, 9, r#"{"counter":9}"#, at).unwrap());
        assert!(!db.record_passkey_use("pk-1", 7, 10, "{}", at).unwrap());
        let used = db.passkey_by_credential("cred-1").unwrap().unwrap();
        assert_eq!(used.counter, 9);
        assert_eq!(used.credential, r#"{"counter":9}"#);
        assert_eq!(used.last_used_at, Some(at));
        assert!(!db.record_passkey_use("nope", 9, 10, "{}", at).unwrap());
    }

    fn the_largest_counter_fits(db: &Database) {
        let user = insert_user(db, "john", None);
        let mut stored = passkey("pk-1", user.id, "cred-1", now());
        stored.counter = u32::MAX;
        db.insert_passkey(&stored, CAP).unwrap();
        assert_eq!(db.passkey_by_credential("cred-1").unwrap().unwrap().counter, u32::MAX);
    }

    fn only_the_owner_deletes_a_passkey(db: &Database) {
        let john = insert_user(db, "john", None);
        let jane = insert_user(db, "jane", None);
        db.insert_passkey(&passkey("pk-1", john.id, "cred-1", now()), CAP).unwrap();
        assert!(!db.delete_passkey(jane.id, "pk-1").unwrap());
        assert_eq!(db.passkeys_of(john.id).unwrap().len(), 1);
        assert!(db.delete_passkey(john.id, "pk-1").unwrap());
        assert!(!db.delete_passkey(john.id, "pk-1").unwrap());
        assert!(db.passkeys_of(john.id).unwrap().is_empty());
    }

    fn deleting_an_account_deletes_its_passkeys_and_ceremonies(db: &Database) {
        let john = insert_user(db, "john", None);
        db.insert_passkey(&passkey("pk-1", john.id, "cred-1", now()), CAP).unwrap();
        let at = now();
        let pending = ceremony(CeremonyKind::Registration, Some(john.id), at + Duration::minutes(5));
        db.put_ceremony("c-1", &pending, at).unwrap();
        UserRepository::delete(db, john.id).unwrap();
        assert_eq!(db.passkey_by_credential("cred-1").unwrap(), None);
        assert_eq!(db.take_ceremony("c-1", at).unwrap(), None);
    }

    fn a_ceremony_is_taken_once(db: &Database) {
        let user = insert_user(db, "john", None);
        let at = now();
        let expires = precise_time() + Duration::days(365 * 100);
        let registration = ceremony(CeremonyKind::Registration, Some(user.id), expires);
        let discoverable = ceremony(CeremonyKind::DiscoverableLogin, None, expires);
        db.put_ceremony("c-1", &registration, at).unwrap();
        db.put_ceremony("c-2", &discoverable, at).unwrap();
        assert_eq!(db.take_ceremony("c-1", at).unwrap(), Some(registration));
        assert_eq!(db.take_ceremony("c-1", at).unwrap(), None);
        assert_eq!(db.take_ceremony("c-2", at).unwrap(), Some(discoverable));
        assert_eq!(db.take_ceremony("unknown", at).unwrap(), None);
    }

    fn a_lapsed_ceremony_is_not_taken_and_is_swept(db: &Database) {
        let at = now();
        let lapsing = ceremony(CeremonyKind::Login, None, at + Duration::minutes(5));
        db.put_ceremony("c-1", &lapsing, at).unwrap();
        db.put_ceremony("c-2", &lapsing, at).unwrap();
        let later = at + Duration::minutes(6);
        assert_eq!(db.take_ceremony("c-1", later).unwrap(), None);
        // Keeping another ceremony later sweeps the lapsed ones.
        let fresh = ceremony(CeremonyKind::Login, None, later + Duration::minutes(5));
        db.put_ceremony("c-3", &fresh, later).unwrap();
        assert_eq!(db.take_ceremony("c-2", at).unwrap(), None);
        assert_eq!(db.take_ceremony("c-3", later).unwrap(), Some(fresh));
    }
}

/// Two registrations of one account finishing at once on PostgreSQL (which
/// lets both count at once): the second waits for the first, counts its
/// passkey, and stays within the cap.
#[test]
fn a_registration_waits_for_another_finishing_on_the_same_account_on_postgres() {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection};

    let name = "a_registration_waits_for_another_finishing_on_the_same_account_on_postgres";
    crate::support::on_postgres_with_url(name, |db, url| {
        let john = insert_user(db, "john", None).id.0;
        // The other registration holds the account, as `insert_passkey`
        // does, and has written its passkey without committing it.
        let mut other = PgConnection::establish(url).unwrap();
        other
            .batch_execute(&format!(
                "BEGIN; SELECT id FROM users WHERE id = {john} FOR UPDATE; \
                 INSERT INTO passkeys (id, user_id, credential_id, user_handle, name, \
                 credential, counter, created_at) VALUES ('pk-other', {john}, 'cred-other', \
                 'h', 'Other', '{{}}', 0, now());"
            ))
            .unwrap();
        let mine = passkey("pk-mine", UserId(john), "cred-mine", now());
        let outcome = std::thread::scope(|scope| {
            let finish = scope.spawn(|| db.insert_passkey(&mine, 1));
            std::thread::sleep(std::time::Duration::from_millis(500));
            other.batch_execute("COMMIT").unwrap();
            finish.join().unwrap()
        });
        assert!(
            matches!(outcome, Err(TokensError::TooManyPasskeys(1))),
            "{outcome:?}"
        );
        assert_eq!(db.passkeys_of(UserId(john)).unwrap().len(), 1);
    });
}
