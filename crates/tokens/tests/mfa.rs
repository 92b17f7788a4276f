//! Second-factor rules with in-memory fakes and a hand-moved clock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::Duration;
use sesame_kernel::audit::Actor;
use sesame_kernel::secrets::token_hash;
use sesame_kernel::{Clock, UserId};
use sesame_testkit::{CodesMeanwhile, FakeClock, InMemoryAudit, InMemoryMfa, InMemoryStore};
use sesame_tokens::{
    totp_code, ChaChaCipher, ClientInfo, ConfirmationsAsLogins, Lockout, LockoutSettings, LoginKey,
    LoginThrottle, MfaRepository, MfaService, Revival, SecretCipher, SecretsCheck, Session,
    SessionKind, SessionRepository, TokensError,
};
use sesame_users::{User, UsersError};

struct Fixture {
    clock: Arc<FakeClock>,
    store: Arc<InMemoryMfa>,
    mfa: MfaService,
    user: User,
}

fn fixture() -> Fixture {
    let clock = Arc::new(FakeClock::new());
    let store = Arc::new(InMemoryMfa::new());
    let cipher = Arc::new(ChaChaCipher::new(&[9u8; 32]).unwrap());
    let user = User {
        id: UserId(1),
        username: "ada lovelace".into(),
        email: None,
        first_name: String::new(),
        last_name: String::new(),
        avatar: None,
        is_active: true,
        is_staff: false,
        date_joined: clock.now(),
        last_login: None,
        password_hash: String::new(),
    };
    Fixture {
        mfa: MfaService::new(store.clone(), cipher, clock.clone()),
        clock,
        store,
        user,
    }
}

impl Fixture {
    /// The service counting wrong codes as failed logins, in a lockout that
    /// locks an account at its third.
    fn throttled(&self) -> (MfaService, Arc<Lockout>) {
        let lockout = Arc::new(Lockout::new(LockoutSettings {
            enabled: true,
            failures: 2,
            window: std::time::Duration::from_secs(60),
        }));
        let mfa = self
            .mfa
            .clone()
            .with_throttle(Arc::new(ConfirmationsAsLogins(lockout.clone())));
        (mfa, lockout)
    }

    /// A live JWT session of `user`, opened now.
    fn session(&self, id: &str, user: UserId) -> Session {
        let now = self.clock.now();
        Session {
            id: id.to_owned(),
            user_id: user,
            kind: SessionKind::Jwt,
            created_at: now,
            last_used_at: now,
            expires_at: now + Duration::days(1),
            revoked_at: None,
            refresh_jti: None,
            token_hash: None,
            client: ClientInfo::default(),
            revival: Revival::Never,
        }
    }

    fn code(&self, secret: &str, offset_seconds: i64) -> String {
        totp_code(secret, self.clock.now().timestamp() + offset_seconds).unwrap()
    }

    fn enabled(&self) -> (String, Vec<String>) {
        let setup = self.mfa.setup(&self.user).unwrap();
        let codes = self
            .mfa
            .confirm(
                &self.user,
                &self.code(&setup.secret, 0),
                None,
                &Actor::default(),
            )
            .unwrap();
        self.clock.advance(Duration::seconds(30));
        (setup.secret, codes)
    }
}

#[test]
fn setup_gives_a_160_bit_secret_and_an_otpauth_url_but_is_not_on_yet() {
    let f = fixture();
    let setup = f.mfa.setup(&f.user).unwrap();
    assert_eq!(setup.secret.len(), 32, "160 bits of base32");
    assert_eq!(
        setup.otpauth_url,
        format!(
            "otpauth://totp/Sesame:ada%20lovelace?secret={}&issuer=Sesame",
            setup.secret
        )
    );
    assert!(!f.mfa.is_enabled(&f.user).unwrap());
    assert!(f.mfa.check_login(&f.user, None).is_ok());
    let stored = f.store.record(f.user.id).unwrap();
    assert!(
        !stored.encrypted_secret.contains(&setup.secret),
        "kept encrypted"
    );
}

