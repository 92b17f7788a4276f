//! Email flows (activation, password and username resets), the delivery of
//! queued emails, and avatars, checked over the in-memory store and a clock
//! moved by hand.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::Duration;
use sesame_kernel::audit::Actor;
use sesame_kernel::secrets::token_hash;
use sesame_kernel::{Clock, Timestamp, UserId};
use sesame_testkit::{FakeClock, InMemoryStore, MemoryAvatars, RecordingMailer, StoredEmail};
use sesame_tokens::{
    ChaChaCipher, ClientInfo, JwtKeys, Revival, SessionService, TokenSettings, TokensError,
};
use sesame_users::{
    decode_uid, encode_uid, AccountMail, AccountService, AccountSettings, AccountToken,
    AccountTokenStore, Activation, AvatarChange, Avatars, Email, LinkTemplates, MailCap,
    MailDelivery, MailError, MailFlow, Mailer, NewEmail, NewUser, OutgoingEmail, ProfileChanges,
    ProfileUpdate, Registration, RetryPolicy, TokenEffect, TokenGrant, TokenLifetimes,
    TokenPurpose, User, UserRepository, UsersError,
};

const PASSWORD: &str = "Zq7!vR2#kLm";
const NEW_PASSWORD: &str = "Hx4@pW9$tNb";
const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const GIF: &[u8] = b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff!\xf9\x04";

struct Fixture {
    store: Arc<InMemoryStore>,
    cipher: Arc<ChaChaCipher>,
    clock: Arc<FakeClock>,
    avatars: Arc<MemoryAvatars>,
    accounts: AccountService,
    wakes: Arc<AtomicUsize>,
}

impl Fixture {
    fn new(require_activation: bool) -> Self {
        Self::with_token_store(require_activation, |store| store)
    }

    /// With the flows' tokens kept in what `tokens` makes of the store.
    fn with_token_store(
        require_activation: bool,
        tokens: impl FnOnce(Arc<InMemoryStore>) -> Arc<dyn AccountTokenStore>,
    ) -> Self {
        let store = Arc::new(InMemoryStore::new());
        let clock = Arc::new(FakeClock::new());
        let avatars = Arc::new(MemoryAvatars::new());
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = wakes.clone();
        let cipher = Arc::new(ChaChaCipher::new(&[5u8; 32]).unwrap());
        let accounts = AccountService::new(
            store.clone(),
            Arc::new(sesame_users::BcryptHasher::new(4).unwrap()),
            clock.clone(),
            AccountSettings { require_activation },
        )
        .with_mail(AccountMail {
            store: tokens(store.clone()),
            links: LinkTemplates {
                activation: "https://app.test/activate/{uid}/{token}".into(),
                ..LinkTemplates::default()
            },
            lifetimes: TokenLifetimes::default(),
            queued: Arc::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            }),
            cipher: cipher.clone(),
        })
        .with_avatars(Avatars {
            store: avatars.clone(),
            max_bytes: 64,
        });
        Fixture {
            store,
            cipher,
            clock,
            avatars,
            accounts,
            wakes,
        }
    }

    fn sessions(&self) -> SessionService {
        SessionService::new(
            self.store.clone(),
            self.store.clone(),
            self.clock.clone(),
            JwtKeys::from_secret(&[7u8; 32]).unwrap(),
            TokenSettings::default(),
        )
    }

    fn register(&self, username: &str) -> User {
        self.accounts
            .register(Registration {
                username: username.to_owned(),
                email: Some(format!("{username}@example.com")),
                password: PASSWORD.to_owned(),
                ..Registration::default()
            })
            .unwrap()
    }

    /// Every email queued, opened as the sender opens it.
    fn emails(&self) -> Vec<StoredEmail> {
        let mut emails = self.store.emails();
        for stored in &mut emails {
            stored.email = stored
                .email
                .clone()
                .opened(&*self.cipher)
                .expect("sealed with the key");
        }
        emails
    }

    fn reload(&self, user: &User) -> User {
        self.accounts.get(user.id).unwrap()
    }

    /// The `(uid, token)` of the last email queued for `to` (its link's last two segments).
    fn last_link(&self, to: &str) -> (String, String) {
        let email = self
            .emails()
            .into_iter()
            .rev()
            .find(|e| e.email.to == to)
            .unwrap_or_else(|| panic!("no email to {to}"));
        let link = email
            .email
            .text
            .lines()
            .find(|l| l.starts_with("http"))
            .expect("a link")
            .to_owned();
        let mut parts = link.rsplit('/');
        let token = parts.next().unwrap().to_owned();
        let uid = parts.next().unwrap().to_owned();
        (uid, token)
    }

    fn emails_to(&self, to: &str) -> usize {
        self.emails().iter().filter(|e| e.email.to == to).count()
    }
}

fn field_messages(error: &UsersError, field: &str) -> Vec<String> {
    error
        .field_errors()
        .iter()
        .filter(|e| e.field == field)
        .map(|e| e.message.clone())
        .collect()
}

fn invalid_token(result: Result<impl std::fmt::Debug, UsersError>) {
    let error = result.expect_err("an invalid token");
    assert_eq!(
        field_messages(&error, "token"),
        ["Invalid token for given user."],
        "{error:?}"
    );
    assert_eq!(field_codes(&error), [("token", "invalid_token")]);
}

fn field_codes(error: &UsersError) -> Vec<(&str, &'static str)> {
    error
        .field_errors()
        .iter()
        .map(|e| (e.field.as_str(), e.code))
        .collect()
}

// --------------------------------------------------------------- activation

#[test]
fn registration_with_activation_queues_the_email_with_the_account() {
    let fx = Fixture::new(true);
    let alice = fx.register("alice");
    assert!(!alice.is_active);
    assert_eq!(fx.wakes.load(Ordering::SeqCst), 1);

    let emails = fx.emails();
    assert_eq!(emails.len(), 1);
    let email = &emails[0].email;
    assert_eq!(email.to, "alice@example.com");
    assert_eq!(email.subject, "Activate your Sesame account");
    assert!(email.text.contains("Hello alice"));
    assert!(email.text.contains("expires in 3 days"));
    let (uid, token) = fx.last_link("alice@example.com");
    assert!(email
        .text
        .contains(&format!("https://app.test/activate/{uid}/{token}")));
    assert_eq!(decode_uid(&uid), Some(alice.id));
    assert_eq!(uid, encode_uid(alice.id));

    // Only the hash is stored, with its purpose and a 3-day expiry.
    let tokens = fx.store.tokens();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].token_hash, token_hash(&token));
    assert_ne!(tokens[0].token_hash, token);
    assert_eq!(tokens[0].purpose, TokenPurpose::Activation);
    assert_eq!(tokens[0].expires_at, fx.clock.now() + Duration::days(3));

    assert!(matches!(
        fx.accounts.authenticate("alice", PASSWORD),
        Err(UsersError::AccountInactive)
    ));
    assert_eq!(
        fx.accounts
            .activate(&uid, &token, &Actor::default())
            .unwrap(),
        Activation::Activated
    );
    assert!(fx.reload(&alice).is_active);
    fx.accounts.authenticate("alice", PASSWORD).unwrap();

    // The same link again: the account is already active (djoser's stale token).
    assert_eq!(
        fx.accounts
            .activate(&uid, &token, &Actor::default())
            .unwrap(),
        Activation::AlreadyActive
    );
}

