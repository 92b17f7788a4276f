//! One-time tokens and the outgoing email queue: written together with the
//! state change that causes them, used once, claimed by one sender at a time.

use std::sync::Barrier;
use std::thread;

use chrono::Duration;
use sesame_kernel::secrets::token_hash;
use sesame_kernel::Timestamp;
use sesame_persistence::Database;
use sesame_tokens::SessionRepository;
use sesame_users::{
    AccountToken, AccountTokenStore, Email, MailCap, MailQueue, NewEmail, OutgoingEmail,
    ProfileChanges, TokenEffect, TokenGrant, TokenPurpose, User, UserRepository, UsersError,
};

use crate::support::{
    insert_user, jwt_session, new_user, now, precise_time, username, UNKNOWN_USER,
};

fn grant(purpose: TokenPurpose, token: &str, at: Timestamp) -> TokenGrant {
    TokenGrant {
        purpose,
        token_hash: token_hash(token),
        created_at: at,
        expires_at: at + Duration::hours(1),
    }
}

fn email(to: &str, text: &str, at: Timestamp) -> NewEmail {
    NewEmail::new(
        OutgoingEmail {
            to: to.to_owned(),
            subject: "Subject".to_owned(),
            text: text.to_owned(),
        },
        at,
    )
}

fn token_of(db: &Database, token: &str) -> AccountToken {
    db.find_token(&token_hash(token))
        .unwrap()
        .expect("a stored token")
}

/// Every email due within a year, claimed (and so taken out of the queue for a while).
fn claim_all(db: &Database) -> Vec<sesame_users::QueuedEmail> {
    let later = now() + Duration::days(365);
    db.claim_due(later, later + Duration::days(1), 1000)
        .unwrap()
}

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
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

