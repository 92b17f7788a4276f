//! The login use case over in-memory fakes: what counts against an account,
//! when it is locked, when its owner is alerted, and what is audited.

use std::sync::Arc;

use chrono::Duration;
use sesame_kernel::audit::{Actor, AuditKey};
use sesame_kernel::Clock;
use sesame_testkit::{
    ChangedWhileVerifying, CodesMeanwhile, CountingThrottle, FakeClock, InMemoryAudit, InMemoryMfa,
    InMemoryStore,
};
use sesame_tokens::{
    totp_code, ChaChaCipher, ConfirmationsAsLogins, Credentials, JwtKeys, Lockout, LockoutSettings,
    LoginKey, LoginService, LoginThrottle, MfaRepository, MfaService, NewSession, SessionKind,
    SessionService, TokenSettings, TokensError, PASSWORD_ALERT_AFTER, SECOND_FACTOR_ALERT_AFTER,
};
use sesame_users::{
    AccountMail, AccountService, AccountSettings, BcryptHasher, ConfirmationThrottle,
    LinkTemplates, Password, PasswordHasher, Registration, TokenLifetimes, User, UserRepository,
    UsersError,
};

const PASSWORD: &str = "Zq7!vR2#kLm";
const FAILURES_BEFORE_LOCK: u32 = 3;

struct Fixture {
    store: Arc<InMemoryStore>,
    clock: Arc<FakeClock>,
    audit: Arc<InMemoryAudit>,
    throttle: Arc<CountingThrottle>,
    accounts: AccountService,
    mfa: MfaService,
    login: LoginService,
}

fn fixture() -> Fixture {
    fixture_locking_at(FAILURES_BEFORE_LOCK)
}

/// A fixture whose throttle locks a key at its `limit`-th failure.
fn fixture_locking_at(limit: u32) -> Fixture {
    let throttle = Arc::new(CountingThrottle::new(limit));
    fixture_with(throttle, Arc::new(BcryptHasher::new(4).unwrap()))
}

fn fixture_with(throttle: Arc<CountingThrottle>, hasher: Arc<dyn PasswordHasher>) -> Fixture {
    fixture_over(throttle, hasher, Arc::new(InMemoryMfa::new()))
}

fn fixture_over(
    throttle: Arc<CountingThrottle>,
    hasher: Arc<dyn PasswordHasher>,
    codes: Arc<dyn MfaRepository>,
) -> Fixture {
    let store = Arc::new(InMemoryStore::new());
    let clock = Arc::new(FakeClock::new());
    let audit = Arc::new(InMemoryAudit::new());
    let accounts = AccountService::new(
        store.clone(),
        hasher,
        clock.clone(),
        AccountSettings::default(),
    )
    .with_mail(AccountMail {
        store: store.clone(),
        links: LinkTemplates::default(),
        lifetimes: TokenLifetimes::default(),
        queued: Arc::new(|| {}),
        cipher: Arc::new(ChaChaCipher::new(&[5u8; 32]).unwrap()),
    });
    let sessions = SessionService::new(
        store.clone(),
        store.clone(),
        clock.clone(),
        JwtKeys::from_secret(&[7u8; 32]).unwrap(),
        TokenSettings::default(),
    );
    let mfa = MfaService::new(
        codes,
        Arc::new(ChaChaCipher::new(&[9u8; 32]).unwrap()),
        clock.clone(),
    );
    let login = LoginService::new(
        accounts.clone(),
        sessions,
        mfa.clone(),
        throttle.clone(),
        audit.clone(),
        AuditKey::derive(b"a server secret of some length...."),
        clock.clone(),
    );
    Fixture {
        store,
        clock,
        audit,
        throttle,
        accounts,
        mfa,
        login,
    }
}

fn credentials(login: &str, password: &str) -> Credentials {
    Credentials {
        login: login.to_owned(),
        password: password.to_owned(),
        otp: None,
    }
}

fn browser() -> Actor {
    Actor {
        user: None,
        ip: Some("203.0.113.9".into()),
        user_agent: Some("Evil\u{1b}[2J agent".into()),
    }
}

impl Fixture {
    fn user(&self, username: &str) -> User {
        self.accounts
            .register(Registration {
                username: username.to_owned(),
                email: Some(format!("{username}@example.com")),
                password: PASSWORD.to_owned(),
                ..Registration::default()
            })
            .unwrap()
    }