#[test]
fn of_two_racing_confirmations_one_turns_it_on_and_the_other_is_told_so() {
    let f = fixture();
    // Another confirmation of the same setup, with its own recovery codes,
    // commits just before each of ours.
    let store = Arc::new(CodesMeanwhile {
        before_each_confirm: Some(Box::new(|codes, user| {
            let pending = codes.find_totp(user).unwrap().unwrap();
            let theirs = ["theirs".to_owned()];
            codes
                .confirm_totp(user, &pending.encrypted_secret, 1, &theirs)
                .unwrap();
        })),
        ..CodesMeanwhile::default()
    });
    let cipher = Arc::new(ChaChaCipher::new(&[9u8; 32]).unwrap());
    let mfa = MfaService::new(store.clone(), cipher, f.clock.clone());
    let setup = mfa.setup(&f.user).unwrap();
    let ours = mfa.confirm(&f.user, &f.code(&setup.secret, 0), None, &Actor::default());
    assert!(
        matches!(ours, Err(TokensError::MfaAlreadyEnabled)),
        "{ours:?}"
    );
    // The codes stay those the winner showed.
    assert_eq!(store.codes.recovery_hashes(f.user.id), ["theirs"]);
}

#[test]
fn the_secrets_another_key_sealed_are_told_apart_from_this_key_s() {
    let f = fixture();
    let other_key = |f: &Fixture| {
        let cipher = Arc::new(ChaChaCipher::new(&[8u8; 32]).unwrap());
        MfaService::new(f.store.clone(), cipher, f.clock.clone())
    };
    // Nothing is stored yet: any key will do.
    assert_eq!(
        other_key(&f).check_stored_secrets().unwrap(),
        SecretsCheck::default()
    );
    f.mfa.setup(&f.user).unwrap();
    // Past a page of secrets, and one sealed with the other key among them.
    let sealed = f.store.record(f.user.id).unwrap().encrypted_secret;
    for id in 2..=1_001 {
        f.store.save_pending_totp(UserId(id), &sealed).unwrap();
    }
    let stranger = User {
        id: UserId(1_002),
        ..f.user.clone()
    };
    other_key(&f).setup(&stranger).unwrap();
    let check = f.mfa.check_stored_secrets().unwrap();
    assert_eq!(
        (check.stored, check.unreadable),
        (1_002, vec![UserId(1_002)])
    );
    let check = other_key(&f).check_stored_secrets().unwrap();
    assert_eq!((check.stored, check.unreadable.len()), (1_002, 1_001));
    assert_eq!(f.mfa.users_with_totp().unwrap().len(), 1_002);
}

#[test]
fn confirm_turns_it_on_and_returns_ten_single_use_recovery_codes() {
    let f = fixture();
    let setup = f.mfa.setup(&f.user).unwrap();
    assert!(matches!(
        f.mfa.confirm(&f.user, "000000", None, &Actor::default()),
        Err(TokensError::OtpInvalid)
    ));
    let codes = f
        .mfa
        .confirm(&f.user, &f.code(&setup.secret, 0), None, &Actor::default())
        .unwrap();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.len() >= 8));
    assert!(f.mfa.is_enabled(&f.user).unwrap());
    let hashes = f.store.recovery_hashes(f.user.id);
    assert_eq!(hashes.len(), 10);
    assert!(
        codes.iter().all(|c| !hashes.contains(c)),
        "only hashes are kept"
    );
    assert!(matches!(
        f.mfa.setup(&f.user),
        Err(TokensError::MfaAlreadyEnabled)
    ));
}

#[test]
fn logins_need_a_fresh_code_once_it_is_on() {
    let f = fixture();
    let (secret, _) = f.enabled();
    assert!(matches!(
        f.mfa.check_login(&f.user, None),
        Err(TokensError::OtpRequired)
    ));
    assert!(matches!(
        f.mfa.check_login(&f.user, Some(" ")),
        Err(TokensError::OtpRequired)
    ));
    assert!(matches!(
        f.mfa.check_login(&f.user, Some("123456")),
        Err(TokensError::OtpInvalid)
    ));
    let code = f.code(&secret, 0);
    assert!(f.mfa.check_login(&f.user, Some(&code)).is_ok());
    assert!(
        matches!(
            f.mfa.check_login(&f.user, Some(&code)),
            Err(TokensError::OtpInvalid)
        ),
        "a code is accepted once"
    );
    f.clock.advance(Duration::seconds(30));
    assert!(f
        .mfa
        .check_login(&f.user, Some(&f.code(&secret, 0)))
        .is_ok());
}