contract_tests! {
    fn a_sign_up_awaiting_activation_is_made_here_and_no_import_takes_its_name(db: &Database) {
        let at = precise_time();
        let mut user = new_user("awaiting", Some("awaiting@example.com"));
        user.is_active = false;
        db.insert_with_token(&user, &grant(TokenPurpose::Activation, "tok", at), &|u: &User| {
            email(u.email.as_deref().unwrap(), "link", at)
        })
        .unwrap();
        let imported = sesame_users::ImportedAccount {
            source_ref: "line 1".to_owned(),
            id: None,
            user: new_user("awaiting", None),
            last_login: None,
            deactivated_by_admin: false,
            made_here: false,
        };
        let outcomes = db.import_batch(&[imported], false, false).unwrap();
        let refused = "username awaiting is taken by an account made here, not imported";
        assert_eq!(outcomes, [sesame_persistence::ImportOutcome::Refused(refused.to_owned())]);
    }

    fn an_account_its_token_and_its_email_are_stored_together(db: &Database) {
        let at = precise_time();
        let mut user = new_user("alice", Some("alice@example.com"));
        user.is_active = false;
        let stored = db
            .insert_with_token(&user, &grant(TokenPurpose::Activation, "tok", at), &|u: &User| {
                email(u.email.as_deref().unwrap(), &format!("uid {}", u.id), at)
            })
            .unwrap();
        assert!(!stored.is_active);
        assert_eq!(db.find_by_id(stored.id).unwrap().unwrap().username, "alice");

        let token = token_of(db, "tok");
        assert_eq!(token.user_id, stored.id);
        assert_eq!(token.purpose, TokenPurpose::Activation);
        assert_eq!(token.created_at, at);
        assert_eq!(token.expires_at, at + Duration::hours(1));
        assert_eq!(token.used_at, None);
        assert!(db.find_token("tok").unwrap().is_none(), "only the hash is a key");

        let queued = claim_all(db);
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].email.to, "alice@example.com");
        assert_eq!(queued[0].email.text, format!("uid {}", stored.id));
        assert_eq!(queued[0].attempts, 0);

        // A taken username stores neither the token nor the email.
        let again = new_user("ALICE", Some("other@example.com"));
        let error = db
            .insert_with_token(&again, &grant(TokenPurpose::Activation, "tok2", at), &|u: &User| {
                email(u.email.as_deref().unwrap(), "x", at)
            })
            .unwrap_err();
        assert!(matches!(error, UsersError::UsernameTaken), "{error:?}");
        let again = new_user("bob", Some("Alice@Example.com"));
        let error = db
            .insert_with_token(&again, &grant(TokenPurpose::Activation, "tok3", at), &|u: &User| {
                email(u.email.as_deref().unwrap(), "x", at)
            })
            .unwrap_err();
        assert!(matches!(error, UsersError::EmailTaken), "{error:?}");
        assert!(db.find_token(&token_hash("tok2")).unwrap().is_none());
        assert!(db.find_token(&token_hash("tok3")).unwrap().is_none());
        assert!(claim_all(db).is_empty());
        assert!(db.find_by_username("bob").unwrap().is_none());
    }

    fn issuing_a_token_queues_its_email(db: &Database) {
        let alice = insert_user(db, "alice", Some("alice@example.com"));
        let at = now();
        db.issue_token(alice.id, &grant(TokenPurpose::PasswordReset, "reset", at), &[email("alice@example.com", "link", at)])
            .unwrap();
        assert_eq!(token_of(db, "reset").user_id, alice.id);
        assert_eq!(claim_all(db).len(), 1);

        // Several emails go with one token (an email change: a link and a notice).
        db.issue_token(
            alice.id,
            &grant(TokenPurpose::EmailChange, "change", at),
            &[email("new@example.com", "link", at), email("alice@example.com", "notice", at)],
        )
        .unwrap();
        assert_eq!(claim_all(db).len(), 2);

        let error = db
            .issue_token(UNKNOWN_USER, &grant(TokenPurpose::PasswordReset, "x", at), &[email("x@example.com", "x", at)])
            .unwrap_err();
        assert!(matches!(error, UsersError::NotFound));
        assert!(db.find_token(&token_hash("x")).unwrap().is_none());
        assert!(claim_all(db).is_empty());

        // Expired tokens of the account go when a new one comes.
        let later = at + Duration::hours(2);
        db.issue_token(alice.id, &grant(TokenPurpose::UsernameReset, "new", later), &[email("alice@example.com", "link", later)])
            .unwrap();
        assert!(db.find_token(&token_hash("reset")).unwrap().is_none());
        assert!(db.find_token(&token_hash("new")).unwrap().is_some());
    }

    fn an_admins_deactivation_ends_the_links_and_no_link_activates_again(db: &Database) {
        let alice = db.insert(&new_user("alice", Some("alice@example.com"))).unwrap();
        let at = now();
        db.issue_token(alice.id, &grant(TokenPurpose::PasswordReset, "pending", at), &[email("a@example.com", "x", at)])
            .unwrap();
        db.set_flags(alice.id, Some(false), None).unwrap();
        assert!(db.find_token(&token_hash("pending")).unwrap().is_none(), "links die with the deactivation");

        db.issue_token(alice.id, &grant(TokenPurpose::Activation, "again", at), &[email("a@example.com", "x", at)])
            .unwrap();
        let again = token_of(db, "again");
        assert!(!db.use_token(&again, &TokenEffect::Activate, at).unwrap());
        assert!(!db.find_by_id(alice.id).unwrap().unwrap().is_active);
        assert_eq!(token_of(db, "again").used_at, None, "nothing changed");

        // Only an admin makes it active again; a first activation still works.
        db.set_flags(alice.id, Some(true), None).unwrap();
        assert!(db.find_by_id(alice.id).unwrap().unwrap().is_active);
        let mut inactive = new_user("bob", Some("bob@example.com"));
        inactive.is_active = false;
        let bob = db.insert(&inactive).unwrap();
        db.issue_token(bob.id, &grant(TokenPurpose::Activation, "first", at), &[email("b@example.com", "x", at)])
            .unwrap();
        assert!(db.use_token(&token_of(db, "first"), &TokenEffect::Activate, at).unwrap(), "a first activation works");
        assert!(db.find_by_id(bob.id).unwrap().unwrap().is_active);
    }

    fn a_token_is_used_once_and_applies_its_effect(db: &Database) {
        let mut user = new_user("alice", Some("alice@example.com"));
        user.is_active = false;
        let alice = db.insert(&user).unwrap();
        let at = now();
        for token in ["one", "two"] {
            db.issue_token(alice.id, &grant(TokenPurpose::Activation, token, at), &[email("a@example.com", "x", at)])
                .unwrap();
        }
        let one = token_of(db, "one");
        let used_at = at + Duration::minutes(1);
        assert!(db.use_token(&one, &TokenEffect::Activate, used_at).unwrap());
        assert!(db.find_by_id(alice.id).unwrap().unwrap().is_active);
        assert_eq!(token_of(db, "one").used_at, Some(used_at));
        assert!(!db.use_token(&one, &TokenEffect::Activate, used_at).unwrap());
        // The other activation token died with it.
        let two = token_of(db, "two");
        assert!(two.used_at.is_some());
        assert!(!db.use_token(&two, &TokenEffect::Activate, used_at).unwrap());

        // Expired tokens are refused, and nothing changes.
        db.issue_token(alice.id, &grant(TokenPurpose::UsernameReset, "late", at), &[email("a@example.com", "x", at)])
            .unwrap();
        let late = token_of(db, "late");
        assert!(!db
            .use_token(&late, &TokenEffect::SetUsername(username("renamed")), at + Duration::hours(1))
            .unwrap());
        assert_eq!(db.find_by_id(alice.id).unwrap().unwrap().username, "alice");
        assert!(db
            .use_token(&late, &TokenEffect::SetUsername(username("renamed")), at + Duration::minutes(59))
            .unwrap());
        assert_eq!(db.find_by_id(alice.id).unwrap().unwrap().username, "renamed");
    }

    fn a_token_whose_effect_conflicts_stays_usable(db: &Database) {
        let alice = insert_user(db, "alice", Some("alice@example.com"));
        insert_user(db, "bob", Some("bob@example.com"));
        let at = now();
        db.issue_token(alice.id, &grant(TokenPurpose::UsernameReset, "tok", at), &[email("a@example.com", "x", at)])
            .unwrap();
        let token = token_of(db, "tok");
        let error = db
            .use_token(&token, &TokenEffect::SetUsername(username("BOB")), at)
            .unwrap_err();
        assert!(matches!(error, UsersError::UsernameTaken), "{error:?}");
        assert_eq!(token_of(db, "tok").used_at, None);
        assert!(db.use_token(&token, &TokenEffect::SetUsername(username("carol")), at).unwrap());
    }

    fn a_password_reset_revokes_sessions_and_kills_every_token(db: &Database) {
        let alice = insert_user(db, "alice", Some("alice@example.com"));
        let bob = insert_user(db, "bob", Some("bob@example.com"));
        let at = now();
        db.create(&jwt_session("s1", alice.id, at)).unwrap();
        db.create(&jwt_session("s2", bob.id, at)).unwrap();
        for (token, purpose) in [("reset", TokenPurpose::PasswordReset), ("name", TokenPurpose::UsernameReset)] {
            db.issue_token(alice.id, &grant(purpose, token, at), &[email("a@example.com", "x", at)]).unwrap();
        }
        db.issue_token(bob.id, &grant(TokenPurpose::PasswordReset, "bobs", at), &[email("b@example.com", "x", at)]).unwrap();

        let reset = token_of(db, "reset");
        let effect = TokenEffect::SetPassword { password_hash: "new-hash".into() };
        assert!(db.use_token(&reset, &effect, at).unwrap());
        assert_eq!(db.find_by_id(alice.id).unwrap().unwrap().password_hash, "new-hash");
        assert!(db.find("s1").unwrap().unwrap().revoked_at.is_some());
        assert!(db.find("s2").unwrap().unwrap().revoked_at.is_none());
        assert!(db.find_token(&token_hash("reset")).unwrap().is_none());
        assert!(db.find_token(&token_hash("name")).unwrap().is_none());
        assert!(db.find_token(&token_hash("bobs")).unwrap().is_some());
        assert!(!db.use_token(&reset, &effect, at).unwrap());
    }

    fn a_password_change_or_a_deletion_kills_tokens(db: &Database) {
        let alice = insert_user(db, "alice", Some("alice@example.com"));
        let at = now();
        db.issue_token(alice.id, &grant(TokenPurpose::PasswordReset, "a", at), &[email("a@example.com", "x", at)]).unwrap();
        db.change_password(alice.id, &alice.password_hash, "other-hash", None, at).unwrap();
        assert!(db.find_token(&token_hash("a")).unwrap().is_none());

        db.issue_token(alice.id, &grant(TokenPurpose::PasswordReset, "b", at), &[email("a@example.com", "x", at)]).unwrap();
        db.delete(alice.id).unwrap();
        assert!(db.find_token(&token_hash("b")).unwrap().is_none());
    }

    fn racing_uses_of_one_token_let_exactly_one_win(db: &Database) {
        let alice = insert_user(db, "alice", Some("alice@example.com"));
        let at = now();
        db.issue_token(alice.id, &grant(TokenPurpose::PasswordReset, "tok", at), &[email("a@example.com", "x", at)]).unwrap();
        let token = token_of(db, "tok");
        let wins = race(8, |i| {
            db.use_token(&token, &TokenEffect::SetPassword { password_hash: format!("hash-{i}") }, at)
                .unwrap()
        });
        assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{wins:?}");
        let winner = wins.iter().position(|w| *w).unwrap();
        assert_eq!(db.find_by_id(alice.id).unwrap().unwrap().password_hash, format!("hash-{winner}"));
    }

    fn a_capped_token_is_issued_only_below_the_cap(db: &Database) {
        let alice = insert_user(db, "alice", Some("alice@example.com"));
        let at = now();
        let cap = MailCap { recipient: "alice@example.com".into(), subject: None, since: at - Duration::hours(1), max: 2 };
        let old = at - Duration::hours(2);
        db.issue_token(alice.id, &grant(TokenPurpose::PasswordReset, "old", old), &[email("alice@example.com", "x", old)]).unwrap();
        db.issue_token(alice.id, &grant(TokenPurpose::PasswordReset, "other", at), &[email("bob@example.com", "x", at)]).unwrap();
        for (token, issued) in [("one", true), ("two", true), ("three", false)] {
            let outcome = db.issue_token_capped(&alice, &grant(TokenPurpose::PasswordReset, token, at), &[email("alice@example.com", token, at)], &cap);
            assert_eq!(outcome.unwrap(), issued, "{token}");
            assert_eq!(db.find_token(&token_hash(token)).unwrap().is_some(), issued, "{token}");
        }
        let another_case = MailCap { recipient: "Alice@Example.COM".into(), ..cap.clone() };
        let outcome = db.issue_token_capped(&alice, &grant(TokenPurpose::PasswordReset, "four", at), &[], &another_case);
        assert!(!outcome.unwrap(), "an address in another case is the same one");
        assert_eq!(claim_all(db).iter().filter(|e| e.email.to == "alice@example.com").count(), 3);
        assert!(matches!(
            db.issue_token_capped(&User { id: UNKNOWN_USER, ..alice }, &grant(TokenPurpose::PasswordReset, "x", at), &[], &cap),
            Err(UsersError::NotFound)
        ));
    }

    fn a_token_asked_for_before_the_address_the_active_flag_or_the_password_changed_is_not_issued(db: &Database) {
        // The flow read the account, then its address changed (which ended
        // every token it had), then the flow stored its token: that token,
        // and its link to the old address, must not outlive the change.
        let at = now();
        let cap = MailCap { recipient: "alice@example.com".into(), subject: None, since: at - Duration::hours(1), max: 10 };
        let reset = |read: &User, token: &str| {
            db.issue_token_capped(read, &grant(TokenPurpose::PasswordReset, token, at), &[email("alice@example.com", token, at)], &cap)
                .unwrap()
        };
        let alice = insert_user(db, "alice", Some("alice@example.com"));
        let respelled = ProfileChanges { email: Some(Some(Email::parse("Alice@Example.com", "email").unwrap())), ..ProfileChanges::default() };
        db.update_profile(alice.id, &respelled).unwrap();
        assert!(reset(&alice, "respelled"), "the same address in another case is the same address");

        let moved = ProfileChanges { email: Some(Some(Email::parse("new@example.org", "email").unwrap())), ..ProfileChanges::default() };
        db.update_profile(alice.id, &moved).unwrap();
        assert!(!reset(&alice, "moved"));
        assert!(db.find_token(&token_hash("moved")).unwrap().is_none());
        let moved_alice = db.find_by_id(alice.id).unwrap().unwrap();
        let removed = ProfileChanges { email: Some(None), ..ProfileChanges::default() };
        db.update_profile(alice.id, &removed).unwrap();
        assert!(!reset(&moved_alice, "removed"));

        let bob = insert_user(db, "bob", Some("bob@example.com"));
        db.set_flags(bob.id, Some(false), None).unwrap();
        assert!(!reset(&bob, "deactivated"));
        assert!(db.find_token(&token_hash("deactivated")).unwrap().is_none());

        // An email change asked for by someone who knew the password, after
        // the owner reset it (which ended every token): not issued.
        let carol = insert_user(db, "carol", Some("carol@example.com"));
        db.change_password(carol.id, &carol.password_hash, "reset-hash", None, at).unwrap();
        let change = grant(TokenPurpose::EmailChange, "after-reset", at);
        assert!(!db.issue_token_capped(&carol, &change, &[email("thief@example.com", "after-reset", at)], &cap).unwrap());
        assert!(db.find_token(&token_hash("after-reset")).unwrap().is_none());
        let queued: Vec<_> = claim_all(db).into_iter().map(|e| e.email.text).collect();
        assert_eq!(queued, ["respelled"], "only the first link was queued");
    }

    fn a_token_racing_an_address_change_never_outlives_it(db: &Database) {
        // Whichever goes first: the change deletes the token, or the token
        // sees the new address and is not written.
        let at = now();
        for round in 0..40 {
            let old = format!("old{round}@example.com");
            let read = insert_user(db, &format!("mover{round}"), Some(&old));
            let cap = MailCap { recipient: old.clone(), subject: None, since: at - Duration::hours(1), max: 10 };
            let token = format!("raced-{round}");
            let new = Email::parse(&format!("new{round}@example.org"), "email").unwrap();
            let moved = ProfileChanges { email: Some(Some(new)), ..ProfileChanges::default() };
            race(2, |i| match i {
                0 => drop(db.update_profile(read.id, &moved).unwrap()),
                _ => drop(db.issue_token_capped(&read, &grant(TokenPurpose::PasswordReset, &token, at), &[email(&old, &token, at)], &cap).unwrap()),
            });
            assert!(db.find_token(&token_hash(&token)).unwrap().is_none(), "round {round}: the link to the old mailbox works");
        }
    }

    fn an_address_in_any_spelling_shares_one_cap(db: &Database) {
        let alice = insert_user(db, "alice", Some("alice@example.com"));
        let at = now();
        let cap = |recipient: &str| MailCap { recipient: recipient.into(), subject: None, since: at - Duration::hours(1), max: 2 };
        for spelling in ["jörg@exämple.de", "JÖRG@EXÄMPLE.DE"] {
            assert!(db.queue_emails_capped(alice.id, &[email(spelling, "x", at)], &cap(spelling)).unwrap(), "{spelling}");
        }
        // Case, compatibility forms (fullwidth) and decomposed accents.
        for spelling in ["Jörg@Exämple.de", "ｊöｒｇ@exämple.de", "jo\u{308}rg@exa\u{308}mple.de"] {
            let queued = db.queue_emails_capped(alice.id, &[email(spelling, "x", at)], &cap(spelling)).unwrap();
            assert!(!queued, "{spelling} got a cap of its own");
        }
    }

    fn racing_capped_issues_never_pass_the_cap(db: &Database) {
        let alice = insert_user(db, "alice", Some("alice@example.com"));
        let at = now();
        let cap = MailCap { recipient: "alice@example.com".into(), subject: None, since: at - Duration::hours(1), max: 3 };
        let issued = race(8, |i| {
            let token = format!("race-{i}");
            db.issue_token_capped(&alice, &grant(TokenPurpose::PasswordReset, &token, at), &[email("alice@example.com", &token, at)], &cap)
                .unwrap()
        });
        assert_eq!(issued.iter().filter(|i| **i).count(), 3, "{issued:?}");
        assert_eq!(claim_all(db).len(), 3);
    }

    fn racing_accounts_never_pass_one_address_cap(db: &Database) {
        // An email change sends to an address anyone may name: accounts
        // asking at once take turns on the address, not only each on itself.
        let at = now();
        let cap = MailCap { recipient: "Victim@Example.org".into(), subject: None, since: at - Duration::hours(1), max: 3 };
        let accounts: Vec<_> = (0..8).map(|i| insert_user(db, &format!("asker{i}"), None)).collect();
        let issued = race(8, |i| {
            let token = format!("change-{i}");
            let to = if i % 2 == 0 { "victim@example.org" } else { "VICTIM@example.ORG" };
            db.issue_token_capped(&accounts[i], &grant(TokenPurpose::EmailChange, &token, at), &[email(to, &token, at)], &cap)
                .unwrap()
        });
        assert_eq!(issued.iter().filter(|i| **i).count(), 3, "{issued:?}");
        assert_eq!(claim_all(db).len(), 3);
    }

    fn capped_emails_without_a_token_count_by_subject(db: &Database) {
        let alice = insert_user(db, "alice", Some("a@example.com"));
        let at = now();
        db.issue_token(alice.id, &grant(TokenPurpose::PasswordReset, "t", at), &[email("a@example.com", "link", at)]).unwrap();
        let alert = |text: &str| NewEmail::new(OutgoingEmail { to: "a@example.com".into(), subject: "Alert".into(), text: text.into() }, at);
        let cap = MailCap { recipient: "a@example.com".into(), subject: Some("Alert".into()), since: at - Duration::hours(1), max: 1 };
        assert!(db.queue_emails_capped(alice.id, &[alert("first")], &cap).unwrap(), "the reset email has another subject");
        assert!(!db.queue_emails_capped(alice.id, &[alert("second")], &cap).unwrap());
        let texts: Vec<String> = claim_all(db).into_iter().map(|e| e.email.text).collect();
        assert_eq!(texts, ["link", "first"]);
        assert!(matches!(db.queue_emails_capped(UNKNOWN_USER, &[alert("x")], &cap), Err(UsersError::NotFound)));
    }

    fn the_queue_hands_out_due_emails_and_records_outcomes(db: &Database) {
        let at = precise_time();
        assert_eq!(db.next_due().unwrap(), None);
        let first = email("a@example.com", "first", at);
        let second = email("b@example.com", "second", at + Duration::seconds(1));
        let user = insert_user(db, "alice", Some("alice@example.com"));
        db.issue_token(user.id, &grant(TokenPurpose::PasswordReset, "1", at), std::slice::from_ref(&first)).unwrap();
        db.issue_token(user.id, &grant(TokenPurpose::PasswordReset, "2", at), std::slice::from_ref(&second)).unwrap();
        assert_eq!(db.next_due().unwrap(), Some(at));

        // Only what is due, oldest first, up to the limit.
        let lease = at + Duration::minutes(5);
        assert!(db.claim_due(at - Duration::seconds(1), lease, 10).unwrap().is_empty());
        let claimed = db.claim_due(at + Duration::seconds(5), lease, 1).unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].key, first.key);
        assert_eq!(claimed[0].email.text, "first");
        // Claimed emails are left alone until their lease ends.
        let claimed2 = db.claim_due(at + Duration::seconds(5), lease, 10).unwrap();
        assert_eq!(claimed2.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), [second.key.as_str()]);
        assert_eq!(db.next_due().unwrap(), Some(lease));

        db.mark_sent(claimed[0].id, at).unwrap();
        db.retry_later(claimed2[0].id, 1, at + Duration::seconds(30), &"x".repeat(2000)).unwrap();
        assert_eq!(db.next_due().unwrap(), Some(at + Duration::seconds(30)));
        let retried = db.claim_due(at + Duration::seconds(30), lease, 10).unwrap();
        assert_eq!(retried.len(), 1);
        assert_eq!((retried[0].attempts, retried[0].email.text.as_str()), (1, "second"));
        db.give_up(retried[0].id, 2, at, "550 no").unwrap();
        assert_eq!(db.next_due().unwrap(), None);
        assert!(claim_all(db).is_empty());
    }

    fn racing_senders_never_claim_the_same_email(db: &Database) {
        let user = insert_user(db, "alice", Some("alice@example.com"));
        let at = now();
        for i in 0..30 {
            db.issue_token(user.id, &grant(TokenPurpose::PasswordReset, &format!("t{i}"), at), &[email("a@example.com", &i.to_string(), at)])
                .unwrap();
        }
        let later = at + Duration::seconds(1);
        let claims = race(6, |_| {
            let mut mine = Vec::new();
            loop {
                let batch = db.claim_due(later, later + Duration::minutes(5), 4).unwrap();
                if batch.is_empty() {
                    break mine;
                }
                mine.extend(batch.into_iter().map(|e| e.id));
            }
        });
        let mut all: Vec<i64> = claims.into_iter().flatten().collect();
        all.sort_unstable();
        let total = all.len();
        all.dedup();
        assert_eq!((total, all.len()), (30, 30));
    }
}