    /// Turns TOTP on for `user`; returns its secret.
    fn totp(&self, user: &User) -> String {
        let setup = self.mfa.setup(user).unwrap();
        let code = totp_code(&setup.secret, self.clock.now().timestamp()).unwrap();
        self.mfa
            .confirm(user, &code, None, &Actor::default())
            .unwrap();
        self.clock.advance(Duration::seconds(30));
        setup.secret
    }

    /// The emails queued so far whose subject says `about`.
    fn mails_about(&self, about: &str) -> usize {
        let emails = self.store.emails();
        emails
            .iter()
            .filter(|e| e.email.subject.contains(about))
            .count()
    }

    /// The password-guessing alerts mailed so far.
    fn password_alerts(&self) -> usize {
        self.mails_about("trying passwords")
    }

    /// The code-guessing alerts mailed so far.
    fn alerts(&self) -> usize {
        self.mails_about("trying to sign in")
    }

    fn check(&self, login: &str, password: &str) -> Result<User, TokensError> {
        self.login.check(&credentials(login, password), &browser())
    }
}

#[test]
fn a_login_opens_the_session_kind_asked_for_and_is_audited_with_its_actor() {
    let f = fixture();
    let ada = f.user("ada");
    let jwt = f
        .login
        .log_in(&credentials("ada", PASSWORD), &browser(), SessionKind::Jwt)
        .unwrap();
    assert_eq!(jwt.user.id, ada.id);
    assert!(jwt.user.last_login.is_some());
    assert!(matches!(jwt.session, NewSession::Jwt(_)));
    let opaque = f
        .login
        .log_in(
            &credentials("ada@example.com", PASSWORD),
            &browser(),
            SessionKind::Opaque,
        )
        .unwrap();
    assert!(matches!(opaque.session, NewSession::Opaque(_)));
    let sessions = f.store.all_sessions();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0].client.ip.as_deref(), Some("203.0.113.9"));

    let events = f.audit.events();
    assert_eq!(f.audit.kinds(), ["login_success", "login_success"]);
    assert_eq!(events[0].user_id, Some(ada.id));
    assert_eq!(events[0].ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(
        events[0].user_agent.as_deref(),
        Some("Evil\\u{1b}[2J agent"),
        "control characters are escaped"
    );
    assert_eq!(events[0].detail.as_deref(), Some("login \"ada\""));
}

#[test]
fn wrong_passwords_count_against_the_account_and_lock_it() {
    let f = fixture();
    let ada = f.user("ada");
    for _ in 1..FAILURES_BEFORE_LOCK {
        assert!(matches!(
            f.check("ada", "wrong password"),
            Err(TokensError::LoginRefused)
        ));
    }
    // The failure that locks the account is answered as locked.
    assert!(matches!(
        f.check("ada", "wrong password"),
        Err(TokensError::LoginThrottled(60))
    ));
    // Its email names the same account: one count.
    assert_eq!(
        f.throttle.failures(&LoginKey::Account(ada.id)),
        FAILURES_BEFORE_LOCK
    );
    assert!(
        matches!(
            f.check("ada@example.com", PASSWORD),
            Err(TokensError::LoginThrottled(60))
        ),
        "locked even with the right password"
    );
    let kinds = f.audit.kinds();
    assert_eq!(kinds.last().map(String::as_str), Some("login_throttled"));
    assert_eq!(
        kinds.iter().filter(|k| *k == "login_failure").count(),
        FAILURES_BEFORE_LOCK as usize - 1
    );
    assert!(f.audit.events().iter().all(|e| e.user_id == Some(ada.id)));
}

/// bcrypt, while other guesses of the same burst fail and lock the account
/// during each check.
struct BurstOfGuesses {
    bcrypt: BcryptHasher,
    throttle: Arc<CountingThrottle>,
}

impl PasswordHasher for BurstOfGuesses {
    fn hash(&self, password: &Password) -> Result<String, UsersError> {
        self.bcrypt.hash(password)
    }

    fn verify(&self, candidate: &str, stored_hash: &str) -> bool {
        let keys = [LoginKey::Account(sesame_kernel::UserId(1))];
        for _ in 0..FAILURES_BEFORE_LOCK {
            self.throttle.record_failure(&keys);
        }
        self.bcrypt.verify(candidate, stored_hash)
    }

    fn spend_verify_time(&self, candidate: &str) {
        self.bcrypt.spend_verify_time(candidate);
    }
}