#[test]
fn one_step_of_drift_either_way_and_no_more() {
    let f = fixture();
    let (secret, _) = f.enabled();
    f.clock.advance(Duration::seconds(120));
    assert!(matches!(
        f.mfa.check_login(&f.user, Some(&f.code(&secret, -60))),
        Err(TokensError::OtpInvalid)
    ));
    assert!(matches!(
        f.mfa.check_login(&f.user, Some(&f.code(&secret, 60))),
        Err(TokensError::OtpInvalid)
    ));
    assert!(f
        .mfa
        .check_login(&f.user, Some(&f.code(&secret, -30)))
        .is_ok());
    assert!(f
        .mfa
        .check_login(&f.user, Some(&f.code(&secret, 30)))
        .is_ok());
    assert!(
        matches!(
            f.mfa.check_login(&f.user, Some(&f.code(&secret, 0))),
            Err(TokensError::OtpInvalid)
        ),
        "a step before one already used is refused"
    );
}

#[test]
fn recovery_codes_work_once_each() {
    let f = fixture();
    let (_, codes) = f.enabled();
    assert!(f
        .mfa
        .check_login(&f.user, Some(&codes[0].to_uppercase()))
        .is_ok());
    assert!(matches!(
        f.mfa.check_login(&f.user, Some(&codes[0])),
        Err(TokensError::OtpInvalid)
    ));
    assert!(f.mfa.check_login(&f.user, Some(&codes[1])).is_ok());
    assert_eq!(f.store.recovery_hashes(f.user.id).len(), 8);
}

#[test]
fn recovery_codes_are_kept_as_keyed_digests_and_older_plain_ones_still_work() {
    let f = fixture();
    let (_, codes) = f.enabled();
    // Without the key, a copy of the database gives nothing to guess against.
    let plain = |code: &str| token_hash(&code.replace('-', ""));
    let stored = f.store.recovery_hashes(f.user.id);
    assert!(codes.iter().all(|c| !stored.contains(&plain(c))));
    let other_key = ChaChaCipher::new(&[8u8; 32]).unwrap();
    // Stored digests must stay recognisable: how one is made never changes
    // (HMAC-SHA256 under SHA-256 of a label, a zero byte and the key).
    assert_eq!(
        other_key.digest("abcdefgh"),
        "caab7c3bc0b427ceb25304ecdb682e12e9f6d3f28fb4f332bb7f66c1778f37c8"
    );
    assert!(codes
        .iter()
        .all(|c| !stored.contains(&other_key.digest(&c.replace('-', "")))));
    assert!(f.mfa.check_login(&f.user, Some(&codes[0])).is_ok());

    // A code stored before digests were keyed: plain SHA-256 of its normal form.
    let secret = f
        .store
        .find_totp(f.user.id)
        .unwrap()
        .unwrap()
        .encrypted_secret;
    f.store.remove_totp(f.user.id).unwrap();
    f.store.save_pending_totp(f.user.id, &secret).unwrap();
    assert!(f
        .store
        .confirm_totp(f.user.id, &secret, 1, &[plain("abcde-fghjk")])
        .unwrap());
    assert!(f.mfa.check_login(&f.user, Some("ABCDE FGHJK")).is_ok());
    assert!(matches!(
        f.mfa.check_login(&f.user, Some("abcde-fghjk")),
        Err(TokensError::OtpInvalid)
    ));
}

#[test]
fn disable_needs_a_valid_code() {
    let f = fixture();
    assert!(matches!(
        f.mfa.disable(&f.user, "123456", &Actor::default()),
        Err(TokensError::MfaNotEnabled)
    ));
    let (_, codes) = f.enabled();
    assert!(matches!(
        f.mfa.disable(&f.user, "123456", &Actor::default()),
        Err(TokensError::OtpInvalid)
    ));
    assert!(f.mfa.is_enabled(&f.user).unwrap());
    f.mfa
        .disable(&f.user, &codes[3], &Actor::default())
        .unwrap();
    assert!(!f.mfa.is_enabled(&f.user).unwrap());
    assert!(f.mfa.check_login(&f.user, None).is_ok());
}

