//! Passkeys over in-memory fakes, with webauthn-rs's software passkey as
//! the person's authenticator: registration, both logins, replays, lapsed
//! challenges, another origin, counters, inactive accounts, removal, audit.

use std::sync::{Arc, Mutex};

use chrono::Duration;
use serde_json::{json, Value};
use sesame_kernel::audit::Actor;
use sesame_kernel::Clock;
use sesame_kernel::UserId;
use sesame_testkit::{
    FakeClock, InMemoryAudit, InMemoryMfa, InMemoryPasskeys, InMemoryStore, SoftBrowser,
};
use sesame_tokens::{
    totp_code, ChaChaCipher, JwtKeys, MfaService, NewSession, PasskeyPorts, PasskeyRepository,
    PasskeyService, PasskeySettings, SessionKind, SessionService, StoredPasskey, TokenSettings,
    TokensError, MAX_PASSKEYS_PER_ACCOUNT,
};
use sesame_users::{
    AccountService, AccountSettings, BcryptHasher, Registration, User, UserRepository, UsersError,
};

const ORIGIN: &str = "https://sesame.example";
const PASSWORD: &str = "Zq7!vR2#kLm";

struct Fixture {
    store: Arc<InMemoryStore>,
    passkeys: Arc<InMemoryPasskeys>,
    clock: Arc<FakeClock>,
    audit: Arc<InMemoryAudit>,
    accounts: AccountService,
    sessions: SessionService,
    mfa: MfaService,
    service: PasskeyService,
}

fn fixture() -> Fixture {
    fixture_with(|passkeys| passkeys)
}

/// A fixture whose service keeps its passkeys in `repository`, made over
/// the in-memory ones.
fn fixture_with(
    repository: impl FnOnce(Arc<InMemoryPasskeys>) -> Arc<dyn PasskeyRepository>,
) -> Fixture {
    let store = Arc::new(InMemoryStore::new());
    let passkeys = Arc::new(InMemoryPasskeys::new());
    let clock = Arc::new(FakeClock::new());
    let audit = Arc::new(InMemoryAudit::new());
    let accounts = AccountService::new(
        store.clone(),
        Arc::new(BcryptHasher::new(4).unwrap()),
        clock.clone(),
        AccountSettings::default(),
    );
    let sessions = SessionService::new(
        store.clone(),
        store.clone(),
        clock.clone(),
        JwtKeys::from_secret(&[7u8; 32]).unwrap(),
        TokenSettings::default(),
    );
    let mfa = MfaService::new(
        Arc::new(InMemoryMfa::new()),
        Arc::new(ChaChaCipher::new(&[9u8; 32]).unwrap()),
        clock.clone(),
    );
    let settings = PasskeySettings {
        rp_id: "sesame.example".into(),
        rp_name: "Sesame".into(),
        origin: ORIGIN.into(),
        fake_credential_key: vec![3u8; 32],
    };
    let service = PasskeyService::new(
        &settings,
        PasskeyPorts {
            passkeys: repository(passkeys.clone()),
            challenges: passkeys.clone(),
            users: store.clone(),
            accounts: accounts.clone(),
            sessions: sessions.clone(),
            mfa: mfa.clone(),
            clock: clock.clone(),
        },
    )
    .unwrap()
    .with_audit(audit.clone());
    Fixture {
        store,
        passkeys,
        clock,
        audit,
        accounts,
        sessions,
        mfa,
        service,
    }
}

impl Fixture {
    fn user(&self, name: &str) -> User {
        self.accounts
            .register(Registration {
                username: name.into(),
                password: PASSWORD.into(),
                ..Registration::default()
            })
            .unwrap()
    }

    /// Registers a passkey of `browser` for `user`; returns its id.
    fn register(&self, user: &User, browser: &mut SoftBrowser) -> String {
        let options = self
            .service
            .begin_registration(user, PASSWORD, None)
            .unwrap();
        let response = browser.create(&options).unwrap();
        let passkey = self
            .service
            .finish_registration(user, &response, Some("Laptop"), &actor(user.id))
            .unwrap();
        passkey.id
    }

    /// Finishes a registration of `user` with `response`, unnamed.
    fn finish(&self, user: &User, response: &Value) -> Result<StoredPasskey, TokensError> {
        self.service
            .finish_registration(user, response, None, &actor(user.id))
    }