#[test]
fn a_guess_checked_while_its_burst_locked_the_account_is_not_answered() {
    // Guesses sent at once all pass the lock check before any fails: the
    // right one among them must not get in once the others have locked the
    // account, nor be told apart from the wrong ones.
    let throttle = Arc::new(CountingThrottle::new(FAILURES_BEFORE_LOCK));
    let hasher = BurstOfGuesses {
        bcrypt: BcryptHasher::new(4).unwrap(),
        throttle: throttle.clone(),
    };
    let f = fixture_with(throttle, Arc::new(hasher));
    let ada = f.user("ada");
    assert_eq!(ada.id.0, 1);
    for password in [PASSWORD, "wrong password"] {
        assert!(matches!(
            f.check("ada", password),
            Err(TokensError::LoginThrottled(60))
        ));
    }
    assert!(f.store.all_sessions().is_empty());
}

#[test]
fn a_right_code_checked_while_its_burst_locked_the_account_is_not_answered() {
    // With the password known, codes sent at once all pass the lock checks
    // before any is found wrong: the right one must not get in once the
    // others have locked the account.
    let throttle = Arc::new(CountingThrottle::new(FAILURES_BEFORE_LOCK));
    let burst = throttle.clone();
    let codes = CodesMeanwhile {
        // Other codes of the same burst fail and lock the account.
        while_using_a_step: Some(Box::new(move |_, user| {
            for _ in 0..FAILURES_BEFORE_LOCK {
                burst.record_failure(&[LoginKey::Account(user)]);
            }
        })),
        ..CodesMeanwhile::default()
    };
    let f = fixture_over(
        throttle.clone(),
        Arc::new(BcryptHasher::new(4).unwrap()),
        Arc::new(codes),
    );
    let ada = f.user("ada");
    let secret = f.totp(&ada);
    throttle.record_success(&[LoginKey::Account(ada.id)]);
    let code = totp_code(&secret, f.clock.now().timestamp()).unwrap();
    let with_code = Credentials {
        otp: Some(code),
        ..credentials("ada", PASSWORD)
    };
    assert!(matches!(
        f.login.check(&with_code, &browser()),
        Err(TokensError::LoginThrottled(60))
    ));
    assert!(f.store.all_sessions().is_empty());
    assert_eq!(
        f.audit.kinds().last().map(String::as_str),
        Some("login_throttled")
    );
}

#[test]
fn only_a_login_that_passes_every_check_is_recorded_as_one() {
    // A right password with a missing or wrong code, or refused because
    // its burst locked the account, is no login: `last_login` would tell
    // the owner (and an admin) otherwise.
    let f = fixture();
    let ada = f.user("ada");
    let secret = f.totp(&ada);
    let with_code = |code: &str| Credentials {
        otp: Some(code.to_owned()),
        ..credentials("ada", PASSWORD)
    };
    for refused in [
        f.login.check(&credentials("ada", PASSWORD), &browser()),
        f.login.check(&with_code("000000"), &browser()),
    ] {
        assert!(refused.is_err());
        assert_eq!(f.accounts.get(ada.id).unwrap().last_login, None);
    }
    let code = totp_code(&secret, f.clock.now().timestamp()).unwrap();
    let logged_in = f.login.check(&with_code(&code), &browser()).unwrap();
    assert!(logged_in.last_login.is_some());
    assert_eq!(
        f.accounts.get(ada.id).unwrap().last_login,
        logged_in.last_login
    );

    let throttle = Arc::new(CountingThrottle::new(FAILURES_BEFORE_LOCK));
    let hasher = BurstOfGuesses {
        bcrypt: BcryptHasher::new(4).unwrap(),
        throttle: throttle.clone(),
    };
    let burst = fixture_with(throttle, Arc::new(hasher));
    let bea = burst.user("bea");
    assert!(matches!(
        burst.check("bea", PASSWORD),
        Err(TokensError::LoginThrottled(_))
    ));
    assert_eq!(burst.accounts.get(bea.id).unwrap().last_login, None);
}

#[test]
fn a_good_login_starts_the_count_over() {
    let f = fixture();
    let ada = f.user("ada");
    f.check("ada", "wrong password").unwrap_err();
    f.check("ada", PASSWORD).unwrap();
    assert_eq!(f.throttle.failures(&LoginKey::Account(ada.id)), 0);
}