#[test]
fn without_required_activation_nothing_is_mailed() {
    let fx = Fixture::new(false);
    let alice = fx.register("alice");
    assert!(alice.is_active);
    assert!(fx.emails().is_empty());
    fx.accounts.resend_activation("alice@example.com").unwrap();
    assert!(fx.emails().is_empty());
}

#[test]
fn activation_refuses_bad_uids_and_tokens() {
    let fx = Fixture::new(true);
    let alice = fx.register("alice");
    let bob = fx.register("bob");
    let (uid, token) = fx.last_link("alice@example.com");
    let (bob_uid, bob_token) = fx.last_link("bob@example.com");

    for bad_uid in ["", "nope", "OTk5", "MQ!"] {
        let error = fx
            .accounts
            .activate(bad_uid, &token, &Actor::default())
            .unwrap_err();
        assert_eq!(
            field_messages(&error, "uid"),
            ["Invalid user id or user doesn't exist."],
            "{bad_uid}"
        );
        assert_eq!(field_codes(&error), [("uid", "invalid_uid")], "{bad_uid}");
    }
    invalid_token(fx.accounts.activate(&uid, "wrong", &Actor::default()));
    invalid_token(fx.accounts.activate(&uid, "", &Actor::default()));
    // Another account's token does not fit this uid.
    invalid_token(fx.accounts.activate(&uid, &bob_token, &Actor::default()));
    invalid_token(fx.accounts.activate(&bob_uid, &token, &Actor::default()));
    assert!(!fx.reload(&alice).is_active && !fx.reload(&bob).is_active);

    // Expired after 3 days.
    fx.clock.advance(Duration::days(3));
    invalid_token(fx.accounts.activate(&uid, &token, &Actor::default()));
    assert!(!fx.reload(&alice).is_active);
}

#[test]
fn resend_activation_mails_only_inactive_accounts() {
    let fx = Fixture::new(true);
    let alice = fx.register("alice");
    let (_, first_token) = fx.last_link("alice@example.com");

    fx.accounts.resend_activation("nobody@example.com").unwrap();
    fx.accounts.resend_activation("not an address").unwrap();
    assert_eq!(fx.emails().len(), 1);

    fx.accounts.resend_activation("ALICE@example.com").unwrap();
    assert_eq!(fx.emails_to("alice@example.com"), 2);
    let (uid, second_token) = fx.last_link("alice@example.com");
    assert_ne!(first_token, second_token);

    assert_eq!(
        fx.accounts
            .activate(&uid, &second_token, &Actor::default())
            .unwrap(),
        Activation::Activated
    );
    // The first link now finds an active account.
    assert_eq!(
        fx.accounts
            .activate(&uid, &first_token, &Actor::default())
            .unwrap(),
        Activation::AlreadyActive
    );
    fx.accounts.resend_activation("alice@example.com").unwrap();
    assert_eq!(fx.emails_to("alice@example.com"), 2);
    assert!(fx.reload(&alice).is_active);
}

#[test]
fn no_link_undoes_an_admins_deactivation() {
    let fx = Fixture::new(true);
    let alice = fx.register("alice");
    let (uid, token) = fx.last_link("alice@example.com");
    fx.accounts
        .activate(&uid, &token, &Actor::default())
        .unwrap();
    fx.store.set_flags(alice.id, Some(false), None).unwrap();

    fx.accounts.resend_activation("alice@example.com").unwrap();
    let (uid, token) = fx.last_link("alice@example.com");
    assert!(matches!(
        fx.accounts.activate(&uid, &token, &Actor::default()),
        Err(UsersError::Invalid(_))
    ));
    assert!(!fx.reload(&alice).is_active);
}

// ----------------------------------------------------------- password reset

#[test]
fn password_reset_sets_the_password_and_revokes_every_session() {
    let fx = Fixture::new(false);
    let sessions = fx.sessions();
    let alice = fx.register("alice");
    let open = sessions
        .start_jwt_session(&alice, ClientInfo::default())
        .unwrap();
    let opaque = sessions
        .start_opaque_session(&alice, ClientInfo::default(), Revival::Never)
        .unwrap();

    fx.accounts
        .request_password_reset("alice@example.com")
        .unwrap();
    let email = fx.emails().pop().unwrap();
    assert_eq!(email.email.subject, "Reset your Sesame password");
    assert!(email
        .email
        .text
        .contains("http://localhost:3000/password/reset/confirm/"));
    assert!(email.email.text.contains("expires in 1 hour"));
    let (uid, token) = fx.last_link("alice@example.com");

    // A weak password is refused and the token survives.
    let error = fx
        .accounts
        .reset_password(&uid, &token, "password", &Actor::default())
        .unwrap_err();
    assert_eq!(
        field_messages(&error, "new_password"),
        ["This password is too common."]
    );
    assert_eq!(
        field_codes(&error),
        [("new_password", "password_too_common")]
    );
    let error = fx
        .accounts
        .reset_password(&uid, &token, "alice", &Actor::default())
        .unwrap_err();
    assert!(!field_messages(&error, "new_password").is_empty());

    fx.accounts
        .reset_password(&uid, &token, NEW_PASSWORD, &Actor::default())
        .unwrap();
    assert!(matches!(
        fx.accounts.authenticate("alice", PASSWORD),
        Err(UsersError::InvalidCredentials)
    ));
    fx.accounts.authenticate("alice", NEW_PASSWORD).unwrap();
    assert!(matches!(
        sessions.authenticate(&open.access),
        Err(TokensError::SessionRevoked)
    ));
    assert!(matches!(
        sessions.authenticate(&opaque),
        Err(TokensError::SessionRevoked)
    ));

    // Single use.
    invalid_token(
        fx.accounts
            .reset_password(&uid, &token, "Another-Pass-9931", &Actor::default()),
    );
    fx.accounts.authenticate("alice", NEW_PASSWORD).unwrap();
}