    fn login(&self, response: &Value) -> Result<UserId, TokensError> {
        self.service
            .finish_login(response, &Actor::default(), SessionKind::Jwt)
            .map(|logged_in| logged_in.user.id)
    }
}

fn actor(user: UserId) -> Actor {
    Actor {
        user: Some(user),
        ..Actor::default()
    }
}

#[test]
fn creation_options_ask_for_user_verification_and_offer_es256_and_eddsa() {
    let f = fixture();
    let alice = f.user("alice");
    let options = f
        .service
        .begin_registration(&alice, PASSWORD, None)
        .unwrap();
    let public_key = &options["publicKey"];
    let algorithms: Vec<i64> = public_key["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["alg"].as_i64().unwrap())
        .collect();
    assert!(algorithms.contains(&-7), "ES256: {algorithms:?}");
    assert!(algorithms.contains(&-8), "EdDSA: {algorithms:?}");
    assert_eq!(public_key["attestation"], "none");
    assert_eq!(public_key["rp"]["id"], "sesame.example");
    assert_eq!(public_key["user"]["name"], "alice");
    let selection = &public_key["authenticatorSelection"];
    assert_eq!(selection["userVerification"], "required");
    assert_eq!(selection["residentKey"], "preferred");
    // Unpadded base64url.
    let challenge = public_key["challenge"].as_str().unwrap();
    assert!(!challenge.contains('=') && !challenge.contains('+') && !challenge.contains('/'));
    assert_eq!(f.passkeys.pending_ceremonies(), 1);
}

#[test]
fn a_registered_passkey_logs_in_with_and_without_a_username() {
    let f = fixture();
    let alice = f.user("alice");
    let mut browser = SoftBrowser::new(ORIGIN);
    let id = f.register(&alice, &mut browser);
    let listed = f.service.list(alice.id).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].name, "Laptop");
    assert_eq!(listed[0].last_used_at, None);

    let options = f.service.begin_login(Some("alice")).unwrap();
    assert_eq!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(options["publicKey"]["userVerification"], "required");
    let logged_in = f
        .service
        .finish_login(
            &browser.get(&options).unwrap(),
            &actor(alice.id),
            SessionKind::Jwt,
        )
        .unwrap();
    assert_eq!(logged_in.user.id, alice.id);
    assert!(logged_in.user.last_login.is_some());
    let NewSession::Jwt(pair) = logged_in.session else {
        panic!("a JWT session")
    };
    // A session like any other: it authenticates and is listed.
    assert_eq!(
        f.sessions.authenticate(&pair.access).unwrap().user.id,
        alice.id
    );
    assert_eq!(f.sessions.list_sessions(alice.id).unwrap().len(), 1);
    assert!(f.service.list(alice.id).unwrap()[0].last_used_at.is_some());

    f.clock.advance(Duration::seconds(5));
    let options = f.service.begin_login(None).unwrap();
    assert_eq!(options["publicKey"]["allowCredentials"], json!([]));
    let response = browser.get(&options).unwrap();
    assert_eq!(f.login(&response).unwrap(), alice.id);

    let kinds = f.audit.kinds();
    assert_eq!(
        kinds,
        ["passkey_registered", "login_success", "login_success"]
    );
    let detail = f.audit.events()[1].detail.clone().unwrap();
    assert_eq!(detail, format!("passkey {id}"));
}

#[test]
fn an_opaque_session_can_be_opened_too() {
    let f = fixture();
    let alice = f.user("alice");
    let mut browser = SoftBrowser::new(ORIGIN);
    f.register(&alice, &mut browser);
    let options = f.service.begin_login(Some("alice")).unwrap();
    let logged_in = f
        .service
        .finish_login(
            &browser.get(&options).unwrap(),
            &Actor::default(),
            SessionKind::Opaque,
        )
        .unwrap();
    let NewSession::Opaque(token) = logged_in.session else {
        panic!("an opaque session")
    };
    assert_eq!(f.sessions.authenticate(&token).unwrap().user.id, alice.id);
}