#[test]
fn unknown_logins_count_by_their_normal_form_and_are_audited_as_keyed_digests() {
    let f = fixture();
    f.user("ada");
    let typed = "Hunter2-Secret";
    assert!(matches!(
        f.check(typed, PASSWORD),
        Err(TokensError::LoginRefused)
    ));
    f.check(" hunter2-secret ", PASSWORD).unwrap_err();
    assert_eq!(f.throttle.failures(&LoginKey::unknown("HUNTER2-SECRET")), 2);
    let events = f.audit.events();
    assert!(events.iter().all(|e| e.kind == "login_failure"));
    assert!(events.iter().all(|e| e.user_id.is_none()));
    let detail = events[0].detail.clone().unwrap();
    assert!(detail.starts_with("login hmac:"), "{detail}");
    assert!(!detail.to_lowercase().contains("hunter2"), "{detail}");
    assert_eq!(events[1].detail.as_deref(), Some(detail.as_str()));
}

#[test]
fn an_inactive_account_is_refused_and_counted_like_a_wrong_password() {
    let f = fixture();
    let ada = f.user("ada");
    f.accounts
        .set_active("ada", false, &Actor::command_line())
        .unwrap();
    assert!(matches!(
        f.check("ada", PASSWORD),
        Err(TokensError::LoginRefused)
    ));
    assert_eq!(f.throttle.failures(&LoginKey::Account(ada.id)), 1);
    assert_eq!(f.audit.kinds(), ["login_failure"]);
    // So the guess that locks it is answered the same, right or wrong.
    for _ in 2..FAILURES_BEFORE_LOCK {
        f.check("ada", "wrong password").unwrap_err();
    }
    assert!(matches!(
        f.check("ada", PASSWORD),
        Err(TokensError::LoginThrottled(60))
    ));
}

#[test]
fn the_second_factor_is_asked_only_after_the_password() {
    let f = fixture();
    let ada = f.user("ada");
    f.totp(&ada);
    assert!(matches!(
        f.check("ada", "wrong password"),
        Err(TokensError::LoginRefused)
    ));
    assert!(matches!(
        f.check("ada", PASSWORD),
        Err(TokensError::OtpRequired)
    ));
    assert_eq!(
        f.throttle.failures(&LoginKey::Account(ada.id)),
        1,
        "a missing code is not a failure"
    );
    assert_eq!(f.audit.kinds(), ["login_failure", "login_failure"]);
}

#[test]
fn wrong_codes_count_and_every_fifth_alerts_the_owner() {
    let f = fixture_locking_at(100);
    let ada = f.user("ada");
    let secret = f.totp(&ada);
    let with_code = |code: &str| Credentials {
        otp: Some(code.to_owned()),
        ..credentials("ada", PASSWORD)
    };
    for _ in 0..SECOND_FACTOR_ALERT_AFTER - 1 {
        let wrong = f.login.check(&with_code("000000"), &browser());
        assert!(matches!(wrong, Err(TokensError::OtpInvalid)));
    }
    assert_eq!(f.alerts(), 0);
    f.login.check(&with_code("000000"), &browser()).unwrap_err();
    assert_eq!(f.alerts(), 1, "the fifth wrong code alerts the owner");

    assert_eq!(
        f.throttle.failures(&LoginKey::Account(ada.id)),
        SECOND_FACTOR_ALERT_AFTER,
        "wrong codes count as failed logins"
    );
    let code = totp_code(&secret, f.clock.now().timestamp()).unwrap();
    assert_eq!(
        f.login.check(&with_code(&code), &browser()).unwrap().id,
        ada.id
    );
    assert_eq!(
        f.audit.kinds().last().map(String::as_str),
        Some("login_success")
    );
    assert_eq!(
        f.audit.events().len(),
        SECOND_FACTOR_ALERT_AFTER as usize + 1
    );
}