#[test]
fn reset_tokens_expire_after_an_hour() {
    let fx = Fixture::new(false);
    fx.register("alice");
    fx.accounts
        .request_password_reset("alice@example.com")
        .unwrap();
    let (uid, token) = fx.last_link("alice@example.com");
    fx.clock.advance(Duration::minutes(59));
    fx.accounts
        .request_username_reset("alice@example.com")
        .unwrap();
    let (_, username_token) = fx.last_link("alice@example.com");
    fx.clock.advance(Duration::minutes(1));
    invalid_token(
        fx.accounts
            .reset_password(&uid, &token, NEW_PASSWORD, &Actor::default()),
    );
    fx.accounts.authenticate("alice", PASSWORD).unwrap();
    // The other one, made later, still works.
    fx.accounts
        .reset_username(&uid, &username_token, "alice2", &Actor::default())
        .unwrap();
}

#[test]
fn a_password_change_kills_outstanding_tokens() {
    let fx = Fixture::new(false);
    let alice = fx.register("alice");
    fx.accounts
        .request_password_reset("alice@example.com")
        .unwrap();
    let (uid, reset_token) = fx.last_link("alice@example.com");
    fx.accounts
        .request_username_reset("alice@example.com")
        .unwrap();
    let (_, username_token) = fx.last_link("alice@example.com");

    fx.accounts
        .set_password(&alice, PASSWORD, NEW_PASSWORD, None, &Actor::default())
        .unwrap();
    invalid_token(fx.accounts.reset_password(
        &uid,
        &reset_token,
        "Third-Pass-4471",
        &Actor::default(),
    ));
    invalid_token(
        fx.accounts
            .reset_username(&uid, &username_token, "alice2", &Actor::default()),
    );
    assert!(fx.store.tokens().is_empty());

    // And a reset kills the other tokens too.
    fx.accounts
        .request_password_reset("alice@example.com")
        .unwrap();
    let (_, first) = fx.last_link("alice@example.com");
    fx.accounts
        .request_password_reset("alice@example.com")
        .unwrap();
    let (_, second) = fx.last_link("alice@example.com");
    fx.accounts
        .reset_password(&uid, &second, "Third-Pass-4471", &Actor::default())
        .unwrap();
    invalid_token(
        fx.accounts
            .reset_password(&uid, &first, "Fourth-Pass-8812", &Actor::default()),
    );
}

/// The token store, where `meanwhile` changes the account after a flow read
/// it and before its capped token is written.
struct ChangedMeanwhile {
    store: Arc<InMemoryStore>,
    meanwhile: fn(&InMemoryStore, &User),
}

impl AccountTokenStore for ChangedMeanwhile {
    fn insert_with_token(
        &self,
        user: &NewUser,
        grant: &TokenGrant,
        compose: &dyn Fn(&User) -> NewEmail,
    ) -> Result<User, UsersError> {
        self.store.insert_with_token(user, grant, compose)
    }

    fn issue_token(
        &self,
        user_id: UserId,
        grant: &TokenGrant,
        emails: &[NewEmail],
    ) -> Result<(), UsersError> {
        self.store.issue_token(user_id, grant, emails)
    }

    fn issue_token_capped(
        &self,
        read: &User,
        grant: &TokenGrant,
        emails: &[NewEmail],
        cap: &MailCap,
    ) -> Result<bool, UsersError> {
        (self.meanwhile)(&self.store, read);
        self.store.issue_token_capped(read, grant, emails, cap)
    }

    fn queue_emails_capped(
        &self,
        user_id: UserId,
        emails: &[NewEmail],
        cap: &MailCap,
    ) -> Result<bool, UsersError> {
        self.store.queue_emails_capped(user_id, emails, cap)
    }

    fn find_token(&self, token_hash: &str) -> Result<Option<AccountToken>, UsersError> {
        self.store.find_token(token_hash)
    }

    fn use_token(
        &self,
        token: &AccountToken,
        effect: &TokenEffect,
        now: Timestamp,
    ) -> Result<bool, UsersError> {
        self.store.use_token(token, effect, now)
    }
}

fn changed_meanwhile(meanwhile: fn(&InMemoryStore, &User)) -> Fixture {
    Fixture::with_token_store(false, |store| {
        Arc::new(ChangedMeanwhile { store, meanwhile })
    })
}

#[test]
fn a_reset_asked_for_as_the_address_changes_mails_no_link_to_the_old_one() {
    // The change ended every token of the account; one written just after
    // it would still take the account from the old mailbox.
    let fx = changed_meanwhile(|store, read| {
        let new = Email::parse("new@example.org", "email").unwrap();
        let changes = ProfileChanges {
            email: Some(Some(new)),
            ..ProfileChanges::default()
        };
        store.update_profile(read.id, &changes).unwrap();
    });
    fx.register("alice");
    fx.accounts
        .request_password_reset("alice@example.com")
        .unwrap();
    assert_eq!(fx.emails_to("alice@example.com"), 0);
    assert!(fx.store.tokens().is_empty());
}

#[test]
fn a_reset_asked_for_as_an_admin_deactivates_the_account_mails_nothing() {
    let fx = changed_meanwhile(|store, read| {
        store.set_flags(read.id, Some(false), None).unwrap();
    });
    fx.register("alice");
    fx.accounts
        .request_username_reset("alice@example.com")
        .unwrap();
    assert_eq!(fx.emails_to("alice@example.com"), 0);
    assert!(fx.store.tokens().is_empty());
}

#[test]
fn an_email_change_asked_for_as_the_account_changes_is_told_to_try_again() {
    // A login replaced the hash as the owner asked: no link went, and the
    // owner is not told to wait an hour for nothing.
    let fx = changed_meanwhile(|store, read| {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let rehashed = format!("{}-rehashed", read.password_hash);
        (store.change_password(read.id, &read.password_hash, &rehashed, None, now)).unwrap();
    });
    let alice = fx.register("alice");
    let asked = fx.accounts.request_email_change(
        &alice,
        PASSWORD,
        "alice@new.example.org",
        &Actor::default(),
    );
    let Err(UsersError::Invalid(errors)) = asked else {
        panic!("{asked:?}");
    };
    assert_eq!(
        (errors[0].field.as_str(), errors[0].code),
        ("new_email", "account_changed")
    );
    assert_eq!(fx.emails_to("alice@new.example.org"), 0);
}

#[test]
fn reset_requests_for_unknown_or_inactive_accounts_send_nothing() {
    let fx = Fixture::new(true);
    fx.register("inactive");
    let before = fx.emails().len();
    fx.accounts
        .request_password_reset("nobody@example.com")
        .unwrap();
    fx.accounts
        .request_username_reset("nobody@example.com")
        .unwrap();
    fx.accounts
        .request_password_reset("inactive@example.com")
        .unwrap();
    fx.accounts.request_password_reset("").unwrap();
    assert_eq!(fx.emails().len(), before);
}

