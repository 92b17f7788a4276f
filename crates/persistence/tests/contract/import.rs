//! Imported accounts (`import_batch`) on both backends.

use sesame_kernel::UserId;
use sesame_persistence::{ExportedAccount, ImportOutcome};
use sesame_tokens::{MfaRepository, PasskeyRepository, StoredPasskey};
use sesame_users::{ImportedAccount, UserRepository};

use crate::support::new_user;

/// The highest id an import keeps: 2^31 - 1.
const MAX_KEPT_ID: i64 = 2_147_483_647;

fn account(name: &str, id: i64) -> ImportedAccount {
    ImportedAccount {
        source_ref: format!("id {id}"),
        id: Some(UserId(id)),
        user: new_user(name, None),
        last_login: None,
        deactivated_by_admin: false,
        made_here: false,
    }
}

contract_tests! {
    fn kept_ids_above_the_cap_are_refused_and_sign_ups_go_on(db: &Database) {
        let batch = [
            account("highest", i64::MAX),
            account("above", MAX_KEPT_ID + 1),
            account("at_the_cap", MAX_KEPT_ID),
        ];
        let outcomes = db.import_batch(&batch, true, false).unwrap();
        assert_eq!(
            outcomes,
            [
                ImportOutcome::Refused(format!("id {} is above {MAX_KEPT_ID}, the highest kept", i64::MAX)),
                ImportOutcome::Refused(format!("id {} is above {MAX_KEPT_ID}, the highest kept", MAX_KEPT_ID + 1)),
                ImportOutcome::Imported(UserId(MAX_KEPT_ID)),
            ]
        );
        db.move_id_sequence().unwrap();
        let signed_up = db.insert(&new_user("later", None)).unwrap();
        assert_eq!(signed_up.id, UserId(MAX_KEPT_ID + 1));
        // Without keeping ids, the source's id is not used at all.
        let outcomes = db.import_batch(&[account("fresh", i64::MAX)], false, false).unwrap();
        assert_eq!(outcomes, [ImportOutcome::Imported(UserId(MAX_KEPT_ID + 2))]);
    }

    fn the_export_reads_by_key_so_a_deletion_meanwhile_drops_no_one(db: &Database) {
        let turned_off = ImportedAccount { deactivated_by_admin: true, ..account("carol", 3) };
        let batch = [account("alice", 1), account("bob", 2), turned_off];
        db.import_batch(&batch, true, false).unwrap();
        let names = |page: &[ExportedAccount]| -> Vec<(String, bool)> {
            page.iter().map(|a| (a.user.username.clone(), a.deactivated_by_admin)).collect()
        };
        let first = db.export_page(UserId(0), 2).unwrap();
        assert_eq!(names(&first), [("alice".to_owned(), false), ("bob".to_owned(), false)]);
        // Alice is deleted before the next page is read.
        db.delete(UserId(1)).unwrap();
        let next = db.export_page(first[1].user.id, 2).unwrap();
        assert_eq!(names(&next), [("carol".to_owned(), true)]);
        assert!(db.export_page(UserId(3), 2).unwrap().is_empty());
    }

    fn a_sign_up_during_or_after_an_import_cut_short_gets_a_fresh_id(db: &Database) {
        // No move_id_sequence: the import stopped (or is still running).
        db.import_batch(&[account("a", 1), account("b", 2)], true, false).unwrap();
        let signed_up = db.insert(&new_user("later", None)).unwrap();
        assert_eq!(signed_up.id, UserId(3));
        // A dry run moves nothing.
        db.import_batch(&[account("c", 100)], true, true).unwrap();
        assert_eq!(db.insert(&new_user("next", None)).unwrap().id, UserId(4));
    }

    fn a_kept_id_a_deleted_account_had_is_not_given_out_again(db: &Database) {
        // However it was deleted: the audit log may file an admin's deletion
        // under the admin's id alone.
        let doomed = db.insert(&new_user("doomed", None)).unwrap();
        db.delete(doomed.id).unwrap();
        let batch = [account("other", doomed.id.0), account("new", 7)];
        let outcomes = db.import_batch(&batch, true, false).unwrap();
        let refused = format!("id {} belonged to an account since deleted", doomed.id.0);
        assert_eq!(outcomes, [ImportOutcome::Refused(refused.clone()), ImportOutcome::Imported(UserId(7))]);
        // An imported account deleted in its turn leaves its id behind too.
        db.delete(UserId(7)).unwrap();
        let again = db.import_batch(&[account("new", 7)], true, false).unwrap();
        assert_eq!(again, [ImportOutcome::Refused("id 7 belonged to an account since deleted".to_owned())]);
    }

    fn an_account_clashes_with_one_before_it_in_its_batch_as_with_a_stored_one(db: &Database) {
        let with_email = |name: &str, id: i64, mail: &str| ImportedAccount {
            user: new_user(name, Some(mail)),
            ..account(name, id)
        };
        db.insert(&new_user("stored", Some("stored@example.com"))).unwrap();
        let batch = [
            with_email("first", 10, "first@example.com"),
            account("FIRST", 11),
            with_email("second", 12, "First@Example.com"),
            account("third", 10),
            account("first@example.com", 13),
            with_email("fourth", 14, "STORED@example.com"),
            account("last", 15),
        ];
        let outcomes = db.import_batch(&batch, true, false).unwrap();
        assert_eq!(
            outcomes,
            [
                ImportOutcome::Imported(UserId(10)),
                ImportOutcome::Refused(
                    "username FIRST is another account's, first: they differ only in case or form".to_owned()
                ),
                // Two accounts of the old system shared an address.
                ImportOutcome::Refused("email is another account's, first".to_owned()),
                ImportOutcome::Refused("id 10 is taken".to_owned()),
                ImportOutcome::Refused("username is another account's email".to_owned()),
                // Someone signed up with it: maybe not the person imported.
                ImportOutcome::Refused("email is taken by an account made here, not imported".to_owned()),
                ImportOutcome::Imported(UserId(15)),
            ]
        );
        // The same batch again: what it wrote is skipped, the sign-up refused.
        let again = db.import_batch(&batch, true, false).unwrap();
        assert_eq!(again[0], ImportOutcome::Skipped("username first is already there".to_owned()));
        assert_eq!(again[5], outcomes[5]);
        assert!(!again.iter().any(|outcome| matches!(outcome, ImportOutcome::Imported(_))), "{again:?}");
    }

    fn a_batch_mixing_kept_and_fresh_ids_goes_in_whole_dry_run_or_not(db: &Database) {
        db.import_batch(&[account("stored", 4)], true, false).unwrap();
        let fresh = ImportedAccount { id: None, ..account("fresh", 0) };
        let batch = [fresh, account("kept", 5)];
        for dry_run in [true, false] {
            let outcomes = db.import_batch(&batch, true, dry_run).unwrap();
            let Some(ImportOutcome::Imported(fresh_id)) = outcomes.first() else {
                panic!("dry run {dry_run}: {outcomes:?}");
            };
            assert!(fresh_id.0 > 5, "dry run {dry_run}: {outcomes:?}");
            assert_eq!(outcomes[1], ImportOutcome::Imported(UserId(5)), "dry run {dry_run}");
            if !dry_run {
                // The dry run used up no id of the sequence.
                assert_eq!(*fresh_id, UserId(6));
            }
        }
    }

    fn an_account_made_on_another_sesame_keeps_its_mark(db: &Database) {
        // Moved with `sesame export`: still not the old system's account.
        let moved = ImportedAccount { made_here: true, ..account("native", 1) };
        assert_eq!(db.import_batch(std::slice::from_ref(&moved), false, false).unwrap(), [ImportOutcome::Imported(UserId(1))]);
        let legacy = db.import_batch(&[account("native", 2)], false, false).unwrap();
        let refused = "username native is taken by an account made here, not imported";
        assert_eq!(legacy, [ImportOutcome::Refused(refused.to_owned())]);
        // The same export imported again finds it there; another Sesame's
        // sign-up of the same name, joined at another time, is someone else.
        let again = db.import_batch(std::slice::from_ref(&moved), false, false).unwrap();
        assert_eq!(again, [ImportOutcome::Skipped("username native is already there".to_owned())]);
        let mut elsewhere = ImportedAccount { id: Some(UserId(3)), ..moved };
        elsewhere.user.date_joined += chrono::Duration::seconds(1);
        let elsewhere = db.import_batch(&[elsewhere], false, false).unwrap();
        assert_eq!(elsewhere, [ImportOutcome::Refused(refused.to_owned())]);
        // A sign-up's record meeting an imported account is someone else too.
        db.import_batch(&[account("legacy", 4)], false, false).unwrap();
        let signed_up = ImportedAccount { made_here: true, ..account("legacy", 5) };
        let signed_up = db.import_batch(&[signed_up], false, false).unwrap();
        let refused = "username legacy is taken by an imported account, and this record is a sign-up's";
        assert_eq!(signed_up, [ImportOutcome::Refused(refused.to_owned())]);
        assert!(db.export_page(UserId(0), 10).unwrap()[0].made_here);
    }

    fn a_name_someone_signed_up_with_is_refused_not_skipped(db: &Database) {
        db.insert(&new_user("alice", Some("alice@example.com"))).unwrap();
        let batch = [
            account("alice", 1),
            ImportedAccount { user: new_user("alicia", Some("Alice@Example.com")), ..account("alicia", 2) },
        ];
        let outcomes = db.import_batch(&batch, false, false).unwrap();
        assert_eq!(
            outcomes,
            [
                ImportOutcome::Refused("username alice is taken by an account made here, not imported".to_owned()),
                ImportOutcome::Refused("email is taken by an account made here, not imported".to_owned()),
            ]
        );
    }

    fn the_export_tells_who_has_a_second_factor(db: &Database) {
        let batch = [account("totp", 1), account("pending", 2), account("passkey", 3), account("none", 4)];
        db.import_batch(&batch, true, false).unwrap();
        db.save_pending_totp(UserId(1), "sealed").unwrap();
        assert!(db.confirm_totp(UserId(1), "sealed", 1, &[]).unwrap());
        // A setup not confirmed is no second factor.
        db.save_pending_totp(UserId(2), "sealed").unwrap();
        let at = sesame_kernel::Clock::now(&sesame_kernel::SystemClock);
        db.insert_passkey(&StoredPasskey {
            id: "pk".into(),
            user_id: UserId(3),
            credential_id: "cred".into(),
            user_handle: "handle".into(),
            name: "Laptop".into(),
            credential: "{}".into(),
            counter: 0,
            created_at: at,
            last_used_at: None,
        }, 1)
        .unwrap();
        let flags: Vec<(String, bool)> = db.export_page(UserId(0), 10).unwrap().into_iter()
            .map(|a| (a.user.username, a.second_factor))
            .collect();
        let want = [("totp", true), ("pending", false), ("passkey", true), ("none", false)];
        assert_eq!(flags, want.map(|(name, flag)| (name.to_owned(), flag)));
    }
}