/// The migration that marks admins' deactivations, applied to accounts that
/// were already there: an inactive account that has logged in was banned
/// (an admin made it inactive), and no link activates it; one that never
/// logged in awaits its activation, and its link still works.
mod marking_admins_deactivations {
    use super::*;
    use crate::support::{on_postgres_reapplying, on_sqlite_reapplying};

    /// The version of the migration that marks them (`…_admin_deactivation`).
    const MARKING: &str = "20240601000100";

    /// Accounts as the migration finds them, the migration run again
    /// (`reapply`), and what their activation links do afterwards.
    fn marks_the_inactive_accounts_that_have_logged_in(url: &str, reapply: &dyn Fn()) {
        let at = now();
        {
            let db = Database::connect(url, 2).unwrap();
            db.migrate().unwrap();
            for (name, logged_in) in [("banned", true), ("waiting", false)] {
                let mut user = new_user(name, Some(&format!("{name}@example.com")));
                user.is_active = false;
                let stored = db.insert(&user).unwrap();
                if logged_in {
                    db.record_login(stored.id, at).unwrap();
                }
                let link = grant(TokenPurpose::Activation, name, at);
                db.issue_token(stored.id, &link, &[email("a@example.com", "x", at)])
                    .unwrap();
            }
        }
        reapply();
        let db = Database::connect(url, 2).unwrap();
        let banned = token_of(&db, "banned");
        assert!(!db.use_token(&banned, &TokenEffect::Activate, at).unwrap());
        assert!(!db.find_by_id(banned.user_id).unwrap().unwrap().is_active);
        let waiting = token_of(&db, "waiting");
        assert!(db.use_token(&waiting, &TokenEffect::Activate, at).unwrap());
        assert!(db.find_by_id(waiting.user_id).unwrap().unwrap().is_active);
    }