#[test]
fn an_address_gets_a_few_flow_emails_an_hour_whoever_asks() {
    let fx = Fixture::new(false);
    fx.register("alice");
    // Someone asks for username resets again and again: three go out...
    for _ in 0..5 {
        fx.accounts
            .request_username_reset("alice@example.com")
            .unwrap();
    }
    assert_eq!(fx.emails_to("alice@example.com"), 3);
    // ...and they crowd out no password reset: each flow counts its own.
    for _ in 0..5 {
        fx.accounts
            .request_password_reset("alice@example.com")
            .unwrap();
    }
    assert_eq!(fx.emails_to("alice@example.com"), 6);
    fx.register("bob");
    fx.accounts
        .request_password_reset("bob@example.com")
        .unwrap();
    assert_eq!(
        fx.emails_to("bob@example.com"),
        1,
        "each address has its own count"
    );

    fx.clock.advance(Duration::minutes(61));
    fx.accounts
        .request_password_reset("alice@example.com")
        .unwrap();
    assert_eq!(
        fx.emails_to("alice@example.com"),
        7,
        "an hour later, one more"
    );
}

#[test]
fn login_candidates_then_authentication() {
    let fx = Fixture::new(false);
    let alice = fx.register("alice");
    let by_email = fx.accounts.login_candidates("ALICE@example.com").unwrap();
    assert_eq!(
        by_email.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![alice.id]
    );
    assert!(fx.accounts.login_candidates("nobody").unwrap().is_empty());
    let wrong = fx
        .accounts
        .authenticate_among(by_email.clone(), "not-the-password");
    assert!(matches!(wrong, Err(UsersError::InvalidCredentials)));
    let user = fx.accounts.authenticate_among(by_email, PASSWORD).unwrap();
    assert_eq!(user.id, alice.id);
    assert!(user.last_login.is_some());
}

#[test]
fn code_guessing_alerts_the_owner_through_the_queue() {
    let fx = Fixture::new(false);
    let alice = fx.register("alice");
    let wakes = fx.wakes.load(Ordering::SeqCst);
    fx.accounts.alert_code_guessing(&alice).unwrap();
    let alert = fx.emails().pop().unwrap();
    assert_eq!(alert.email.to, "alice@example.com");
    assert!(
        alert.email.text.contains("Change your password"),
        "{}",
        alert.email.text
    );
    assert_eq!(
        fx.wakes.load(Ordering::SeqCst),
        wakes + 1,
        "the sender is woken"
    );

    fx.accounts
        .request_password_reset("alice@example.com")
        .unwrap();
    fx.accounts.alert_code_guessing(&alice).unwrap();
    assert_eq!(
        fx.emails_to("alice@example.com"),
        2,
        "one alert an hour; the reset still goes"
    );
    fx.clock.advance(Duration::minutes(61));
    fx.accounts.alert_code_guessing(&alice).unwrap();
    assert_eq!(fx.emails_to("alice@example.com"), 3);
}

#[test]
fn a_new_passkey_is_told_to_the_owner_at_most_ten_times_an_hour() {
    let fx = Fixture::new(false);
    let alice = fx.register("alice");
    for n in 0..12 {
        fx.accounts
            .tell_owner_of_new_passkey(&alice, &format!("Key {n}"))
            .unwrap();
    }
    let notices = fx.emails();
    assert_eq!(notices.len(), 10);
    assert!(notices[0].email.text.contains("\"Key 0\""));
    assert!(notices[0].email.text.contains("remove it"));
    fx.clock.advance(Duration::minutes(61));
    fx.accounts
        .tell_owner_of_new_passkey(&alice, "Key 12")
        .unwrap();
    assert_eq!(fx.emails_to("alice@example.com"), 11);
}

#[test]
fn tokens_only_work_for_their_purpose() {
    let fx = Fixture::new(true);
    let alice = fx.register("alice");
    let (uid, activation) = fx.last_link("alice@example.com");
    invalid_token(
        fx.accounts
            .reset_password(&uid, &activation, NEW_PASSWORD, &Actor::default()),
    );
    invalid_token(
        fx.accounts
            .reset_username(&uid, &activation, "other", &Actor::default()),
    );
    fx.accounts
        .activate(&uid, &activation, &Actor::default())
        .unwrap();
    fx.accounts
        .request_password_reset("alice@example.com")
        .unwrap();
    let (_, reset) = fx.last_link("alice@example.com");
    invalid_token(
        fx.accounts
            .reset_username(&uid, &reset, "other", &Actor::default()),
    );
    assert_eq!(fx.reload(&alice).username, "alice");
}

// ----------------------------------------------------------- username reset

#[test]
fn username_reset_renames_once() {
    let fx = Fixture::new(false);
    let alice = fx.register("alice");
    fx.register("bob");
    fx.accounts
        .request_username_reset("alice@example.com")
        .unwrap();
    let email = fx.emails().pop().unwrap();
    assert_eq!(email.email.subject, "Reset your Sesame username");
    assert!(email
        .email
        .text
        .contains("http://localhost:3000/username/reset/confirm/"));
    let (uid, token) = fx.last_link("alice@example.com");

    // A taken or malformed name is refused and the token survives.
    let error = fx
        .accounts
        .reset_username(&uid, &token, "BOB", &Actor::default())
        .unwrap_err();
    assert_eq!(
        field_messages(&error, "new_username"),
        ["A user with that username already exists."]
    );
    let error = fx
        .accounts
        .reset_username(&uid, &token, "has space", &Actor::default())
        .unwrap_err();
    assert_eq!(field_messages(&error, "new_username").len(), 1);

    fx.accounts
        .reset_username(&uid, &token, "alice_renamed", &Actor::default())
        .unwrap();
    assert_eq!(fx.reload(&alice).username, "alice_renamed");
    fx.accounts.authenticate("alice_renamed", PASSWORD).unwrap();
    invalid_token(
        fx.accounts
            .reset_username(&uid, &token, "alice3", &Actor::default()),
    );
}

// ------------------------------------------------------------------ delivery

fn delivery<M: Mailer + 'static>(
    fx: &Fixture,
    mailer: &Arc<M>,
    policy: RetryPolicy,
) -> MailDelivery {
    MailDelivery::new(
        fx.store.clone(),
        mailer.clone(),
        fx.cipher.clone(),
        fx.clock.clone(),
        policy,
    )
}

#[test]
fn delivery_sends_due_emails_once_and_drops_their_text() {
    let fx = Fixture::new(true);
    let mailer = Arc::new(RecordingMailer::new());
    let delivery = delivery(&fx, &mailer, RetryPolicy::default());
    fx.register("alice");
    fx.register("bob");

    let report = delivery.deliver_due().unwrap();
    assert_eq!((report.sent, report.retried, report.failed), (2, 0, 0));
    assert_eq!(report.next_due, None);
    let sent = mailer.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].0.to, "alice@example.com");
    assert!(sent[0].0.text.contains("/activate/"));
    assert_ne!(sent[0].1, sent[1].1);
    for stored in fx.emails() {
        assert_eq!(stored.sent_at, Some(fx.clock.now()));
        assert!(stored.email.text.is_empty(), "the token left the database");
    }
    assert_eq!(delivery.deliver_due().unwrap().sent, 0);
    assert_eq!(mailer.sent().len(), 2);
}