/// A sign-up that commits a name of the batch after the batch looked it up
/// (PostgreSQL lets both look at once): the batch is written again, and that
/// account refused (someone signed up with it); the rest of the batch goes in.
#[test]
fn a_sign_up_racing_a_batch_on_postgres_leaves_the_batch_written() {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection};

    let name = "a_sign_up_racing_a_batch_on_postgres_leaves_the_batch_written";
    crate::support::on_postgres_with_url(name, |db, url| {
        // The sign-up's row is written but not committed: the batch sees no
        // clash, and its insert waits on the unique index.
        let mut sign_up = PgConnection::establish(url).unwrap();
        sign_up
            .batch_execute(
                "BEGIN; INSERT INTO users (username, username_key, first_name, last_name, \
                 is_active, is_staff, date_joined, password_hash, deactivated_by_admin, made_here) \
                 VALUES ('racer', 'racer', '', '', TRUE, FALSE, now(), 'x', FALSE, TRUE);",
            )
            .unwrap();
        let batch = [account("first", 1), account("racer", 2), account("last", 3)];
        let outcomes = std::thread::scope(|scope| {
            let import = scope.spawn(|| db.import_batch(&batch, false, false));
            std::thread::sleep(std::time::Duration::from_millis(500));
            sign_up.batch_execute("COMMIT").unwrap();
            import.join().unwrap()
        });
        let outcomes = outcomes.expect("the batch is written despite the sign-up");
        assert!(matches!(outcomes[0], ImportOutcome::Imported(_)));
        assert_eq!(
            outcomes[1],
            ImportOutcome::Refused(
                "username racer is taken by an account made here, not imported".to_owned()
            )
        );
        assert!(matches!(outcomes[2], ImportOutcome::Imported(_)));
    });
}

