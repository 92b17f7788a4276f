//! `UserRepository` on both backends.

use chrono::Duration;
use sesame_kernel::Page;
use sesame_persistence::{Backend, Database};
use sesame_tokens::{Listing, SessionRepository};
use sesame_users::{ProfileChanges, UserRepository, UsersError};

use crate::support::{
    email, insert_user, jwt_session, new_user, now, precise_time, username, UNKNOWN_USER,
};

/// Runs raw SQL, to store rows as an older version would have.
fn execute(db: &Database, sql: &str) {
    use diesel::connection::SimpleConnection;
    match db.backend() {
        Backend::Sqlite(pool) => pool.get().unwrap().batch_execute(sql),
        Backend::Postgres(pool) => pool.get().unwrap().batch_execute(sql),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

contract_tests! {
    fn keys_stored_under_the_old_rule_are_recomputed_at_start(db: &Database) {
        let root = insert_user(db, "root", Some("root@example.com"));
        // Keys as they were (lowercase only), and no record of the rule.
        execute(db, "INSERT INTO users (username, username_key, email, email_key, date_joined, password_hash) VALUES
            ('ｒｏｏｔ', 'ｒｏｏｔ', NULL, NULL, '2024-01-01 00:00:00', 'x'),
            ('ＡＤＭＩＮ', 'ａｄｍｉｎ', 'Admin@ＥXAMPLE.com', 'admin@ｅxample.com', '2024-01-01 00:00:00', 'x'),
            ('mover', 'mover', 'Mover@XN--BCHER-KVA.example', 'mover@xn--bcher-kva.example', '2024-01-01 00:00:00', 'x');
            DELETE FROM key_rules;");
        let look_alike = db.find_by_username("ｒｏｏｔ").unwrap().unwrap();
        assert_eq!(look_alike.id, root.id, "lookups already use the new rule");
        let old_admin = db.find_by_username("admin").unwrap();
        assert_eq!(old_admin, None, "the stored key is still the old one");

        db.migrate().unwrap();

        let admin = db.find_by_username("admin").unwrap().expect("rekeyed");
        assert_eq!(admin.username, "ＡＤＭＩＮ");
        assert_eq!(db.find_by_username("ａｄｍｉｎ").unwrap().map(|u| u.id), Some(admin.id));
        assert_eq!(db.find_by_email("admin@example.com").unwrap().map(|u| u.id), Some(admin.id));
        // A punycode domain is keyed as it reads (rule 2).
        let mover = db.find_by_email("mover@bücher.example").unwrap().expect("rekeyed");
        assert_eq!(mover.username, "mover");
        // The look-alike of root kept its row and its old key.
        assert_eq!(db.find_by_username("root").unwrap().map(|u| u.id), Some(root.id));
        assert_eq!(db.list(Page { skip: 0, limit: 10 }).unwrap().len(), 4);
        // A second start changes nothing.
        db.migrate().unwrap();
        assert_eq!(db.find_by_username("admin").unwrap().map(|u| u.id), Some(admin.id));
    }

    fn insert_returns_the_stored_account(db: &Database) {
        let mut account = new_user("JohnDoe", Some("John.Doe@Example.COM"));
        account.first_name = "John".to_owned();
        account.last_name = "Doe".to_owned();
        account.is_staff = true;
        account.is_active = false;
        account.date_joined = precise_time();

        let stored = db.insert(&account).unwrap();

        assert!(stored.id.0 > 0);
        assert_eq!(stored.username, "JohnDoe");
        assert_eq!(stored.email.as_deref(), Some("John.Doe@Example.COM"));
        assert_eq!(stored.first_name, "John");
        assert_eq!(stored.last_name, "Doe");
        assert_eq!(stored.avatar, None);
        assert!(!stored.is_active);
        assert!(stored.is_staff);
        assert_eq!(stored.date_joined, precise_time());
        assert_eq!(stored.last_login, None);
        assert_eq!(stored.password_hash, "hash-of-JohnDoe");
        assert_eq!(db.find_by_id(stored.id).unwrap(), Some(stored));
    }

    fn lookups_ignore_case_and_keep_the_stored_case(db: &Database) {
        let stored = insert_user(db, "JohnDoe", Some("John.Doe@Example.COM"));
        let accented = insert_user(db, "Élodie", Some("Elodie@Exémple.fr"));

        for name in ["JohnDoe", "johndoe", "JOHNDOE", "jOhNdOe"] {
            assert_eq!(db.find_by_username(name).unwrap().as_ref(), Some(&stored), "{name}");
        }
        for mail in ["John.Doe@Example.COM", "john.doe@example.com", " JOHN.DOE@EXAMPLE.COM "] {
            assert_eq!(db.find_by_email(mail).unwrap().as_ref(), Some(&stored), "{mail:?}");
        }
        // Case folding is Unicode's, not only ASCII's.
        assert_eq!(db.find_by_username("ÉLODIE").unwrap().as_ref(), Some(&accented));
        assert_eq!(db.find_by_email("elodie@EXÉMPLE.fr").unwrap().as_ref(), Some(&accented));
        // And compatibility forms are their plain letters.
        assert_eq!(db.find_by_username("ｊｏｈｎｄｏｅ").unwrap().as_ref(), Some(&stored));
        assert_eq!(db.find_by_username("ᴶᴼᴴᴺᴰᴼᴱ").unwrap().as_ref(), Some(&stored));
        assert_eq!(db.find_by_email("john.doe@ｅxample.com").unwrap().as_ref(), Some(&stored));

        let found = db.find_by_username("johndoe").unwrap().unwrap();
        assert_eq!(found.username, "JohnDoe");
        assert_eq!(found.email.as_deref(), Some("John.Doe@Example.COM"));

        assert_eq!(db.find_by_username("JaneDoe").unwrap(), None);
        assert_eq!(db.find_by_email("jane@example.com").unwrap(), None);
        assert_eq!(db.find_by_email("").unwrap(), None);
        assert_eq!(db.find_by_id(UNKNOWN_USER).unwrap(), None);
    }

    fn timestamps_round_trip_to_the_microsecond(db: &Database) {
        let joined = now();
        let mut account = new_user("clock", None);
        account.date_joined = joined;
        let stored = db.insert(&account).unwrap();
        assert_eq!(stored.date_joined, joined);

        let exact = precise_time();
        db.record_login(stored.id, exact).unwrap();
        let found = db.find_by_id(stored.id).unwrap().unwrap();
        assert_eq!(found.date_joined, joined);
        assert_eq!(found.last_login, Some(exact));

        // A time on a whole second, and one a microsecond later.
        let whole = exact - Duration::microseconds(987_654);
        db.record_login(stored.id, whole).unwrap();
        assert_eq!(db.find_by_id(stored.id).unwrap().unwrap().last_login, Some(whole));
        let later = whole + Duration::microseconds(1);
        db.record_login(stored.id, later).unwrap();
        assert_eq!(db.find_by_id(stored.id).unwrap().unwrap().last_login, Some(later));
    }

    fn a_username_taken_in_another_case_is_refused(db: &Database) {
        insert_user(db, "JohnDoe", Some("john@example.com"));

        for name in ["JohnDoe", "johndoe", "JOHNDOE"] {
            let again = db.insert(&new_user(name, Some("other@example.com")));
            assert!(matches!(again, Err(UsersError::UsernameTaken)), "{name}: {again:?}");
        }
        assert_eq!(db.list(Page::default()).unwrap().len(), 1);
    }

    fn an_email_taken_in_another_case_is_refused(db: &Database) {
        insert_user(db, "john", Some("John@Example.com"));

        for mail in ["John@Example.com", "john@example.com", "JOHN@EXAMPLE.COM"] {
            let again = db.insert(&new_user("jane", Some(mail)));
            assert!(matches!(again, Err(UsersError::EmailTaken)), "{mail}: {again:?}");
        }
        assert_eq!(db.find_by_username("jane").unwrap(), None);
    }

    fn many_accounts_may_have_no_email(db: &Database) {
        let ids: Vec<_> = ["one", "two", "three"]
            .iter()
            .map(|name| insert_user(db, name, None).id)
            .collect();
        for id in ids {
            assert_eq!(db.find_by_id(id).unwrap().unwrap().email, None);
        }
        assert_eq!(db.list(Page::default()).unwrap().len(), 3);
    }

    fn list_pages_in_id_order(db: &Database) {
        let ids: Vec<_> = ["delta", "alpha", "echo", "charlie", "bravo"]
            .iter()
            .map(|name| insert_user(db, name, None).id)
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "ids grow in insertion order");

        let listed = |skip, limit| -> Vec<_> {
            db.list(Page::new(Some(skip), Some(limit)))
                .unwrap()
                .into_iter()
                .map(|u| u.id)
                .collect()
        };
        assert_eq!(listed(0, 100), ids);
        assert_eq!(listed(0, 2), ids[..2]);
        assert_eq!(listed(1, 2), ids[1..3]);
        assert_eq!(listed(3, 100), ids[3..]);
        assert_eq!(listed(5, 10), Vec::new());
        assert_eq!(listed(50, 10), Vec::new());

        let names: Vec<_> = db
            .list(Page::default())
            .unwrap()
            .into_iter()
            .map(|u| u.username)
            .collect();
        assert_eq!(names, ["delta", "alpha", "echo", "charlie", "bravo"]);
    }

    fn update_profile_changes_only_what_is_given(db: &Database) {
        let user = insert_user(db, "john", Some("john@example.com"));

        let renamed = db
            .update_profile(
                user.id,
                &ProfileChanges {
                    first_name: Some("John".to_owned()),
                    ..ProfileChanges::default()
                },
            )
            .unwrap()
            .user;
        assert_eq!(renamed.first_name, "John");
        assert_eq!(renamed.last_name, "");
        assert_eq!(renamed.email.as_deref(), Some("john@example.com"));

        let changed = db
            .update_profile(
                user.id,
                &ProfileChanges {
                    last_name: Some("Doe".to_owned()),
                    email: Some(Some(email("John.Doe@Example.org"))),
                    avatar: Some(Some("avatars/john.png".to_owned())),
                    ..ProfileChanges::default()
                },
            )
            .unwrap();
        assert_eq!(changed.replaced_avatar, None, "there was none");
        let changed = changed.user;
        assert_eq!(changed.first_name, "John");
        assert_eq!(changed.last_name, "Doe");
        assert_eq!(changed.email.as_deref(), Some("John.Doe@Example.org"));
        assert_eq!(changed.avatar.as_deref(), Some("avatars/john.png"));
        assert_eq!(changed.username, "john");
        assert_eq!(changed.password_hash, user.password_hash);
        assert_eq!(changed.date_joined, user.date_joined);
        assert_eq!(db.find_by_id(user.id).unwrap().as_ref(), Some(&changed));

        // The new address is the one looked up; the old one is free again.
        assert_eq!(db.find_by_email("john.doe@example.org").unwrap().map(|u| u.id), Some(user.id));
        assert_eq!(db.find_by_email("john@example.com").unwrap(), None);
        insert_user(db, "other", Some("JOHN@example.com"));

        // Nothing to change: the account as it is.
        let unchanged = db.update_profile(user.id, &ProfileChanges::default()).unwrap();
        assert_eq!(unchanged.user, changed);
        assert_eq!(unchanged.replaced_avatar, None);
    }

    fn update_profile_may_recase_its_own_email(db: &Database) {
        let user = insert_user(db, "john", Some("john@example.com"));
        let recased = db
            .update_profile(
                user.id,
                &ProfileChanges {
                    email: Some(Some(email("JOHN@Example.com"))),
                    ..ProfileChanges::default()
                },
            )
            .unwrap()
            .user;
        assert_eq!(recased.email.as_deref(), Some("JOHN@Example.com"));
        assert_eq!(db.find_by_email("john@example.com").unwrap(), Some(recased));
    }

    fn update_profile_refuses_an_email_taken_in_another_case(db: &Database) {
        insert_user(db, "jane", Some("jane@example.com"));
        let john = insert_user(db, "john", Some("john@example.com"));

        let taken = db.update_profile(
            john.id,
            &ProfileChanges {
                first_name: Some("Johnny".to_owned()),
                email: Some(Some(email("Jane@Example.COM"))),
                ..ProfileChanges::default()
            },
        );
        assert!(matches!(taken, Err(UsersError::EmailTaken)), "{taken:?}");
        // Nothing of the refused change was kept.
        assert_eq!(db.find_by_id(john.id).unwrap(), Some(john));
    }

    fn update_profile_clears_email_and_avatar(db: &Database) {
        let user = insert_user(db, "john", Some("john@example.com"));
        db.update_profile(
            user.id,
            &ProfileChanges {
                avatar: Some(Some("avatars/john.png".to_owned())),
                ..ProfileChanges::default()
            },
        )
        .unwrap();

        let cleared = db
            .update_profile(
                user.id,
                &ProfileChanges {
                    email: Some(None),
                    avatar: Some(None),
                    ..ProfileChanges::default()
                },
            )
            .unwrap();
        assert_eq!(cleared.replaced_avatar.as_deref(), Some("avatars/john.png"));
        let cleared = cleared.user;
        assert_eq!(cleared.email, None);
        assert_eq!(cleared.avatar, None);
        assert_eq!(db.find_by_id(user.id).unwrap(), Some(cleared));
        assert_eq!(db.find_by_email("john@example.com").unwrap(), None);

        // The cleared address is free, and a second account without one is fine.
        insert_user(db, "jane", Some("john@example.com"));
        insert_user(db, "jim", None);
    }

    fn update_profile_of_an_unknown_account_is_not_found(db: &Database) {
        for changes in [
            ProfileChanges::default(),
            ProfileChanges {
                first_name: Some("Nobody".to_owned()),
                ..ProfileChanges::default()
            },
            ProfileChanges {
                email: Some(Some(email("nobody@example.com"))),
                ..ProfileChanges::default()
            },
        ] {
            let missing = db.update_profile(UNKNOWN_USER, &changes);
            assert!(matches!(missing, Err(UsersError::NotFound)), "{changes:?}: {missing:?}");
        }
    }

    fn a_respelling_is_never_written_over_an_address_changed_meanwhile(db: &Database) {
        let john = insert_user(db, "john", Some("john@example.com"));
        let moved = ProfileChanges {
            email: Some(Some(email("john@new.example"))),
            ..ProfileChanges::default()
        };
        db.update_profile(john.id, &moved).unwrap();
        // A client that read the address before it moved respells the old one.
        let late = ProfileChanges {
            first_name: Some("John".to_owned()),
            email: Some(Some(email("JOHN@example.com"))),
            email_respelled: true,
            ..ProfileChanges::default()
        };
        let user = db.update_profile(john.id, &late).unwrap().user;
        assert_eq!(user.email.as_deref(), Some("john@new.example"));
        assert_eq!(user.first_name, "John", "the rest of the change is made");
        assert_eq!(db.find_by_email("john@example.com").unwrap(), None);

        let respelled = ProfileChanges {
            email: Some(Some(email("JOHN@new.example"))),
            email_respelled: true,
            ..ProfileChanges::default()
        };
        let user = db.update_profile(john.id, &respelled).unwrap().user;
        assert_eq!(user.email.as_deref(), Some("JOHN@new.example"));
    }

    fn set_username_renames_unless_taken(db: &Database) {
        let john = insert_user(db, "john", None);
        insert_user(db, "Jane", None);

        db.set_username(john.id, &username("Johnny")).unwrap();
        let renamed = db.find_by_username("JOHNNY").unwrap().unwrap();
        assert_eq!(renamed.id, john.id);
        assert_eq!(renamed.username, "Johnny");
        assert_eq!(db.find_by_username("john").unwrap(), None);

        // Its own name in another case is not "taken".
        db.set_username(john.id, &username("JOHNNY")).unwrap();
        assert_eq!(db.find_by_id(john.id).unwrap().unwrap().username, "JOHNNY");

        for taken in ["Jane", "jane", "JANE"] {
            let result = db.set_username(john.id, &username(taken));
            assert!(matches!(result, Err(UsersError::UsernameTaken)), "{taken}: {result:?}");
        }
        assert_eq!(db.find_by_id(john.id).unwrap().unwrap().username, "JOHNNY");

        let missing = db.set_username(UNKNOWN_USER, &username("ghost"));
        assert!(matches!(missing, Err(UsersError::NotFound)), "{missing:?}");
    }

    fn change_password_revokes_the_other_sessions_of_the_account(db: &Database) {
        let at = now();
        let john = insert_user(db, "john", None);
        let jane = insert_user(db, "jane", None);
        for session in [
            jwt_session("john-kept", john.id, at),
            jwt_session("john-other", john.id, at),
            jwt_session("john-old", john.id, at),
            jwt_session("jane-1", jane.id, at),
        ] {
            db.create(&session).unwrap();
        }
        let earlier = at - Duration::hours(1);
        assert!(db.revoke("john-old", earlier).unwrap());

        let changed_at = at + Duration::seconds(5);
        let wrong = db.change_password(john.id, "not-the-hash", "new-hash", None, changed_at);
        assert!(matches!(wrong, Err(UsersError::WrongCurrentPassword)), "{wrong:?}");
        assert_eq!(db.find_by_id(john.id).unwrap().unwrap().password_hash, john.password_hash);
        assert_eq!(db.find("john-other").unwrap().unwrap().revoked_at, None, "nothing revoked");
        db.change_password(john.id, &john.password_hash, "new-hash", Some("john-kept"), changed_at)
            .unwrap();

        assert_eq!(db.find_by_id(john.id).unwrap().unwrap().password_hash, "new-hash");
        assert_eq!(db.find_by_id(jane.id).unwrap().unwrap().password_hash, jane.password_hash);
        let revoked_at = |id: &str| db.find(id).unwrap().unwrap().revoked_at;
        assert_eq!(revoked_at("john-kept"), None);
        assert_eq!(revoked_at("john-other"), Some(changed_at));
        assert_eq!(revoked_at("john-old"), Some(earlier), "an ended session keeps its time");
        assert_eq!(revoked_at("jane-1"), None);

        // Without a session to keep, every one ends.
        db.change_password(john.id, "new-hash", "newer-hash", None, changed_at).unwrap();
        assert_eq!(revoked_at("john-kept"), Some(changed_at));
        assert_eq!(revoked_at("jane-1"), None);
        assert!(db.list_for_user(john.id, Listing::Open, now(), 100).unwrap().is_empty());

        let missing = db.change_password(UNKNOWN_USER, "hash", "hash", None, changed_at);
        assert!(matches!(missing, Err(UsersError::NotFound)), "{missing:?}");
    }

    fn set_flags_sets_the_flags_given(db: &Database) {
        let user = insert_user(db, "john", None);
        let flags = |db: &Database| {
            let user = db.find_by_id(user.id).unwrap().unwrap();
            (user.is_active, user.is_staff)
        };
        assert_eq!(flags(db), (true, false));

        db.set_flags(user.id, Some(false), None).unwrap();
        assert_eq!(flags(db), (false, false));
        db.set_flags(user.id, None, Some(true)).unwrap();
        assert_eq!(flags(db), (false, true));
        db.set_flags(user.id, Some(true), Some(false)).unwrap();
        assert_eq!(flags(db), (true, false));
        db.set_flags(user.id, None, None).unwrap();
        assert_eq!(flags(db), (true, false));

        for (active, staff) in [(Some(true), None), (None, Some(true)), (None, None)] {
            let missing = db.set_flags(UNKNOWN_USER, active, staff);
            assert!(
                matches!(missing, Err(UsersError::NotFound)),
                "{active:?} {staff:?}: {missing:?}"
            );
        }
    }

    fn deactivating_revokes_every_session_of_the_account(db: &Database) {
        let at = now();
        let john = insert_user(db, "john", None);
        let jane = insert_user(db, "jane", None);
        db.create(&jwt_session("john-1", john.id, at)).unwrap();
        db.create(&jwt_session("jane-1", jane.id, at)).unwrap();
        db.set_flags(john.id, None, Some(true)).unwrap();
        assert_eq!(db.list_for_user(john.id, Listing::Open, now(), 100).unwrap().len(), 1, "other flags end nothing");
        db.set_flags(john.id, Some(false), None).unwrap();
        assert!(db.find("john-1").unwrap().unwrap().revoked_at.is_some());
        assert!(db.find("jane-1").unwrap().unwrap().revoked_at.is_none());
    }

    fn record_login_stores_the_time(db: &Database) {
        let john = insert_user(db, "john", None);
        let jane = insert_user(db, "jane", None);
        let at = now();
        db.record_login(john.id, at).unwrap();
        assert_eq!(db.find_by_id(john.id).unwrap().unwrap().last_login, Some(at));
        assert_eq!(db.find_by_id(jane.id).unwrap().unwrap().last_login, None);

        let later = at + Duration::minutes(3);
        db.record_login(john.id, later).unwrap();
        assert_eq!(db.find_by_id(john.id).unwrap().unwrap().last_login, Some(later));
    }

    fn a_rehash_replaces_only_the_hash_that_was_checked(db: &Database) {
        let john = insert_user(db, "john", None);
        let checked = db.find_by_id(john.id).unwrap().unwrap().password_hash;
        let at = now();
        // A reset came first: the login must not write its hash over it.
        db.change_password(john.id, &checked, "reset-hash", None, at).unwrap();
        assert!(!db.record_login_rehashed(john.id, at, &checked, "rehashed", "pbkdf2_sha256").unwrap());
        let stored = db.find_by_id(john.id).unwrap().unwrap();
        assert_eq!((stored.password_hash.as_str(), stored.last_login), ("reset-hash", None));

        assert!(db.record_login_rehashed(john.id, at, "reset-hash", "rehashed", "pbkdf2_sha256").unwrap());
        let stored = db.find_by_id(john.id).unwrap().unwrap();
        assert_eq!((stored.password_hash.as_str(), stored.last_login), ("rehashed", Some(at)));
    }

    fn delete_removes_the_account_and_its_sessions(db: &Database) {
        let at = now();
        let john = insert_user(db, "john", Some("john@example.com"));
        let jane = insert_user(db, "jane", None);
        db.create(&jwt_session("john-1", john.id, at)).unwrap();
        db.create(&jwt_session("john-2", john.id, at)).unwrap();
        db.create(&jwt_session("jane-1", jane.id, at)).unwrap();
        assert!(db.revoke("john-2", at).unwrap());

        db.delete(john.id).unwrap();

        assert_eq!(db.find_by_id(john.id).unwrap(), None);
        assert_eq!(db.find_by_username("john").unwrap(), None);
        assert_eq!(db.find("john-1").unwrap(), None);
        assert_eq!(db.find("john-2").unwrap(), None);
        assert!(db.find("jane-1").unwrap().is_some());
        assert_eq!(db.find_by_id(jane.id).unwrap().map(|u| u.id), Some(jane.id));

        // Its username and email are free again.
        let again = insert_user(db, "John", Some("JOHN@example.com"));
        assert_ne!(again.id, john.id);

        let twice = db.delete(john.id);
        assert!(matches!(twice, Err(UsersError::NotFound)), "{twice:?}");
        let missing = db.delete(UNKNOWN_USER);
        assert!(matches!(missing, Err(UsersError::NotFound)), "{missing:?}");
    }
}