#[test]
fn wrong_codes_that_would_turn_totp_off_lock_the_account_like_failed_logins() {
    let f = fixture();
    let (mfa, lockout) = f.throttled();
    let (_, codes) = f.enabled();
    let account = [LoginKey::Account(f.user.id)];
    for _ in 0..2 {
        assert!(matches!(
            mfa.disable(&f.user, "000000", &Actor::default()),
            Err(TokensError::OtpInvalid)
        ));
    }
    // Neither the guess that locks the account is answered, nor any after
    // it, right or wrong; a right one refused is not used up.
    for code in ["000000", codes[0].as_str()] {
        assert!(matches!(
            mfa.disable(&f.user, code, &Actor::default()),
            Err(TokensError::Users(UsersError::ConfirmationThrottled(_)))
        ));
    }
    assert!(lockout.locked_for(&account).is_some());
    assert!(mfa.is_enabled(&f.user).unwrap());
    // The same service without the lock takes that code: it was not used up.
    f.mfa
        .disable(&f.user, &codes[0], &Actor::default())
        .unwrap();
    assert!(!mfa.is_enabled(&f.user).unwrap());
}

#[test]
fn a_right_code_is_refused_when_wrong_ones_sent_with_it_locked_the_account_meanwhile() {
    // Codes sent at once all pass the first look at the lock; the wrong ones
    // land while the right one is checked. Were it taken, each pause would
    // let a burst of guesses through, not one.
    let f = fixture();
    let lockout = Arc::new(Lockout::new(LockoutSettings {
        enabled: true,
        failures: 2,
        window: std::time::Duration::from_secs(60),
    }));
    let armed = Arc::new(AtomicBool::new(false));
    let (burst, burst_armed) = (lockout.clone(), armed.clone());
    let store = Arc::new(CodesMeanwhile {
        while_using_a_step: Some(Box::new(move |_, user| {
            if burst_armed.load(Ordering::SeqCst) {
                for _ in 0..3 {
                    burst.record_failure(&[LoginKey::Account(user)]);
                }
            }
        })),
        ..CodesMeanwhile::default()
    });
    let cipher = Arc::new(ChaChaCipher::new(&[9u8; 32]).unwrap());
    let mfa = MfaService::new(store, cipher, f.clock.clone())
        .with_throttle(Arc::new(ConfirmationsAsLogins(lockout.clone())));
    let setup = mfa.setup(&f.user).unwrap();
    let actor = Actor::default();
    mfa.confirm(&f.user, &f.code(&setup.secret, 0), None, &actor)
        .unwrap();
    f.clock.advance(Duration::seconds(30));
    armed.store(true, Ordering::SeqCst);
    let right = f.code(&setup.secret, 0);
    // (Confirming a new passkey's code goes through the same check.)
    let attempt = mfa.disable(&f.user, &right, &actor);
    assert!(
        matches!(
            attempt,
            Err(TokensError::Users(UsersError::ConfirmationThrottled(_)))
        ),
        "{attempt:?}"
    );
    assert!(mfa.is_enabled(&f.user).unwrap());
}

#[test]
fn wrong_codes_for_an_unfinished_setup_lock_the_account_and_a_locked_one_confirms_nothing() {
    // Confirming needs only a token: a thief holding one must not guess the
    // code of a setup its owner left unfinished, turn TOTP on with a secret
    // the owner may not have kept, and take the recovery codes.
    let f = fixture();
    let (mfa, lockout) = f.throttled();
    let setup = mfa.setup(&f.user).unwrap();
    for _ in 0..2 {
        assert!(matches!(
            mfa.confirm(&f.user, "000000", None, &Actor::default()),
            Err(TokensError::OtpInvalid)
        ));
    }
    assert!(matches!(
        mfa.confirm(&f.user, "000000", None, &Actor::default()),
        Err(TokensError::Users(UsersError::ConfirmationThrottled(_))),
    ));
    assert!(lockout
        .locked_for(&[LoginKey::Account(f.user.id)])
        .is_some());
    let right = f.code(&setup.secret, 0);
    assert!(matches!(
        mfa.confirm(&f.user, &right, None, &Actor::default()),
        Err(TokensError::Users(UsersError::ConfirmationThrottled(_)))
    ));
    assert!(!mfa.is_enabled(&f.user).unwrap());
}