#[test]
fn wrong_passwords_at_any_pace_alert_the_owner_at_fifty_and_as_they_double() {
    // Never locked: paced under the lockout, guesses lock nothing.
    let f = fixture_locking_at(u32::MAX);
    let ada = f.user("ada");
    let guesses = |count: u32| {
        for _ in 0..count {
            f.clock.advance(Duration::seconds(6));
            assert!(f.check("ada", "not her password").is_err());
        }
    };
    guesses(PASSWORD_ALERT_AFTER - 1);
    assert_eq!(f.password_alerts(), 0);
    guesses(1);
    assert_eq!(f.password_alerts(), 1, "the fiftieth alerts the owner");
    guesses(PASSWORD_ALERT_AFTER - 1);
    assert_eq!(f.password_alerts(), 1, "not again before the count doubles");
    // Past the hour of the first: at most one such mail an hour.
    f.clock.advance(Duration::hours(1));
    guesses(1);
    assert_eq!(f.password_alerts(), 2, "the hundredth does");
    assert_eq!(f.alerts(), 0, "no code was tried");
    // A good login starts the count over.
    assert_eq!(f.check("ada", PASSWORD).unwrap().id, ada.id);
    f.clock.advance(Duration::hours(2));
    guesses(PASSWORD_ALERT_AFTER);
    assert_eq!(f.password_alerts(), 3);
}

#[test]
fn wrong_current_passwords_count_with_the_logins_towards_the_owners_alert() {
    // A stolen token guessing the password to change it is heard of too.
    let f = fixture_locking_at(u32::MAX);
    let ada = f.user("ada");
    let accounts = (f.accounts.clone())
        .with_confirmation_throttle(Arc::new(ConfirmationsAsLogins(f.throttle.clone())));
    let half = PASSWORD_ALERT_AFTER / 2;
    for _ in 0..half {
        assert!(f.check("ada", "not her password").is_err());
    }
    for _ in 0..PASSWORD_ALERT_AFTER - half - 1 {
        let wrong = accounts.confirm_password(&ada, "not her password");
        assert!(matches!(wrong, Err(UsersError::WrongCurrentPassword)));
    }
    assert_eq!(f.password_alerts(), 0);
    accounts.confirm_password(&ada, "still not").unwrap_err();
    assert_eq!(
        f.password_alerts(),
        1,
        "the fiftieth, wherever it came, alerts"
    );
    accounts.confirm_password(&ada, PASSWORD).unwrap();
}

/// Something that happens to an account.
type Change = fn(&Fixture, &User);

#[test]
fn a_login_checked_before_a_change_that_ended_the_sessions_opens_none() {
    // The owner changes the password, or an admin deactivates the account,
    // while an attacker's login with the old password is being hashed: that
    // change ended every session there was, and the login's must not come
    // after it and live.
    let changes: [(&str, Change); 2] = [
        ("a password change", |f, ada| {
            let actor = Actor::default();
            (f.accounts
                .set_password(ada, PASSWORD, "Another!passw0rd-9", None, &actor))
            .unwrap();
        }),
        ("a deactivation", |f, ada| {
            f.store.set_flags(ada.id, Some(false), None).unwrap();
        }),
    ];
    for (change, make) in changes {
        for kind in [SessionKind::Jwt, SessionKind::Opaque] {
            let hasher = Arc::new(ChangedWhileVerifying::new());
            let f = Arc::new(fixture_with(
                Arc::new(CountingThrottle::new(FAILURES_BEFORE_LOCK)),
                hasher.clone(),
            ));
            let ada = f.user("ada");
            let (owner, account) = (f.clone(), ada.clone());
            hasher.during(move || make(&owner, &account));
            let login = f
                .login
                .log_in(&credentials("ada", PASSWORD), &browser(), kind);
            assert!(
                matches!(login, Err(TokensError::LoginRefused)),
                "{change}, {kind:?}"
            );
            let now = f.clock.now();
            let live = f
                .store
                .all_sessions()
                .into_iter()
                .filter(|s| s.is_live(now));
            assert_eq!(live.count(), 0, "{change}, {kind:?}");
        }
    }
}

#[test]
fn a_code_sent_while_totp_was_off_does_not_let_a_login_outlive_its_turning_on() {
    // The owner confirms TOTP right after a password-only login found it
    // off: an `otp` the login carried, checked against nothing, proves nothing.
    let codes = CodesMeanwhile {
        after_each_look: Some(Box::new(|codes, user| {
            let found = codes.find_totp(user).unwrap();
            let Some(pending) = found.filter(|r| !r.confirmed) else {
                return;
            };
            assert!(codes
                .confirm_totp(user, &pending.encrypted_secret, 0, &[])
                .unwrap());
        })),
        ..CodesMeanwhile::default()
    };
    let f = fixture_over(
        Arc::new(CountingThrottle::new(FAILURES_BEFORE_LOCK)),
        Arc::new(BcryptHasher::new(4).unwrap()),
        Arc::new(codes),
    );
    let ada = f.user("ada");
    f.mfa.setup(&ada).unwrap();
    let with_code = Credentials {
        otp: Some("123456".into()),
        ..credentials("ada", PASSWORD)
    };
    let login = f.login.log_in(&with_code, &browser(), SessionKind::Jwt);
    assert!(matches!(login, Err(TokensError::LoginRefused)));
    let now = f.clock.now();
    assert_eq!(
        f.store
            .all_sessions()
            .iter()
            .filter(|s| s.is_live(now))
            .count(),
        0
    );
}