#[test]
fn a_queued_email_holds_its_link_sealed_until_the_sender_opens_it() {
    let fx = Fixture::new(true);
    let mailer = Arc::new(RecordingMailer::new());
    fx.register("alice");
    let (_, token) = fx.last_link("alice@example.com");

    let stored = fx.store.emails().pop().unwrap();
    assert!(stored
        .email
        .text
        .contains("Please ask for it again.\n\nsealed:"));
    for clear in ["https://app.test/activate/", token.as_str(), "alice"] {
        assert!(
            !stored.email.text.contains(clear),
            "{clear} is in the queue"
        );
    }
    assert_eq!(stored.email.to, "alice@example.com");

    delivery(&fx, &mailer, RetryPolicy::default())
        .deliver_due()
        .unwrap();
    let sent = mailer.sent().pop().unwrap().0;
    assert!(sent.text.starts_with("Hello alice"));
    assert!(sent.text.contains(&token));
}

#[test]
fn an_email_sealed_with_another_key_is_given_up_never_sent_sealed() {
    let fx = Fixture::new(true);
    let mailer = Arc::new(RecordingMailer::new());
    fx.register("alice");
    let other_key = Arc::new(ChaChaCipher::new(&[6u8; 32]).unwrap());
    let delivery = MailDelivery::new(
        fx.store.clone(),
        mailer.clone(),
        other_key,
        fx.clock.clone(),
        RetryPolicy::default(),
    );

    let report = delivery.deliver_due().unwrap();
    assert_eq!((report.sent, report.retried, report.failed), (0, 0, 1));
    assert!(mailer.sent().is_empty());
    let stored = fx.store.emails().pop().unwrap();
    assert!(stored.failed_at.is_some() && stored.email.text.is_empty());
    assert!(stored.last_error.unwrap().contains("key"));
}

#[test]
fn an_email_an_older_version_queued_plain_is_sent_as_it_is() {
    let fx = Fixture::new(false);
    let mailer = Arc::new(RecordingMailer::new());
    let alice = fx.register("alice");
    let plain = OutgoingEmail {
        to: "alice@example.com".into(),
        subject: "Queued before sealing".into(),
        text: "Hello alice, a link: https://app.test/x".into(),
    };
    let cap = MailCap {
        recipient: plain.to.clone(),
        subject: None,
        since: fx.clock.now(),
        max: 10,
    };
    let queued = NewEmail::new(plain.clone(), fx.clock.now());
    assert!(fx
        .store
        .queue_emails_capped(alice.id, &[queued], &cap)
        .unwrap());

    delivery(&fx, &mailer, RetryPolicy::default())
        .deliver_due()
        .unwrap();
    assert_eq!(mailer.sent().pop().unwrap().0, plain);
}

#[test]
fn failed_sends_are_retried_with_exponential_backoff() {
    let fx = Fixture::new(true);
    let mailer = Arc::new(RecordingMailer::new());
    let policy = RetryPolicy {
        initial_backoff: Duration::seconds(2),
        max_backoff: Duration::seconds(10),
        ..RetryPolicy::default()
    };
    let delivery = delivery(&fx, &mailer, policy);
    fx.register("alice");
    mailer.fail_with(Some(MailError::transient("connection refused")));

    let start = fx.clock.now();
    let mut waits = Vec::new();
    for _ in 0..5 {
        let report = delivery.deliver_due().unwrap();
        assert_eq!(report.retried, 1);
        let next = report.next_due.unwrap();
        waits.push((next - fx.clock.now()).num_seconds());
        // Nothing is tried before it is due.
        fx.clock.advance(Duration::milliseconds(1500));
        assert_eq!(
            delivery.deliver_due().unwrap(),
            sesame_users::DeliveryReport {
                next_due: Some(next),
                ..Default::default()
            }
        );
        fx.clock.advance(next - fx.clock.now());
    }
    assert_eq!(waits, [2, 4, 8, 10, 10]);
    let stored = fx.emails().pop().unwrap();
    assert_eq!(stored.attempts, 5);
    assert_eq!(stored.last_error.as_deref(), Some("connection refused"));

    mailer.fail_with(None);
    assert_eq!(delivery.deliver_due().unwrap().sent, 1);
    assert_eq!(mailer.sent().len(), 1);
    assert!(fx.clock.now() > start);
}

#[test]
fn permanent_failures_and_too_many_attempts_give_up() {
    let fx = Fixture::new(true);
    let mailer = Arc::new(RecordingMailer::new());
    let policy = RetryPolicy {
        initial_backoff: Duration::seconds(1),
        max_backoff: Duration::seconds(1),
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    let delivery = delivery(&fx, &mailer, policy);
    fx.register("alice");
    mailer.fail_with(Some(MailError::permanent("550 no such user")));
    assert_eq!(delivery.deliver_due().unwrap().failed, 1);
    let stored = fx.emails().pop().unwrap();
    assert!(stored.failed_at.is_some() && stored.email.text.is_empty());

    fx.register("bob");
    mailer.fail_with(Some(MailError::transient("timeout")));
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let report = delivery.deliver_due().unwrap();
        outcomes.push((report.retried, report.failed));
        fx.clock.advance(Duration::seconds(1));
    }
    assert_eq!(outcomes, [(1, 0), (1, 0), (0, 1)]);
    mailer.fail_with(None);
    assert_eq!(delivery.deliver_due().unwrap().sent, 0);
}