#[test]
fn the_cipher_refuses_other_keys_and_tampering() {
    let cipher = ChaChaCipher::new(&[1u8; 32]).unwrap();
    let sealed = cipher.encrypt(b"secret");
    assert_eq!(cipher.decrypt(&sealed).unwrap(), b"secret");
    assert_ne!(cipher.encrypt(b"secret"), sealed, "a fresh nonce each time");
    assert!(ChaChaCipher::new(&[2u8; 32])
        .unwrap()
        .decrypt(&sealed)
        .is_none());
    let mut tampered = sealed.clone();
    tampered.replace_range(20..21, if &sealed[20..21] == "A" { "B" } else { "A" });
    assert!(cipher.decrypt(&tampered).is_none());
    assert!(ChaChaCipher::new(&[1u8; 16]).is_err());
}

#[test]
fn turning_it_on_ends_every_other_session() {
    let f = fixture();
    let sessions = Arc::new(InMemoryStore::new());
    let mfa = f.mfa.clone().with_sessions(sessions.clone());
    for (id, user) in [
        ("this", f.user.id),
        ("other", f.user.id),
        ("someone", UserId(2)),
    ] {
        sessions.create(&f.session(id, user)).unwrap();
    }
    let setup = mfa.setup(&f.user).unwrap();
    assert!(matches!(
        mfa.confirm(&f.user, "000000", Some("this"), &Actor::default()),
        Err(TokensError::OtpInvalid)
    ));
    assert!(
        sessions
            .find("other")
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none(),
        "a wrong code ends nothing"
    );
    mfa.confirm(
        &f.user,
        &f.code(&setup.secret, 0),
        Some("this"),
        &Actor::default(),
    )
    .unwrap();
    let revoked = |id: &str| sessions.find(id).unwrap().unwrap().revoked_at.is_some();
    assert!(!revoked("this"));
    assert!(revoked("other"));
    assert!(!revoked("someone"));
}

#[test]
fn turning_it_on_and_off_is_audited_with_the_actor() {
    let f = fixture();
    let audit = Arc::new(InMemoryAudit::new());
    let mfa = f.mfa.clone().with_audit(audit.clone());
    let actor = Actor {
        user: Some(f.user.id),
        ip: Some("192.0.2.1".into()),
        user_agent: None,
    };
    let setup = mfa.setup(&f.user).unwrap();
    assert!(mfa.confirm(&f.user, "000000", None, &actor).is_err());
    let codes = mfa
        .confirm(&f.user, &f.code(&setup.secret, 0), None, &actor)
        .unwrap();
    assert!(mfa.disable(&f.user, "not-a-code", &actor).is_err());
    mfa.disable(&f.user, &codes[0], &actor).unwrap();
    assert_eq!(audit.kinds(), ["mfa_enabled", "mfa_disabled"]);
    assert!(audit
        .events()
        .iter()
        .all(|e| e.user_id == Some(f.user.id) && e.ip.as_deref() == Some("192.0.2.1")));
}

#[test]
fn an_operator_turns_it_off_without_a_code_and_every_session_ends() {
    let f = fixture();
    let sessions = Arc::new(InMemoryStore::new());
    let audit = Arc::new(InMemoryAudit::new());
    let mfa = f
        .mfa
        .clone()
        .with_sessions(sessions.clone())
        .with_audit(audit.clone());
    let actor = Actor::command_line();
    assert!(!mfa.reset(&f.user, &actor).unwrap(), "nothing to turn off");

    let setup = mfa.setup(&f.user).unwrap();
    mfa.confirm(&f.user, &f.code(&setup.secret, 0), None, &actor)
        .unwrap();
    f.clock.advance(Duration::seconds(30));
    sessions
        .create(&f.session("on the lost phone", f.user.id))
        .unwrap();
    assert!(mfa.check_login(&f.user, None).is_err());

    assert!(mfa.reset(&f.user, &actor).unwrap());
    assert!(!mfa.is_enabled(&f.user).unwrap());
    assert!(
        mfa.check_login(&f.user, None).is_ok(),
        "the password alone logs in"
    );
    let session = sessions.find("on the lost phone").unwrap().unwrap();
    assert!(
        session.revoked_at.is_some(),
        "the lost device's session ended"
    );
    assert_eq!(audit.kinds(), ["mfa_enabled", "mfa_reset"]);
    // An unfinished setup is dropped, and nothing is audited.
    mfa.setup(&f.user).unwrap();
    assert!(!mfa.reset(&f.user, &actor).unwrap());
    assert!(matches!(
        mfa.confirm(&f.user, "000000", None, &actor),
        Err(TokensError::MfaNotEnabled)
    ));
    assert_eq!(audit.kinds().len(), 2);
}