    #[test]
    fn on_sqlite() {
        on_sqlite_reapplying(MARKING, marks_the_inactive_accounts_that_have_logged_in);
    }

    #[test]
    fn on_postgres() {
        let name = "marking_admins_deactivations::on_postgres";
        on_postgres_reapplying(
            name,
            MARKING,
            marks_the_inactive_accounts_that_have_logged_in,
        );
    }
}

/// A login whose session is being written while the password is reset or
/// changed, or the account deactivated: the change waits for it, so that
/// the session ends with the others (the login's own check after it reads
/// the account as it was before).
#[test]
fn a_session_opened_meanwhile_ends_with_the_others_on_postgres() {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection};
    use sesame_kernel::UserId;

    type Change = fn(&Database, UserId);
    let name = "a_session_opened_meanwhile_ends_with_the_others_on_postgres";
    crate::support::on_postgres_with_url(name, |db, url| {
        let changes: [(&str, Change); 3] = [
            ("reset", |db, id| {
                let at = now();
                db.issue_token(
                    id,
                    &grant(TokenPurpose::PasswordReset, "reset", at),
                    &[email("r@example.com", "x", at)],
                )
                .unwrap();
                let effect = TokenEffect::SetPassword {
                    password_hash: "reset-hash".into(),
                };
                assert!(db.use_token(&token_of(db, "reset"), &effect, at).unwrap());
            }),
            ("change", |db, id| {
                let current = db.find_by_id(id).unwrap().unwrap().password_hash;
                db.change_password(id, &current, "changed-hash", None, now())
                    .unwrap()
            }),
            ("deactivation", |db, id| {
                db.set_flags(id, Some(false), None).unwrap()
            }),
        ];
        for (what, change) in changes {
            let user = insert_user(db, what, None);
            let mut login = PgConnection::establish(url).unwrap();
            login
                .batch_execute(&format!(
                    "BEGIN; INSERT INTO sessions (id, user_id, kind, created_at, last_used_at, \
                     expires_at) VALUES ('opening', {}, 'jwt', now(), now(), now() + interval '1 day');",
                    user.id.0
                ))
                .unwrap();
            thread::scope(|scope| {
                let changing = scope.spawn(|| change(db, user.id));
                thread::sleep(std::time::Duration::from_millis(500));
                login.batch_execute("COMMIT").unwrap();
                changing.join().unwrap();
            });
            let session = db.find("opening").unwrap().unwrap();
            assert!(
                session.revoked_at.is_some(),
                "{what}: the session opened meanwhile is live"
            );
            login.batch_execute("DELETE FROM sessions").unwrap();
        }
    });
}
