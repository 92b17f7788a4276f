//! The purge: rows that ended before the cutoff go, in batches; live and
//! recent ones stay.

use chrono::Duration;
use sesame_kernel::secrets::token_hash;
use sesame_kernel::Timestamp;
use sesame_persistence::{Database, Purged};
use sesame_tokens::SessionRepository;
use sesame_users::{
    AccountTokenStore, MailCap, MailQueue, NewEmail, OutgoingEmail, TokenEffect, TokenGrant,
    TokenPurpose, UserRepository, MAIL_CAP_WINDOW,
};

use crate::support::{insert_user, jwt_session, new_user, now, opaque_session};

fn grant(purpose: TokenPurpose, token: &str, created: Timestamp, expires: Timestamp) -> TokenGrant {
    TokenGrant {
        purpose,
        token_hash: token_hash(token),
        created_at: created,
        expires_at: expires,
    }
}

fn email(text: &str, at: Timestamp) -> NewEmail {
    NewEmail::new(
        OutgoingEmail {
            to: "a@example.com".to_owned(),
            subject: "Subject".to_owned(),
            text: text.to_owned(),
        },
        at,
    )
}

fn session_ids(db: &Database, ids: &[&str]) -> Vec<String> {
    ids.iter()
        .filter(|id| db.find(id).unwrap().is_some())
        .map(|id| (*id).to_owned())
        .collect()
}