/// A relay each conversation with which takes `delay`, recording what it
/// sent in `sent`; during its second, another instance runs a delivery
/// pass of its own.
struct Relay {
    clock: Arc<FakeClock>,
    delay: Duration,
    conversations: AtomicUsize,
    other_instance: std::sync::Mutex<Option<MailDelivery>>,
    sent: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Mailer for Relay {
    fn send(&self, email: &sesame_users::OutgoingEmail, _key: &str) -> Result<(), MailError> {
        self.clock.advance(self.delay);
        if self.conversations.fetch_add(1, Ordering::SeqCst) == 1 {
            let other = self.other_instance.lock().unwrap().take();
            other.unwrap().deliver_due().unwrap();
        }
        self.sent.lock().unwrap().push(email.to.clone());
        Ok(())
    }
}

#[test]
fn a_slow_relay_never_lets_two_senders_send_one_email() {
    let fx = Fixture::new(true);
    let policy = RetryPolicy::default();
    for name in ["alice", "bob", "carol"] {
        fx.register(name);
    }
    let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
    // Each conversation well within the lease; two of them past it.
    let relay = |delay| {
        Arc::new(Relay {
            clock: fx.clock.clone(),
            delay,
            conversations: AtomicUsize::new(0),
            other_instance: std::sync::Mutex::default(),
            sent: sent.clone(),
        })
    };
    let (slow, fast) = (
        relay(policy.lease / 2 + Duration::seconds(1)),
        relay(Duration::zero()),
    );
    let instance = |relay: &Arc<Relay>| delivery(&fx, relay, policy);
    *slow.other_instance.lock().unwrap() = Some(instance(&fast));
    instance(&slow).deliver_due().unwrap();
    let mut sent = sent.lock().unwrap().clone();
    sent.sort();
    assert_eq!(
        sent,
        ["alice@example.com", "bob@example.com", "carol@example.com"]
    );
}

#[test]
fn an_email_claimed_by_a_sender_that_died_is_sent_after_its_lease() {
    use sesame_users::MailQueue;
    let fx = Fixture::new(true);
    let mailer = Arc::new(RecordingMailer::new());
    let policy = RetryPolicy::default();
    let delivery = delivery(&fx, &mailer, policy);
    fx.register("alice");
    // Another sender claims it, then crashes before sending.
    let now = fx.clock.now();
    assert_eq!(
        fx.store
            .claim_due(now, now + policy.lease, 10)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(delivery.deliver_due().unwrap().sent, 0);
    fx.clock.advance(policy.lease);
    assert_eq!(delivery.deliver_due().unwrap().sent, 1);
}

// ------------------------------------------------------------------- avatars

#[test]
fn avatars_are_stored_replaced_and_removed() {
    let fx = Fixture::new(false);
    let alice = fx.register("alice");

    let user = fx
        .accounts
        .update_profile_with_avatar(
            &alice,
            alice.id,
            ProfileUpdate {
                first_name: Some("Alice".into()),
                ..ProfileUpdate::default()
            },
            AvatarChange::Upload(PNG.to_vec()),
            &Actor::default(),
        )
        .unwrap();
    assert_eq!(user.first_name, "Alice");
    let first = user.avatar.clone().unwrap();
    assert!(first.ends_with(".png"));
    assert_eq!(fx.avatars.names(), std::slice::from_ref(&first));
    let (bytes, kind) = fx.accounts.avatar_file(&first).unwrap().unwrap();
    assert_eq!((bytes.as_slice(), kind.content_type()), (PNG, "image/png"));

    // A refused upload changes nothing, the other fields included.
    for (bad, message, code) in [
        (
            b"<svg></svg>".to_vec(),
            "Upload a valid image",
            "invalid_image",
        ),
        (
            [PNG, &[0u8; 64]].concat(),
            "no larger than 64 bytes",
            "file_too_large",
        ),
        (Vec::new(), "empty", "empty_file"),
    ] {
        let error = fx
            .accounts
            .update_profile_with_avatar(
                &user,
                user.id,
                ProfileUpdate {
                    last_name: Some("Changed".into()),
                    ..ProfileUpdate::default()
                },
                AvatarChange::Upload(bad),
                &Actor::default(),
            )
            .unwrap_err();
        assert!(
            field_messages(&error, "avatar")[0].contains(message),
            "{error:?}"
        );
        assert_eq!(field_codes(&error), [("avatar", code)]);
    }
    let user = fx.reload(&user);
    assert_eq!(
        (user.avatar.as_deref(), user.last_name.as_str()),
        (Some(first.as_str()), "")
    );
    assert_eq!(fx.avatars.names(), std::slice::from_ref(&first));

    // Replacing removes the old file.
    let user = fx
        .accounts
        .update_profile_with_avatar(
            &user,
            user.id,
            ProfileUpdate::default(),
            AvatarChange::Upload(GIF.to_vec()),
            &Actor::default(),
        )
        .unwrap();
    let second = user.avatar.clone().unwrap();
    assert!(second.ends_with(".gif") && second != first);
    assert_eq!(fx.avatars.names(), std::slice::from_ref(&second));
    assert!(fx.accounts.avatar_file(&first).unwrap().is_none());

    // Removing.
    let user = fx
        .accounts
        .update_profile_with_avatar(
            &user,
            user.id,
            ProfileUpdate::default(),
            AvatarChange::Remove,
            &Actor::default(),
        )
        .unwrap();
    assert_eq!(user.avatar, None);
    assert!(fx.avatars.names().is_empty());

    // Deleting the account removes its avatar.
    let user = fx
        .accounts
        .update_profile_with_avatar(
            &user,
            user.id,
            ProfileUpdate::default(),
            AvatarChange::Upload(PNG.to_vec()),
            &Actor::default(),
        )
        .unwrap();
    assert_eq!(fx.avatars.names().len(), 1);
    fx.accounts
        .delete_account(&user, user.id, PASSWORD, &Actor::default())
        .unwrap();
    assert!(fx.avatars.names().is_empty());

    // So does a delete without a password check.
    let bob = fx.register("bob");
    fx.accounts
        .update_profile_with_avatar(
            &bob,
            bob.id,
            ProfileUpdate::default(),
            AvatarChange::Upload(PNG.to_vec()),
            &Actor::default(),
        )
        .unwrap();
    fx.accounts
        .delete_as(&bob, bob.id, &Actor::default())
        .unwrap();
    assert!(fx.avatars.names().is_empty());
}

#[test]
fn an_upload_deletes_the_file_its_change_replaced_not_the_one_it_was_sent_with() {
    // Two uploads at once both start from the account as it was; the one
    // stored second must delete the file the first stored, or it stays on
    // disk (and served) with no account naming it.
    let fx = Fixture::new(false);
    let stale = fx.register("alice");
    let upload = |bytes: &[u8]| {
        fx.accounts
            .update_profile_with_avatar(
                &stale,
                stale.id,
                ProfileUpdate::default(),
                AvatarChange::Upload(bytes.to_vec()),
                &Actor::default(),
            )
            .unwrap()
    };
    upload(PNG);
    let second = upload(GIF).avatar.unwrap();
    assert_eq!(fx.avatars.names(), [second]);
}

#[test]
fn avatar_names_that_are_not_ours_are_not_found() {
    let fx = Fixture::new(false);
    for name in ["../jwt_secret", "x.png", "", "..", "%2e%2e%2fsesame.db"] {
        assert!(fx.accounts.avatar_file(name).unwrap().is_none(), "{name}");
    }
}

#[test]
fn a_user_only_edits_their_own_avatar_unless_admin() {
    let fx = Fixture::new(false);
    let alice = fx.register("alice");
    let bob = fx.register("bob");
    let error = fx
        .accounts
        .update_profile_with_avatar(
            &bob,
            alice.id,
            ProfileUpdate::default(),
            AvatarChange::Upload(PNG.to_vec()),
            &Actor::default(),
        )
        .unwrap_err();
    assert!(matches!(error, UsersError::NotFound));
    assert!(fx.avatars.names().is_empty());
    fx.store.set_flags(bob.id, None, Some(true)).unwrap();
    let bob = fx.reload(&bob);
    let alice = fx
        .accounts
        .update_profile_with_avatar(
            &bob,
            alice.id,
            ProfileUpdate::default(),
            AvatarChange::Upload(PNG.to_vec()),
            &Actor::default(),
        )
        .unwrap();
    assert!(alice.avatar.is_some());
}

#[test]
fn an_email_change_waits_for_the_new_address_to_confirm() {
    let fx = Fixture::new(false);
    let alice = fx.register("alice");
    let other = fx.register("other");
    let wrong = fx.accounts.request_email_change(
        &alice,
        "not-the-password",
        "alice@new.example.com",
        &Actor::default(),
    );
    assert!(matches!(wrong, Err(UsersError::WrongCurrentPassword)));
    let taken = fx.accounts.request_email_change(
        &alice,
        PASSWORD,
        other.email.as_deref().unwrap(),
        &Actor::default(),
    );
    assert!(taken.unwrap_err().is_taken());
    let own =
        fx.accounts
            .request_email_change(&alice, PASSWORD, "ALICE@example.com", &Actor::default());
    assert_eq!(
        field_messages(&own.unwrap_err(), "new_email"),
        ["This is already your email address."]
    );

    fx.accounts
        .request_email_change(&alice, PASSWORD, "alice@new.example.com", &Actor::default())
        .unwrap();
    assert_eq!(fx.emails_to("alice@new.example.com"), 1, "the link");
    assert_eq!(fx.emails_to("alice@example.com"), 1, "the notice");
    assert_eq!(
        fx.reload(&alice).email.as_deref(),
        Some("alice@example.com")
    );

    let (uid, token) = fx.last_link("alice@new.example.com");
    let (random, _) = token.split_once('.').unwrap();
    invalid_token(fx.accounts.confirm_email_change(
        &uid,
        &format!("{random}.bWFsbG9yeUBleGFtcGxlLmNvbQ"),
        &Actor::default(),
    ));
    fx.accounts
        .confirm_email_change(&uid, &token, &Actor::default())
        .unwrap();
    assert_eq!(
        fx.reload(&alice).email.as_deref(),
        Some("alice@new.example.com")
    );
    invalid_token(
        fx.accounts
            .confirm_email_change(&uid, &token, &Actor::default()),
    );
}

#[test]
fn email_changes_send_anyone_no_more_emails_than_the_flows_do() {
    // Anyone with an account may name any address: it must not become a
    // way to flood it, in whatever case it is typed.
    let fx = Fixture::new(false);
    let mallory = fx.register("mallory");
    for address in [
        "victim@example.org",
        "Victim@example.org",
        "VICTIM@Example.org",
    ] {
        fx.accounts
            .request_email_change(&mallory, PASSWORD, address, &Actor::default())
            .unwrap();
    }
    let fourth = fx.accounts.request_email_change(
        &mallory,
        PASSWORD,
        "victim@EXAMPLE.org",
        &Actor::default(),
    );
    let to_victim = fx
        .emails()
        .iter()
        .filter(|e| e.email.to.eq_ignore_ascii_case("victim@example.org"))
        .count();
    assert_eq!(to_victim, 3);
    // Whoever asks for the fourth learns that none comes, and why.
    let Err(UsersError::Invalid(errors)) = fourth else {
        panic!("{fourth:?}");
    };
    assert_eq!(
        (errors[0].field.as_str(), errors[0].code),
        ("new_email", "link_not_sent")
    );
}

#[test]
fn the_old_address_gets_a_few_change_notices_an_hour_whoever_asks() {
    // An account registered with someone else's address (nothing proves
    // it) asks to move to ever new addresses: each new one gets its link,
    // the old one no flood of notices.
    let fx = Fixture::new(false);
    let mallory = fx.register("mallory");
    for n in 0..10 {
        let address = format!("m{n}@attacker.example");
        fx.accounts
            .request_email_change(&mallory, PASSWORD, &address, &Actor::default())
            .unwrap();
        assert_eq!(fx.emails_to(&address), 1);
    }
    assert_eq!(fx.emails_to("mallory@example.com"), 3);
    // The notices crowd out none of the owner's own flows.
    fx.accounts
        .request_password_reset("mallory@example.com")
        .unwrap();
    assert_eq!(fx.emails_to("mallory@example.com"), 4);
}

#[test]
fn removing_ones_own_address_is_told_to_it() {
    // Someone who knows the password removes the address, then moves the
    // account to theirs: the owner heard of the first step.
    let fx = Fixture::new(false);
    let alice = fx.register("alice");
    let removal = ProfileUpdate {
        email: Some(" ".into()),
        current_password: Some(PASSWORD.into()),
        ..ProfileUpdate::default()
    };
    let edit = fx
        .accounts
        .edit_profile(
            &alice,
            alice.id,
            removal,
            AvatarChange::Keep,
            &Actor::default(),
        )
        .unwrap();
    assert_eq!(edit.user.email, None);
    assert_eq!(fx.emails_to("alice@example.com"), 1);
    let notice = fx.emails().last().unwrap().email.text.clone();
    assert!(notice.contains("was removed"), "{notice}");

    // Removing what is not there tells no one.
    let alice = fx.reload(&alice);
    let again = ProfileUpdate {
        email: Some(String::new()),
        current_password: Some(PASSWORD.into()),
        ..ProfileUpdate::default()
    };
    fx.accounts
        .edit_profile(
            &alice,
            alice.id,
            again,
            AvatarChange::Keep,
            &Actor::default(),
        )
        .unwrap();
    assert_eq!(fx.emails().len(), 1);
}

#[test]
fn an_email_change_link_expires_after_an_hour() {
    let fx = Fixture::new(false);
    let alice = fx.register("alice");
    fx.accounts
        .request_email_change(&alice, PASSWORD, "alice@new.example.com", &Actor::default())
        .unwrap();
    let (uid, token) = fx.last_link("alice@new.example.com");
    fx.clock.advance(Duration::minutes(61));
    invalid_token(
        fx.accounts
            .confirm_email_change(&uid, &token, &Actor::default()),
    );
    assert_eq!(
        fx.reload(&alice).email.as_deref(),
        Some("alice@example.com")
    );
}

#[test]
fn an_own_email_in_the_profile_starts_the_confirmed_change() {
    let fx = Fixture::new(false);
    let alice = fx.register("alice");
    fx.accounts
        .request_password_reset("alice@example.com")
        .unwrap();
    let (reset_uid, reset) = fx.last_link("alice@example.com");
    let edit = fx
        .accounts
        .edit_profile(
            &alice,
            alice.id,
            ProfileUpdate {
                email: Some("alice@new.example.com".into()),
                current_password: Some(PASSWORD.into()),
                ..ProfileUpdate::default()
            },
            AvatarChange::Keep,
            &Actor::default(),
        )
        .unwrap();
    assert!(edit.email_change_started);
    assert!(edit.changed.is_empty(), "{:?}", edit.changed);
    assert_eq!(edit.user.email.as_deref(), Some("alice@example.com"));
    assert_eq!(fx.emails_to("alice@new.example.com"), 1, "the link");
    assert_eq!(
        fx.emails_to("alice@example.com"),
        2,
        "the reset and the notice"
    );

    // Until the link is used, the reset still works for the old address;
    // once it is, every flow of the old address is over.
    let (uid, token) = fx.last_link("alice@new.example.com");
    fx.accounts
        .confirm_email_change(&uid, &token, &Actor::default())
        .unwrap();
    assert_eq!(
        fx.reload(&alice).email.as_deref(),
        Some("alice@new.example.com")
    );
    invalid_token(fx.accounts.reset_password(
        &reset_uid,
        &reset,
        "Another-long-pass-42",
        &Actor::default(),
    ));
}

#[test]
fn email_flows_waiting_to_run_are_bounded() {
    // A flood from many addresses drops flows rather than queue them
    // without end ahead of other work.
    let fx = Fixture::new(false);
    let address = |n: usize| format!("user{n}@example.com");
    let reset = |email: &str| fx.accounts.mail_flow_place(MailFlow::PasswordReset, email);
    let rename = |email: &str| fx.accounts.mail_flow_place(MailFlow::UsernameReset, email);
    let waiting: Vec<_> = (0..32).map(|n| rename(&address(n)).unwrap()).collect();
    assert!(matches!(rename(&address(32)), Err(UsersError::Storage(_))));
    // A flood of one flow leaves the others' places.
    let held = reset("alice@example.com").unwrap();
    drop(waiting);
    // One address, whose flows take turns on its locks, holds one place
    // of each flow (in any spelling).
    assert!(reset("ALICE@example.com").is_err());
    let _rename = rename("alice@example.com").unwrap();
    drop(held);
    reset("alice@example.com").unwrap();
    // An address no account can have is not even keyed.
    let long = format!("{}@example.com", "a".repeat(300));
    assert!(matches!(reset(&long), Err(UsersError::Invalid(_))));
}

#[test]
fn an_admin_email_change_ends_the_flows_of_the_old_address() {
    let fx = Fixture::new(false);
    let alice = fx.register("alice");
    let root = fx.register("root");
    fx.store.set_flags(root.id, None, Some(true)).unwrap();
    let root = fx.reload(&root);
    fx.accounts
        .request_password_reset("alice@example.com")
        .unwrap();
    let (uid, reset) = fx.last_link("alice@example.com");
    let edit = fx
        .accounts
        .edit_profile(
            &root,
            alice.id,
            ProfileUpdate {
                email: Some("alice@new.example.com".into()),
                current_password: Some(PASSWORD.into()),
                ..ProfileUpdate::default()
            },
            AvatarChange::Keep,
            &Actor::default(),
        )
        .unwrap();
    assert_eq!(edit.changed, ["email"]);
    assert_eq!(edit.user.email.as_deref(), Some("alice@new.example.com"));
    // The old address is told: a stolen admin token and password would
    // otherwise move the account without a word to its owner.
    let notice = fx.emails().last().unwrap().email.clone();
    assert_eq!(notice.to, "alice@example.com");
    assert!(
        notice.text.contains("An admin changed the email address"),
        "{}",
        notice.text
    );
    invalid_token(fx.accounts.reset_password(
        &uid,
        &reset,
        "Another-long-pass-42",
        &Actor::default(),
    ));
}

// -------------------------------------------------------------------- audit

#[test]
fn email_flows_are_audited_once_they_succeed() {
    let fx = Fixture::new(true);
    let audit = Arc::new(sesame_testkit::InMemoryAudit::new());
    let accounts = fx.accounts.clone().with_audit(audit.clone());
    let alice = fx.register("alice");
    let visitor = Actor {
        user: None,
        ip: Some("198.51.100.9".into()),
        user_agent: Some("browser".into()),
    };
    let (uid, token) = fx.last_link("alice@example.com");
    invalid_token(accounts.activate(&uid, "wrong", &visitor));
    accounts.activate(&uid, &token, &visitor).unwrap();
    assert_eq!(
        accounts.activate(&uid, &token, &visitor).unwrap(),
        Activation::AlreadyActive
    );

    accounts
        .request_password_reset("alice@example.com")
        .unwrap();
    let (uid, token) = fx.last_link("alice@example.com");
    assert!(accounts
        .reset_password(&uid, &token, "password", &visitor)
        .is_err());
    accounts
        .reset_password(&uid, &token, NEW_PASSWORD, &visitor)
        .unwrap();
    invalid_token(accounts.reset_password(&uid, &token, NEW_PASSWORD, &visitor));

    accounts
        .request_username_reset("alice@example.com")
        .unwrap();
    let (uid, token) = fx.last_link("alice@example.com");
    assert!(accounts
        .reset_username(&uid, &token, "has space", &visitor)
        .is_err());
    accounts
        .reset_username(&uid, &token, "alice2", &visitor)
        .unwrap();
    assert_eq!(
        audit.kinds(),
        ["account_activated", "password_reset", "username_reset"]
    );

    let alice = fx.reload(&alice);
    let herself = Actor {
        user: Some(alice.id),
        ..visitor.clone()
    };
    assert!(accounts
        .request_email_change(&alice, PASSWORD, "alice@new.example.com", &herself)
        .is_err());
    accounts
        .request_email_change(&alice, NEW_PASSWORD, "alice@new.example.com", &herself)
        .unwrap();
    let (uid, token) = fx.last_link("alice@new.example.com");
    invalid_token(accounts.confirm_email_change(&uid, "wrong.token", &visitor));
    accounts
        .confirm_email_change(&uid, &token, &visitor)
        .unwrap();
    let edit = ProfileUpdate {
        email: Some("alice@third.example.com".into()),
        current_password: Some(NEW_PASSWORD.into()),
        ..ProfileUpdate::default()
    };
    let alice = fx.reload(&alice);
    accounts
        .edit_profile(&alice, alice.id, edit, AvatarChange::Keep, &herself)
        .unwrap();
    let removal = ProfileUpdate {
        email: Some(String::new()),
        current_password: Some(NEW_PASSWORD.into()),
        ..ProfileUpdate::default()
    };
    accounts
        .edit_profile(&alice, alice.id, removal, AvatarChange::Keep, &herself)
        .unwrap();

    assert_eq!(
        audit.kinds(),
        [
            "account_activated",
            "password_reset",
            "username_reset",
            "email_change_requested",
            "email_changed",
            "email_change_requested",
            "email_removed",
        ]
    );
    let events = audit.events();
    assert!(events.iter().all(|e| e.user_id == Some(alice.id)
        && e.ip.as_deref() == Some("198.51.100.9")
        && e.user_agent.as_deref() == Some("browser")
        && e.detail.is_none()));
}
