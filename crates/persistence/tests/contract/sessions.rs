//! `SessionRepository` on both backends.

use chrono::Duration;
use sesame_tokens::{Listing, Revival, SessionKind, SessionRepository};

use crate::support::{insert_user, jwt_session, now, opaque_session, precise_time, UNKNOWN_USER};

contract_tests! {
    fn create_then_find(db: &Database) {
        let user = insert_user(db, "john", None);
        let mut jwt = jwt_session("jwt-1", user.id, precise_time());
        jwt.last_used_at = precise_time() + Duration::microseconds(1);
        let opaque = opaque_session("opaque-1", user.id, "hash-1", now());
        db.create(&jwt).unwrap();
        db.create(&opaque).unwrap();

        // Every field comes back as stored, times to the microsecond.
        assert_eq!(db.find("jwt-1").unwrap().as_ref(), Some(&jwt));
        assert_eq!(db.find("opaque-1").unwrap().as_ref(), Some(&opaque));
        let found = db.find("opaque-1").unwrap().unwrap();
        assert_eq!(found.kind, SessionKind::Opaque);
        assert_eq!(found.refresh_jti, None);
        assert_eq!(found.client.ip, None);

        assert_eq!(db.find_by_token_hash("hash-1").unwrap(), Some(opaque));
        assert_eq!(db.find_by_token_hash("hash-2").unwrap(), None);
        assert_eq!(db.find("nope").unwrap(), None);
    }

    fn many_sessions_may_have_no_token_hash(db: &Database) {
        let user = insert_user(db, "john", None);
        let at = now();
        for i in 0..3 {
            db.create(&jwt_session(&format!("jwt-{i}"), user.id, at)).unwrap();
        }
        assert_eq!(db.list_for_user(user.id, Listing::Open, now(), 100).unwrap().len(), 3);
    }

    fn a_session_needs_an_existing_account(db: &Database) {
        let orphan = db.create(&jwt_session("orphan", UNKNOWN_USER, now()));
        assert!(orphan.is_err(), "{orphan:?}");
        assert_eq!(db.find("orphan").unwrap(), None);
    }

    fn rotate_refresh_swaps_only_the_expected_jti(db: &Database) {
        let user = insert_user(db, "john", None);
        let at = now();
        let session = jwt_session("s", user.id, at);
        db.create(&session).unwrap();
        let later = at + Duration::seconds(30);
        let expires = later + Duration::days(14);

        // A wrong expected id changes nothing.
        assert!(!db.rotate_refresh("s", "s-jti-0", "s-jti-2", expires, later).unwrap());
        assert_eq!(db.find("s").unwrap().as_ref(), Some(&session));

        assert!(db.rotate_refresh("s", "s-jti-1", "s-jti-2", expires, later).unwrap());
        let rotated = db.find("s").unwrap().unwrap();
        assert_eq!(rotated.refresh_jti.as_deref(), Some("s-jti-2"));
        assert_eq!(rotated.expires_at, expires);
        assert_eq!(rotated.last_used_at, later);
        assert_eq!(rotated.created_at, at);
        assert_eq!(rotated.revoked_at, None);

        // The old id is spent.
        let even_later = later + Duration::seconds(30);
        assert!(!db
            .rotate_refresh("s", "s-jti-1", "s-jti-3", even_later, even_later)
            .unwrap());
        assert_eq!(db.find("s").unwrap().as_ref(), Some(&rotated));

        // Unknown sessions, and sessions without a refresh token, never swap.
        assert!(!db.rotate_refresh("nope", "s-jti-2", "x", expires, later).unwrap());
        db.create(&opaque_session("o", user.id, "hash-o", at)).unwrap();
        assert!(!db.rotate_refresh("o", "", "x", expires, later).unwrap());
        assert_eq!(db.find("o").unwrap().unwrap().refresh_jti, None);
    }

    fn rotate_refresh_of_a_revoked_session_fails(db: &Database) {
        let user = insert_user(db, "john", None);
        let at = now();
        db.create(&jwt_session("s", user.id, at)).unwrap();
        assert!(db.revoke("s", at).unwrap());
        let before = db.find("s").unwrap();

        let later = at + Duration::seconds(1);
        assert!(!db
            .rotate_refresh("s", "s-jti-1", "s-jti-2", later + Duration::days(1), later)
            .unwrap());
        assert_eq!(db.find("s").unwrap(), before);
    }

    fn touch_moves_last_use_and_maybe_expiry(db: &Database) {
        let user = insert_user(db, "john", None);
        let at = now();
        let session = opaque_session("o", user.id, "hash-o", at);
        db.create(&session).unwrap();

        let later = at + Duration::minutes(5);
        db.touch("o", later, None).unwrap();
        let touched = db.find("o").unwrap().unwrap();
        assert_eq!(touched.last_used_at, later);
        assert_eq!(touched.expires_at, session.expires_at);
        assert_eq!(touched.created_at, at);

        let even_later = later + Duration::minutes(5);
        let new_expiry = even_later + Duration::hours(1);
        db.touch("o", even_later, Some(new_expiry)).unwrap();
        let touched = db.find("o").unwrap().unwrap();
        assert_eq!(touched.last_used_at, even_later);
        assert_eq!(touched.expires_at, new_expiry);
        assert_eq!(touched.revoked_at, None);

        // Touching a session that does not exist is harmless.
        db.touch("nope", even_later, Some(new_expiry)).unwrap();
        assert_eq!(db.find("nope").unwrap(), None);
    }

    fn revoke_ends_a_live_session_once(db: &Database) {
        let user = insert_user(db, "john", None);
        let at = now();
        db.create(&jwt_session("s", user.id, at)).unwrap();
        db.create(&jwt_session("t", user.id, at)).unwrap();

        let ended = at + Duration::seconds(10);
        assert!(db.revoke("s", ended).unwrap());
        assert_eq!(db.find("s").unwrap().unwrap().revoked_at, Some(ended));
        assert!(!db.revoke("s", ended + Duration::seconds(10)).unwrap());
        assert_eq!(db.find("s").unwrap().unwrap().revoked_at, Some(ended), "the first end counts");
        assert_eq!(db.find("t").unwrap().unwrap().revoked_at, None);
        assert!(!db.revoke("nope", ended).unwrap());
    }

    fn revoke_all_ends_every_live_session_but_one(db: &Database) {
        let at = now();
        let john = insert_user(db, "john", None);
        let jane = insert_user(db, "jane", None);
        for id in ["j1", "j2", "j3", "j4"] {
            db.create(&jwt_session(id, john.id, at)).unwrap();
        }
        db.create(&jwt_session("other", jane.id, at)).unwrap();
        let earlier = at - Duration::minutes(1);
        assert!(db.revoke("j4", earlier).unwrap());

        let ended = at + Duration::seconds(1);
        assert_eq!(db.revoke_all(john.id, Some("j1"), ended).unwrap(), 2);
        let revoked_at = |id: &str| db.find(id).unwrap().unwrap().revoked_at;
        assert_eq!(revoked_at("j1"), None);
        assert_eq!(revoked_at("j2"), Some(ended));
        assert_eq!(revoked_at("j3"), Some(ended));
        assert_eq!(revoked_at("j4"), Some(earlier));
        assert_eq!(revoked_at("other"), None);

        let later = ended + Duration::seconds(1);
        assert_eq!(db.revoke_all(john.id, None, later).unwrap(), 1);
        assert_eq!(revoked_at("j1"), Some(later));
        assert_eq!(db.revoke_all(john.id, None, later).unwrap(), 0);
        assert_eq!(revoked_at("other"), None);
        assert_eq!(db.revoke_all(UNKNOWN_USER, None, later).unwrap(), 0);
    }

    fn list_for_user_puts_the_newest_use_first_and_skips_revoked_and_expired(db: &Database) {
        let at = precise_time();
        let john = insert_user(db, "john", None);
        let jane = insert_user(db, "jane", None);
        // Uses a microsecond apart, a second apart, and on a whole second.
        let whole_second = at - Duration::microseconds(987_654);
        let uses = [
            ("a", at),
            ("b", at + Duration::microseconds(1)),
            ("c", at + Duration::seconds(1)),
            ("d", whole_second),
            ("e", at - Duration::days(1)),
            ("revoked", at + Duration::days(1)),
        ];
        for (id, used) in uses {
            let mut session = jwt_session(id, john.id, at - Duration::days(2));
            session.last_used_at = used;
            db.create(&session).unwrap();
        }
        db.create(&jwt_session("jane's", jane.id, at + Duration::days(2))).unwrap();
        assert!(db.revoke("revoked", at).unwrap());
        // Over, though last used after every other: it takes no slot.
        let mut expired = jwt_session("expired", john.id, at - Duration::days(20));
        expired.last_used_at = at + Duration::days(3);
        db.create(&expired).unwrap();

        let listed: Vec<_> = db
            .list_for_user(john.id, Listing::Open, at, 100)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(listed, ["c", "b", "a", "d", "e"]);
        let newest: Vec<_> = db.list_for_user(john.id, Listing::Open, at, 2).unwrap().into_iter().map(|s| s.id).collect();
        assert_eq!(newest, ["c", "b"], "at most the limit, the newest open ones");

        // A touch moves a session to the front.
        db.touch("e", at + Duration::seconds(2), None).unwrap();
        let first = db.list_for_user(john.id, Listing::Open, at, 100).unwrap().remove(0);
        assert_eq!(first.id, "e");

        assert!(db.list_for_user(UNKNOWN_USER, Listing::Open, at, 100).unwrap().is_empty());

        // Only the revivable ones: older than every other, still listed.
        let mut old = opaque_session("opaque", john.id, "hash-of-opaque", at - Duration::days(2));
        old.last_used_at = at - Duration::days(2);
        db.create(&old).unwrap();
        let revivable: Vec<_> = db
            .list_for_user(john.id, Listing::Revivable, at, 2)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(revivable, ["opaque"]);
    }

    fn a_lapsed_opaque_session_is_listed_only_if_re_authenticating_may_revive_it(db: &Database) {
        let at = precise_time();
        let john = insert_user(db, "john", None);
        // Both lapsed an hour ago: seed 002's token, and a page's session.
        let seeds = opaque_session("seeds", john.id, "hash-seeds", at - Duration::hours(2));
        let mut page = opaque_session("page", john.id, "hash-page", at - Duration::hours(2));
        page.revival = Revival::Never;
        db.create(&seeds).unwrap();
        db.create(&page).unwrap();
        assert_eq!(db.find("page").unwrap().as_ref(), Some(&page));
        assert_eq!(db.find("seeds").unwrap().as_ref(), Some(&seeds));
        // A live one is listed whatever its revival.
        let mut live = opaque_session("live", john.id, "hash-live", at);
        live.revival = Revival::Never;
        db.create(&live).unwrap();

        let listed = |which| -> Vec<_> {
            db.list_for_user(john.id, which, at, 100).unwrap().into_iter().map(|s| s.id).collect()
        };
        assert_eq!(listed(Listing::Open), ["live", "seeds"]);
        // Re-authenticating brings back only seed 002's token, not the page's.
        assert_eq!(listed(Listing::Revivable), ["seeds"]);
        let mut live_seeds = opaque_session("live seeds", john.id, "hash-live-seeds", at);
        live_seeds.last_used_at = at + Duration::seconds(1);
        db.create(&live_seeds).unwrap();
        db.create(&opaque_session("ended", john.id, "hash-ended", at)).unwrap();
        assert!(db.revoke("ended", at).unwrap());
        assert_eq!(listed(Listing::Revivable), ["live seeds", "seeds"]);
    }
}