/// The migration that keeps deleted accounts' ids, applied to a database
/// whose deletions only the audit log remembers: the account's own (filed
/// under its id) and an admin's (filed under the admin's, naming the id).
mod keeping_deleted_ids {
    use sesame_kernel::audit::{Actor, AuditEvent, AuditLog};
    use sesame_persistence::Database;

    use super::*;
    use crate::support::{now, on_postgres_reapplying, on_sqlite_reapplying};

    /// The version of the migration that keeps them (`…_deleted_user_ids`).
    const KEEPING: &str = "20241002000100";

    fn learns_them_from_the_audit_log(url: &str, reapply: &dyn Fn()) {
        let (own, by_admin) = {
            let db = Database::connect(url, 2).unwrap();
            db.migrate().unwrap();
            let admin = db.insert(&new_user("admin", None)).unwrap();
            let own = db.insert(&new_user("own", None)).unwrap();
            let by_admin = db.insert(&new_user("by_admin", None)).unwrap();
            let entries = [
                ("account_deleted", own.id, format!("user {}", own.id)),
                (
                    "admin_deleted_user",
                    admin.id,
                    format!("user {}", by_admin.id),
                ),
                // A name that is not an id teaches nothing.
                ("admin_deleted_user", admin.id, "user carol".to_owned()),
            ];
            for (kind, user, detail) in entries {
                let entry =
                    AuditEvent::new(kind, Some(user), &Actor::default(), now(), Some(detail));
                db.record(&entry).unwrap();
            }
            db.delete(own.id).unwrap();
            db.delete(by_admin.id).unwrap();
            (own.id, by_admin.id)
        };
        // The table is dropped, and made again from the audit log.
        reapply();
        let db = Database::connect(url, 2).unwrap();
        let batch = [
            account("a", own.0),
            account("b", by_admin.0),
            account("c", 50),
        ];
        let outcomes = db.import_batch(&batch, true, false).unwrap();
        let deleted = |id: UserId| {
            ImportOutcome::Refused(format!("id {} belonged to an account since deleted", id.0))
        };
        assert_eq!(
            outcomes,
            [
                deleted(own),
                deleted(by_admin),
                ImportOutcome::Imported(UserId(50))
            ]
        );
    }

    #[test]
    fn on_sqlite() {
        on_sqlite_reapplying(KEEPING, learns_them_from_the_audit_log);
    }

    #[test]
    fn on_postgres() {
        let name = "keeping_deleted_ids::on_postgres";
        on_postgres_reapplying(name, KEEPING, learns_them_from_the_audit_log);
    }
}