#[test]
fn a_response_is_accepted_once() {
    let f = fixture();
    let alice = f.user("alice");
    let mut browser = SoftBrowser::new(ORIGIN);
    let options = f
        .service
        .begin_registration(&alice, PASSWORD, None)
        .unwrap();
    let response = browser.create(&options).unwrap();
    f.finish(&alice, &response).unwrap();
    let again = f.finish(&alice, &response);
    assert!(
        matches!(again, Err(TokensError::PasskeyRejected(_))),
        "{again:?}"
    );
    assert_eq!(f.service.list(alice.id).unwrap()[0].name, "Passkey");

    let options = f.service.begin_login(Some("alice")).unwrap();
    let response = browser.get(&options).unwrap();
    assert_eq!(f.login(&response).unwrap(), alice.id);
    assert!(matches!(f.login(&response), Err(TokensError::LoginRefused)));
    assert_eq!(f.audit.kinds().last().unwrap(), "login_failure");
}

#[test]
fn a_credential_id_longer_than_webauthn_allows_is_refused() {
    let f = fixture();
    let alice = f.user("alice");
    let mut browser = SoftBrowser::new(ORIGIN);
    let finish = |browser: &mut SoftBrowser, id_bytes| {
        let options = f
            .service
            .begin_registration(&alice, PASSWORD, None)
            .unwrap();
        let response = browser
            .create_with_credential_id(&options, id_bytes)
            .unwrap();
        f.finish(&alice, &response)
    };
    let long = finish(&mut browser, 1024);
    assert!(
        matches!(&long, Err(TokensError::PasskeyRejected(why)) if why.contains("1023")),
        "{long:?}"
    );
    assert!(f.service.list(alice.id).unwrap().is_empty());
    let longest = finish(&mut browser, 1023);
    assert!(longest.is_ok(), "{longest:?}");
}

#[test]
fn a_begun_login_keeps_no_copy_of_the_named_account_s_passkeys() {
    // A login begun with a name needs no token: it must not write every
    // passkey of the account each time.
    let f = fixture();
    let alice = f.user("alice");
    let mut browser = SoftBrowser::new(ORIGIN);
    for _ in 0..MAX_PASSKEYS_PER_ACCOUNT {
        f.register(&alice, &mut browser);
    }
    let options = f.service.begin_login(Some("alice")).unwrap();
    let offered = options["publicKey"]["allowCredentials"].as_array();
    assert_eq!(offered.map(Vec::len), Some(MAX_PASSKEYS_PER_ACCOUNT));
    let [kept] = f.passkeys.ceremony_states().try_into().unwrap();
    let kept: Value = serde_json::from_str(&kept).unwrap();
    assert_eq!(kept["credentials"], json!([]), "{kept}");
    assert_eq!(f.login(&browser.get(&options).unwrap()).unwrap(), alice.id);
}

#[test]
fn a_passkey_is_kept_without_the_attestation_it_came_with() {
    // Sesame asks for none and checks none; a client may pad it to tens of
    // kilobytes that every login naming the account would read.
    let f = fixture();
    let alice = f.user("alice");
    let mut browser = SoftBrowser::new(ORIGIN);
    let options = (f.service)
        .begin_registration(&alice, PASSWORD, None)
        .unwrap();
    // The soft passkey answers with `packed` self attestation.
    let response = browser.create(&options).unwrap();
    let stored = f.finish(&alice, &response).unwrap();
    let attestation = |stored: &StoredPasskey| {
        let credential: Value = serde_json::from_str(&stored.credential).unwrap();
        credential["attestation"].clone()
    };
    assert_eq!(
        attestation(&stored),
        json!({"data": "None", "metadata": "None"})
    );
    // One an earlier version kept with it loses it at its next use.
    let mut earlier: Value = serde_json::from_str(&stored.credential).unwrap();
    earlier["attestation"]["data"] = json!("Self_");
    f.passkeys.set_credential(&stored.id, &earlier.to_string());
    let options = f.service.begin_login(Some("alice")).unwrap();
    f.login(&browser.get(&options).unwrap()).unwrap();
    let used = f.passkeys.passkeys_of(alice.id).unwrap().remove(0);
    assert_eq!(attestation(&used), attestation(&stored));
}