contract_tests! {
    fn ended_rows_older_than_the_cutoff_go_and_the_rest_stay(db: &Database) {
        let at = now();
        let cutoff = at - Duration::days(7);
        let alice = insert_user(db, "alice", Some("alice@example.com"));

        // Sessions: JWT and opaque, expired or revoked long ago, recently, or live.
        let mut expired_long_ago = jwt_session("expired-old", alice.id, at - Duration::days(30));
        expired_long_ago.expires_at = at - Duration::days(10);
        db.create(&expired_long_ago).unwrap();
        let mut opaque_old = opaque_session("opaque-old", alice.id, "hash-old", at - Duration::days(9));
        opaque_old.expires_at = at - Duration::days(9);
        db.create(&opaque_old).unwrap();
        db.create(&jwt_session("revoked-old", alice.id, at - Duration::days(12))).unwrap();
        db.revoke("revoked-old", at - Duration::days(8)).unwrap();
        let mut expired_recently = jwt_session("expired-recent", alice.id, at - Duration::days(20));
        expired_recently.expires_at = at - Duration::days(1);
        db.create(&expired_recently).unwrap();
        db.create(&jwt_session("revoked-recent", alice.id, at - Duration::days(3))).unwrap();
        db.revoke("revoked-recent", at - Duration::days(2)).unwrap();
        db.create(&jwt_session("live", alice.id, at)).unwrap();
        db.create(&opaque_session("opaque-live", alice.id, "hash-live", at)).unwrap();

        // One-time tokens: expired long ago, used long ago, fresh.
        let email_at = at - Duration::days(10);
        // (Issuing a token drops that account's expired ones: the expired
        // one belongs to an account that gets no fresh token.)
        let mut inactive = new_user("bob", Some("bob@example.com"));
        inactive.is_active = false;
        let bob = db.insert(&inactive).unwrap();
        db.issue_token(bob.id, &grant(TokenPurpose::PasswordReset, "expired", email_at, email_at + Duration::hours(1)), &[email("expired", email_at)]).unwrap();
        db.issue_token(alice.id, &grant(TokenPurpose::PasswordReset, "fresh", at, at + Duration::hours(1)), &[email("fresh", at)]).unwrap();
        db.issue_token(bob.id, &grant(TokenPurpose::Activation, "used", email_at, at + Duration::days(1)), &[]).unwrap();
        let used = db.find_token(&token_hash("used")).unwrap().unwrap();
        assert!(db.use_token(&used, &TokenEffect::Activate, at - Duration::days(8)).unwrap());

        // Emails: sent long ago, sent recently, given up long ago, still queued.
        let queued = db.claim_due(at + Duration::days(1), at + Duration::days(2), 10).unwrap();
        assert_eq!(queued.len(), 2);
        let (old, recent) = if queued[0].email.text == "expired" { (&queued[0], &queued[1]) } else { (&queued[1], &queued[0]) };
        db.mark_sent(old.id, at - Duration::days(9)).unwrap();
        db.mark_sent(recent.id, at - Duration::days(1)).unwrap();
        db.issue_token(alice.id, &grant(TokenPurpose::UsernameReset, "pending", at, at + Duration::hours(1)), &[email("pending", at)]).unwrap();
        db.issue_token(alice.id, &grant(TokenPurpose::UsernameReset, "failed", at, at + Duration::hours(1)), &[email("failed", email_at)]).unwrap();
        let failing = db.claim_due(at + Duration::days(1), at + Duration::days(2), 10).unwrap();
        let failed = failing.iter().find(|e| e.email.text == "failed").unwrap();
        db.give_up(failed.id, 20, at - Duration::days(8), "550 no").unwrap();
        let pending = failing.iter().find(|e| e.email.text == "pending").unwrap();
        db.retry_later(pending.id, 1, at + Duration::minutes(1), "try again").unwrap();

        let purged = db.purge_before(cutoff).unwrap();
        assert_eq!(purged, Purged { sessions: 3, account_tokens: 2, emails: 2 });
        let all = ["expired-old", "opaque-old", "revoked-old", "expired-recent", "revoked-recent", "live", "opaque-live"];
        assert_eq!(session_ids(db, &all), ["expired-recent", "revoked-recent", "live", "opaque-live"]);
        assert!(db.find_token(&token_hash("expired")).unwrap().is_none());
        assert!(db.find_token(&token_hash("used")).unwrap().is_none());
        assert!(db.find_token(&token_hash("fresh")).unwrap().is_some());
        assert!(db.find_token(&token_hash("pending")).unwrap().is_some());
        // The unsent email is still due; the recent one is kept (not due).
        let due = db.claim_due(at + Duration::days(1), at + Duration::days(2), 10).unwrap();
        assert_eq!(due.iter().map(|e| e.email.text.as_str()).collect::<Vec<_>>(), ["pending"]);
        // Accounts are never purged; a second run finds nothing more.
        assert!(db.find_by_id(alice.id).unwrap().is_some());
        assert_eq!(db.purge_before(cutoff).unwrap(), Purged::default());
        // The remaining rows go once they too are older than the cutoff.
        let later = db.purge_before(at + Duration::days(30)).unwrap();
        assert_eq!(later.emails, 1, "the recently sent one; never the queued one: {later:?}");
        assert_eq!(later.sessions, 4, "all four have ended by then: {later:?}");
    }

    fn an_email_stays_while_the_caps_count_it_however_short_the_retention(db: &Database) {
        let at = now();
        let alice = insert_user(db, "alice", Some("alice@example.com"));
        let cap = |since| MailCap { recipient: "a@example.com".into(), subject: None, since, max: 1 };
        assert!(db.queue_emails_capped(alice.id, &[email("first", at)], &cap(at - MAIL_CAP_WINDOW)).unwrap());
        let sent = db.claim_due(at, at, 10).unwrap();
        db.mark_sent(sent[0].id, at).unwrap();

        // One second of retention: the email was sent, and the cap still counts it.
        assert_eq!(db.purge_before(at + Duration::seconds(1)).unwrap().emails, 0);
        let later = at + Duration::minutes(30);
        assert!(!db.queue_emails_capped(alice.id, &[email("second", later)], &cap(later - MAIL_CAP_WINDOW)).unwrap());

        // Once the window has passed it, it goes.
        assert_eq!(db.purge_before(at + MAIL_CAP_WINDOW + Duration::seconds(1)).unwrap().emails, 1);
    }

    fn purging_goes_batch_by_batch(db: &Database) {
        let at = now();
        let alice = insert_user(db, "alice", Some("alice@example.com"));
        for i in 0..5 {
            let mut session = jwt_session(&format!("old-{i}"), alice.id, at - Duration::days(30));
            session.expires_at = at - Duration::days(20);
            db.create(&session).unwrap();
        }
        let cutoff = at - Duration::days(7);
        assert_eq!(db.purge_sessions(cutoff, 2).unwrap(), 2);
        assert_eq!(db.purge_sessions(cutoff, 2).unwrap(), 2);
        assert_eq!(db.purge_sessions(cutoff, 2).unwrap(), 1);
        assert_eq!(db.purge_sessions(cutoff, 2).unwrap(), 0);
    }
}