#[test]
fn wrong_codes_guessed_at_an_unfinished_setup_are_held_back_and_alert_alike() {
    let f = fixture_locking_at(100);
    let ada = f.user("ada");
    let setup = f.mfa.setup(&ada).unwrap();
    let lockout = Arc::new(Lockout::new(LockoutSettings {
        enabled: true,
        failures: 100,
        window: std::time::Duration::from_secs(60),
    }));
    let mfa = (f.mfa.clone())
        .with_throttle(Arc::new(ConfirmationsAsLogins(lockout)))
        .with_alerts(f.accounts.clone());
    let held_back = |answer: &Result<Vec<String>, TokensError>| {
        matches!(
            answer,
            Err(TokensError::Users(UsersError::ConfirmationThrottled(_)))
        )
    };
    for _ in 0..SECOND_FACTOR_ALERT_AFTER - 1 {
        let wrong = mfa.confirm(&ada, "000000", None, &Actor::default());
        assert!(matches!(wrong, Err(TokensError::OtpInvalid)), "{wrong:?}");
    }
    let fifth = mfa.confirm(&ada, "000000", None, &Actor::default());
    assert!(held_back(&fifth), "{fifth:?}");
    assert_eq!(f.alerts(), 1, "the fifth wrong code alerts the owner");
    let code = totp_code(&setup.secret, f.clock.now().timestamp()).unwrap();
    let right = mfa.confirm(&ada, &code, None, &Actor::default());
    assert!(held_back(&right), "past five, even the right code waits");
}

#[test]
fn a_new_password_starts_the_wrong_codes_over() {
    // Whoever guessed codes with the old password no longer holds it: the
    // owner's own next mistakes are not held against them.
    let f = fixture_locking_at(100);
    let ada = f.user("ada");
    let lockout = Lockout::new(LockoutSettings::default()).with_clock(f.clock.clone());
    let throttle = Arc::new(ConfirmationsAsLogins(Arc::new(lockout)));
    let accounts = f
        .accounts
        .clone()
        .with_confirmation_throttle(throttle.clone());
    for _ in 0..5 {
        throttle.record_wrong_code(ada.id);
    }
    assert!(throttle.locked_for(ada.id).is_some());
    f.clock.advance(Duration::minutes(16));
    assert_eq!(throttle.locked_for(ada.id), None);
    (accounts.set_password(
        &ada,
        PASSWORD,
        "Another-long-pass-42",
        None,
        &Actor::default(),
    ))
    .unwrap();
    for _ in 0..4 {
        throttle.record_wrong_code(ada.id);
    }
    assert_eq!(
        throttle.locked_for(ada.id),
        None,
        "four wrong codes, not nine"
    );
}

#[test]
fn wrong_codes_that_confirm_a_change_count_with_the_logins_and_alert_alike() {
    let f = fixture_locking_at(100);
    let ada = f.user("ada");
    f.totp(&ada);
    let mfa = f
        .mfa
        .clone()
        .with_throttle(Arc::new(ConfirmationsAsLogins(f.throttle.clone())))
        .with_alerts(f.accounts.clone());
    for _ in 0..SECOND_FACTOR_ALERT_AFTER - 1 {
        let wrong = mfa.confirm_code(&ada, Some("000000"));
        assert!(matches!(wrong, Err(TokensError::OtpInvalid)));
    }
    assert_eq!(f.alerts(), 0);
    let at_login = Credentials {
        otp: Some("000000".into()),
        ..credentials("ada", PASSWORD)
    };
    f.login.check(&at_login, &browser()).unwrap_err();
    assert_eq!(
        f.alerts(),
        1,
        "the fifth wrong code, wherever it came, alerts"
    );
    f.clock.advance(Duration::minutes(61));
    for _ in 0..SECOND_FACTOR_ALERT_AFTER {
        mfa.confirm_code(&ada, Some("000000")).unwrap_err();
    }
    assert_eq!(f.alerts(), 2, "and so does the tenth");
}