#[test]
fn an_account_holds_at_most_twenty_passkeys() {
    let f = fixture();
    let alice = f.user("alice");
    let mut browser = SoftBrowser::new(ORIGIN);
    for _ in 0..MAX_PASSKEYS_PER_ACCOUNT - 1 {
        f.register(&alice, &mut browser);
    }
    // Two registrations begun with one place left: the second to finish is refused.
    let first = f
        .service
        .begin_registration(&alice, PASSWORD, None)
        .unwrap();
    let second = f
        .service
        .begin_registration(&alice, PASSWORD, None)
        .unwrap();
    let (first, second) = (
        browser.create(&first).unwrap(),
        browser.create(&second).unwrap(),
    );
    f.finish(&alice, &first).unwrap();
    let late = f.finish(&alice, &second);
    assert!(
        matches!(late, Err(TokensError::TooManyPasskeys(20))),
        "{late:?}"
    );
    let full = f.service.begin_registration(&alice, PASSWORD, None);
    assert!(
        matches!(full, Err(TokensError::TooManyPasskeys(20))),
        "{full:?}"
    );
    assert_eq!(f.service.list(alice.id).unwrap().len(), 20);

    let oldest = f.service.list(alice.id).unwrap()[0].id.clone();
    f.service
        .remove(&alice, &oldest, PASSWORD, &actor(alice.id))
        .unwrap();
    f.register(&alice, &mut browser);
}

#[test]
fn with_totp_on_adding_a_passkey_needs_a_code_too() {
    let f = fixture();
    let alice = f.user("alice");
    let setup = f.mfa.setup(&alice).unwrap();
    let code = |f: &Fixture| totp_code(&setup.secret, f.clock.now().timestamp()).unwrap();
    f.mfa
        .confirm(&alice, &code(&f), None, &actor(alice.id))
        .unwrap();
    f.clock.advance(Duration::seconds(30));

    // A session and the password, without the second factor, add no passkey
    // that would then sign in without it.
    let missing = f.service.begin_registration(&alice, PASSWORD, None);
    assert!(
        matches!(missing, Err(TokensError::OtpRequired)),
        "{missing:?}"
    );
    let wrong = f
        .service
        .begin_registration(&alice, PASSWORD, Some("000000"));
    assert!(matches!(wrong, Err(TokensError::OtpInvalid)), "{wrong:?}");
    let options = f
        .service
        .begin_registration(&alice, PASSWORD, Some(&code(&f)))
        .unwrap();
    let response = SoftBrowser::new(ORIGIN).create(&options).unwrap();
    f.finish(&alice, &response).unwrap();
    assert_eq!(f.service.list(alice.id).unwrap().len(), 1);
}

#[test]
fn a_full_account_is_told_so_before_its_code_is_used_up() {
    let f = fixture();
    let alice = f.user("alice");
    let mut browser = SoftBrowser::new(ORIGIN);
    for _ in 0..MAX_PASSKEYS_PER_ACCOUNT {
        f.register(&alice, &mut browser);
    }
    let setup = f.mfa.setup(&alice).unwrap();
    let code = totp_code(&setup.secret, f.clock.now().timestamp()).unwrap();
    let recovery = f
        .mfa
        .confirm(&alice, &code, None, &actor(alice.id))
        .unwrap();
    let full = f
        .service
        .begin_registration(&alice, PASSWORD, Some(&recovery[0]));
    assert!(
        matches!(full, Err(TokensError::TooManyPasskeys(20))),
        "{full:?}"
    );
    assert!(
        f.mfa.check_login(&alice, Some(&recovery[0])).unwrap(),
        "still unused"
    );
}

#[test]
fn a_challenge_lapses_after_five_minutes() {
    let f = fixture();
    let alice = f.user("alice");
    let mut browser = SoftBrowser::new(ORIGIN);
    let options = f
        .service
        .begin_registration(&alice, PASSWORD, None)
        .unwrap();
    let response = browser.create(&options).unwrap();
    f.clock.advance(Duration::seconds(301));
    let late = f.finish(&alice, &response);
    assert!(
        matches!(late, Err(TokensError::PasskeyRejected(_))),
        "{late:?}"
    );

    f.register(&alice, &mut browser);
    let options = f.service.begin_login(None).unwrap();
    let response = browser.get(&options).unwrap();
    f.clock.advance(Duration::seconds(301));
    assert!(matches!(f.login(&response), Err(TokensError::LoginRefused)));
}

#[test]
fn another_origin_is_refused() {
    let f = fixture();
    let alice = f.user("alice");
    let mut browser = SoftBrowser::new("https://evil.example");
    let mut options = f
        .service
        .begin_registration(&alice, PASSWORD, None)
        .unwrap();
    // A phishing page on its own domain relays the options as its own.
    options["publicKey"]["rp"]["id"] = json!("evil.example");
    let response = browser.create(&options).unwrap();
    let refused = f.finish(&alice, &response);
    assert!(
        matches!(refused, Err(TokensError::PasskeyRejected(_))),
        "{refused:?}"
    );
    assert!(f.service.list(alice.id).unwrap().is_empty());

    let mut browser = SoftBrowser::new(ORIGIN);
    f.register(&alice, &mut browser);
    browser.set_origin("https://login.sesame.example");
    let options = f.service.begin_login(Some("alice")).unwrap();
    let response = browser.get(&options).unwrap();
    assert!(matches!(f.login(&response), Err(TokensError::LoginRefused)));
}

#[test]
fn another_relying_party_id_is_refused() {
    let f = fixture();
    let alice = f.user("alice");
    let mut browser = SoftBrowser::new("https://app.sesame.example");
    // Sesame's origin may be a subdomain; the options name another rp id.
    let settings = PasskeySettings {
        rp_id: "app.sesame.example".into(),
        rp_name: "Sesame".into(),
        origin: "https://app.sesame.example".into(),
        fake_credential_key: vec![3u8; 32],
    };
    let service = PasskeyService::new(
        &settings,
        PasskeyPorts {
            passkeys: f.passkeys.clone(),
            challenges: f.passkeys.clone(),
            users: f.store.clone(),
            accounts: f.accounts.clone(),
            sessions: f.sessions.clone(),
            mfa: f.mfa.clone(),
            clock: f.clock.clone(),
        },
    )
    .unwrap();
    let mut options = service.begin_registration(&alice, PASSWORD, None).unwrap();
    options["publicKey"]["rp"]["id"] = json!("sesame.example");
    let response = browser.create(&options).unwrap();
    let refused = service.finish_registration(&alice, &response, None, &actor(alice.id));
    assert!(
        matches!(refused, Err(TokensError::PasskeyRejected(_))),
        "{refused:?}"
    );
}

#[test]
fn a_counter_that_went_back_is_refused() {
    let f = fixture();
    let alice = f.user("alice");
    let mut browser = SoftBrowser::new(ORIGIN);
    let id = f.register(&alice, &mut browser);
    let options = f.service.begin_login(Some("alice")).unwrap();
    assert_eq!(f.login(&browser.get(&options).unwrap()).unwrap(), alice.id);
    let counter = f.service.list(alice.id).unwrap()[0].counter;
    assert!(counter > 0, "the soft passkey counts its signatures");

    // A clone of the authenticator was used further elsewhere: the stored
    // counter is ahead of what this one signs next.
    f.passkeys.set_counter(&id, counter + 10);
    let options = f.service.begin_login(Some("alice")).unwrap();
    assert!(matches!(
        f.login(&browser.get(&options).unwrap()),
        Err(TokensError::LoginRefused)
    ));
}

#[test]
fn an_inactive_account_is_refused() {
    let f = fixture();
    let alice = f.user("alice");
    let mut browser = SoftBrowser::new(ORIGIN);
    f.register(&alice, &mut browser);
    f.store.set_flags(alice.id, Some(false), None).unwrap();
    let options = f.service.begin_login(None).unwrap();
    assert!(matches!(
        f.login(&browser.get(&options).unwrap()),
        Err(TokensError::LoginRefused)
    ));
}

#[test]
fn a_passkey_logs_in_only_as_the_named_account() {
    let f = fixture();
    let alice = f.user("alice");
    let bob = f.user("bob");
    let mut alices = SoftBrowser::new(ORIGIN);
    let mut bobs = SoftBrowser::new(ORIGIN);
    f.register(&alice, &mut alices);
    f.register(&bob, &mut bobs);
    // Bob's options list Bob's passkey; Alice's authenticator cannot answer
    // them, and her answer to her own options is no login as Bob.
    let for_bob = f.service.begin_login(Some("bob")).unwrap();
    assert!(alices.get(&for_bob).is_err());
    let for_alice = f.service.begin_login(Some("alice")).unwrap();
    let mut response = alices.get(&for_alice).unwrap();
    assert_eq!(f.login(&response.clone()).unwrap(), alice.id);
    // A discoverable answer that claims another user handle is refused.
    let options = f.service.begin_login(None).unwrap();
    response = alices.get(&options).unwrap();
    let bobs_handle = f.service.list(bob.id).unwrap()[0].user_handle.clone();
    response["response"]["userHandle"] = json!(bobs_handle);
    assert!(matches!(f.login(&response), Err(TokensError::LoginRefused)));
}

#[test]
fn an_unknown_name_gets_options_of_the_same_shape_every_time() {
    let f = fixture();
    f.user("nopasskey");
    let unknown = f.service.begin_login(Some("nobody")).unwrap();
    let again = f.service.begin_login(Some("NOBODY")).unwrap();
    let without = f.service.begin_login(Some("nopasskey")).unwrap();
    let list = |options: &Value| options["publicKey"]["allowCredentials"].clone();
    // webauthn-rs's fake ids: as many as accounts tend to have (sometimes
    // none), the same for a name every time (names compared by identity key).
    assert!(list(&unknown).is_array() && list(&without).is_array());
    assert_eq!(list(&unknown), list(&again));
    let keys = |options: &Value| {
        let mut keys: Vec<String> = options["publicKey"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    let mut browser = SoftBrowser::new(ORIGIN);
    let alice = f.user("alice");
    f.register(&alice, &mut browser);
    let known = f.service.begin_login(Some("alice")).unwrap();
    assert_eq!(keys(&unknown), keys(&known));
}

#[test]
fn a_named_login_lists_no_transports_which_fake_lists_never_have() {
    // webauthn-rs keeps the transports a packed or TPM attestation names
    // (Windows Hello, some password managers) and offers them at login; a
    // list of fake ids has none, so their presence would tell the name exists.
    let f = fixture();
    let alice = f.user("alice");
    let id = f.register(&alice, &mut SoftBrowser::new(ORIGIN));
    let stored = f.passkeys.passkeys_of(alice.id).unwrap()[0]
        .credential
        .clone();
    let mut credential: Value = serde_json::from_str(&stored).unwrap();
    credential["transports"] = json!(["usb", "hybrid"]);
    f.passkeys.set_credential(&id, &credential.to_string());

    let options = f.service.begin_login(Some("alice")).unwrap();
    let offered = options["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(offered.len(), 1);
    assert!(
        offered[0].get("transports").is_none_or(Value::is_null),
        "{offered:?}"
    );
}

#[test]
fn removal_needs_the_password_and_the_owner() {
    let f = fixture();
    let alice = f.user("alice");
    let bob = f.user("bob");
    let mut browser = SoftBrowser::new(ORIGIN);
    let id = f.register(&alice, &mut browser);
    let wrong = f.service.remove(&alice, &id, "not it", &actor(alice.id));
    assert!(matches!(
        wrong,
        Err(TokensError::Users(UsersError::WrongCurrentPassword))
    ));
    let not_bobs = f.service.remove(&bob, &id, PASSWORD, &actor(bob.id));
    assert!(matches!(not_bobs, Err(TokensError::PasskeyNotFound)));
    assert_eq!(f.service.list(alice.id).unwrap().len(), 1);

    f.service
        .remove(&alice, &id, PASSWORD, &actor(alice.id))
        .unwrap();
    assert!(f.service.list(alice.id).unwrap().is_empty());
    assert_eq!(f.audit.kinds().last().unwrap(), "passkey_removed");
    // The removed passkey logs in no more.
    let options = f.service.begin_login(None).unwrap();
    assert!(matches!(
        f.login(&browser.get(&options).unwrap()),
        Err(TokensError::LoginRefused)
    ));
}

#[test]
fn malformed_input_is_refused_as_such() {
    let f = fixture();
    let alice = f.user("alice");
    for body in [json!({}), json!("text"), json!({"id": "x", "response": {}})] {
        let registration = f.finish(&alice, &body);
        assert!(matches!(registration, Err(TokensError::PasskeyRejected(_))));
        let login = f
            .service
            .finish_login(&body, &Actor::default(), SessionKind::Jwt);
        assert!(matches!(login, Err(TokensError::PasskeyRejected(_))));
    }
    let long = "x".repeat(65);
    let options = f
        .service
        .begin_registration(&alice, PASSWORD, None)
        .unwrap();
    let response = SoftBrowser::new(ORIGIN).create(&options).unwrap();
    let named = f
        .service
        .finish_registration(&alice, &response, Some(&long), &actor(alice.id));
    assert!(matches!(named, Err(TokensError::PasskeyNameInvalid)));
}

#[test]
fn settings_whose_rp_id_does_not_fit_the_origin_are_refused() {
    let f = fixture();
    for (rp_id, origin) in [
        ("example.org", "https://sesame.example"),
        ("", "https://sesame.example"),
        ("sesame.example", "not a url"),
    ] {
        let settings = PasskeySettings {
            rp_id: rp_id.into(),
            rp_name: "Sesame".into(),
            origin: origin.into(),
            fake_credential_key: vec![3u8; 32],
        };
        let ports = PasskeyPorts {
            passkeys: f.passkeys.clone(),
            challenges: f.passkeys.clone(),
            users: f.store.clone(),
            accounts: f.accounts.clone(),
            sessions: f.sessions.clone(),
            mfa: f.mfa.clone(),
            clock: f.clock.clone(),
        };
        let built = PasskeyService::new(&settings, ports);
        assert!(
            matches!(built, Err(TokensError::PasskeySetup(_))),
            "{rp_id} {origin}"
        );
    }
}

/// Passkeys whose use, once recorded, is followed by a password reset by
/// link deleting every passkey of the account in `reset` (as if it
/// committed right then).
struct ResetAfterUse {
    passkeys: Arc<InMemoryPasskeys>,
    reset: Arc<Mutex<Option<UserId>>>,
}

impl PasskeyRepository for ResetAfterUse {
    fn insert_passkey(&self, passkey: &StoredPasskey, at_most: usize) -> Result<(), TokensError> {
        self.passkeys.insert_passkey(passkey, at_most)
    }

    fn passkeys_of(&self, user: UserId) -> Result<Vec<StoredPasskey>, TokensError> {
        self.passkeys.passkeys_of(user)
    }

    fn passkey_by_credential(&self, id: &str) -> Result<Option<StoredPasskey>, TokensError> {
        self.passkeys.passkey_by_credential(id)
    }

    fn record_passkey_use(
        &self,
        id: &str,
        seen_counter: u32,
        counter: u32,
        credential: &str,
        at: sesame_kernel::Timestamp,
    ) -> Result<bool, TokensError> {
        let recorded =
            (self.passkeys).record_passkey_use(id, seen_counter, counter, credential, at);
        if let Some(user) = *self.reset.lock().unwrap() {
            for passkey in self.passkeys.passkeys_of(user)? {
                self.passkeys.delete_passkey(user, &passkey.id)?;
            }
        }
        recorded
    }

    fn delete_passkey(&self, user: UserId, id: &str) -> Result<bool, TokensError> {
        self.passkeys.delete_passkey(user, id)
    }
}

#[test]
fn a_passkey_login_checked_before_a_reset_deleted_the_passkey_opens_no_session() {
    let reset = Arc::new(Mutex::new(None));
    let deletes = reset.clone();
    let f = fixture_with(move |passkeys| {
        Arc::new(ResetAfterUse {
            passkeys,
            reset: deletes,
        })
    });
    let alice = f.user("alice");
    let mut browser = SoftBrowser::new(ORIGIN);
    f.register(&alice, &mut browser);
    *reset.lock().unwrap() = Some(alice.id);
    let options = f.service.begin_login(Some("alice")).unwrap();
    let response = browser.get(&options).unwrap();
    assert!(matches!(f.login(&response), Err(TokensError::LoginRefused)));
    assert!(f.sessions.list_sessions(alice.id).unwrap().is_empty());
}

#[test]
fn a_registration_finished_after_a_password_change_keeps_no_passkey() {
    let f = fixture();
    let alice = f.user("alice");
    let mut browser = SoftBrowser::new(ORIGIN);
    let options = (f.service.begin_registration(&alice, PASSWORD, None)).unwrap();
    let response = browser.create(&options).unwrap();
    // The owner resets the password while the registration is on its way:
    // the caller was authenticated before it.
    let new_password = "Another!passw0rd-9";
    (f.accounts
        .set_password(&alice, PASSWORD, new_password, None, &Actor::default()))
    .unwrap();
    let finished = f.finish(&alice, &response);
    assert!(
        matches!(finished, Err(TokensError::PasskeyRejected(_))),
        "{finished:?}"
    );
    assert!(f.service.list(alice.id).unwrap().is_empty());
}
