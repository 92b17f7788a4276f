//! The signing key set (issue 20) over an in-memory repository: first start,
//! algorithm changes, rotation, retirement, the JWK Set, and tokens signed
//! before keys had ids.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use sesame_kernel::audit::Actor;
use sesame_kernel::{ChangeObserver, StorageError};
use sesame_testkit::{FakeClock, InMemoryAudit, InMemoryStore};
use sesame_tokens::{
    ChaChaCipher, ClientInfo, KeyState, Resealed, SessionService, SigningAlgorithm,
    SigningKeyRepository, SigningKeys, StoredSigningKey, TokenSettings, TokensError,
};
use sesame_users::{AccountService, AccountSettings, BcryptHasher, Registration, User};

const SECRET: &[u8] = b"a secret of at least thirty-two bytes, from config";

/// Keys in memory: the storage a program brings.
#[derive(Default)]
struct MemoryKeys(Mutex<Vec<StoredSigningKey>>);

impl SigningKeyRepository for MemoryKeys {
    fn list_keys(&self) -> Result<Vec<StoredSigningKey>, TokensError> {
        Ok(self.0.lock().unwrap().clone())
    }

    fn activate_new(&self, key: &StoredSigningKey) -> Result<(), TokensError> {
        let mut keys = self.0.lock().unwrap();
        for old in keys.iter_mut().filter(|k| k.state == KeyState::Active) {
            old.state = KeyState::Verifying;
        }
        keys.push(key.clone());
        Ok(())
    }

    fn retire(&self, kid: &str) -> Result<bool, TokensError> {
        let mut keys = self.0.lock().unwrap();
        let found = keys
            .iter_mut()
            .find(|k| k.kid == kid && k.state == KeyState::Verifying);
        Ok(found.map(|k| k.state = KeyState::Retired).is_some())
    }

    fn reseal(&self, sealed: &[(String, String)]) -> Result<(), TokensError> {
        let mut keys = self.0.lock().unwrap();
        for (kid, sealed_private) in sealed {
            if let Some(key) = keys.iter_mut().find(|k| &k.kid == kid) {
                key.sealed_private = sealed_private.clone();
            }
        }
        Ok(())
    }
}

struct Fixture {
    repository: Arc<MemoryKeys>,
    store: Arc<InMemoryStore>,
    clock: Arc<FakeClock>,
    user: User,
}

impl Fixture {
    fn new() -> Fixture {
        let store = Arc::new(InMemoryStore::new());
        let clock = Arc::new(FakeClock::new());
        let accounts = AccountService::new(
            store.clone(),
            Arc::new(BcryptHasher::new(4).unwrap()),
            clock.clone(),
            AccountSettings::default(),
        );
        let user = accounts
            .register(Registration {
                username: "ada".into(),
                password: "Zq7!vR2#kLm".into(),
                ..Registration::default()
            })
            .unwrap();
        Fixture {
            repository: Arc::default(),
            store,
            clock,
            user,
        }
    }

    /// The key set of a process with this `secret` (and its sealing key)
    /// and `algorithm`, not started.
    fn process(&self, secret: &[u8], sealing: u8, algorithm: SigningAlgorithm) -> SigningKeys {
        let cipher = Arc::new(ChaChaCipher::new(&[sealing; 32]).unwrap());
        let (repository, clock) = (self.repository.clone(), self.clock.clone());
        SigningKeys::new(repository, cipher, clock, algorithm, secret, "sesame").unwrap()
    }

    /// An instance configured with `algorithm`, started.
    fn instance(&self, algorithm: SigningAlgorithm) -> (SigningKeys, SessionService) {
        let keys = self.process(SECRET, 7, algorithm);
        keys.start().unwrap();
        keys.use_configured_algorithm().unwrap();
        let sessions = SessionService::new(
            self.store.clone(),
            self.store.clone(),
            self.clock.clone(),
            keys.keys(),
            TokenSettings::default(),
        );
        (keys, sessions)
    }

    fn login(&self, sessions: &SessionService) -> String {
        sessions
            .start_jwt_session(&self.user, ClientInfo::default())
            .unwrap()
            .access
    }
}

fn states(keys: &SigningKeys) -> Vec<(SigningAlgorithm, KeyState)> {
    keys.list()
        .unwrap()
        .into_iter()
        .map(|k| (k.algorithm, k.state))
        .collect()
}

#[test]
fn starting_with_another_algorithm_changes_no_key_until_asked_to() {
    let fixture = Fixture::new();
    let (keys, _) = fixture.instance(SigningAlgorithm::Es256);
    let before = states(&keys);
    // A command run from a shell without the servers' settings.
    let command = fixture.process(SECRET, 7, SigningAlgorithm::Hs256);
    command.start().unwrap();
    assert_eq!(states(&keys), before);
    command.use_configured_algorithm().unwrap();
    keys.reload().unwrap();
    assert_eq!(
        states(&keys).last(),
        Some(&(SigningAlgorithm::Hs256, KeyState::Active))
    );
}

#[test]
fn a_lost_change_notice_is_caught_up_by_reading_the_set_again() {
    let fixture = Fixture::new();
    let (keys, sessions) = fixture.instance(SigningAlgorithm::Es256);
    let token = fixture.login(&sessions);
    let reloads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = reloads.clone();
    keys.keys().on_reload(move |_| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    // Nothing changed: the ring, and what it verified, stay.
    keys.reload_if_changed().unwrap();
    assert_eq!(reloads.load(std::sync::atomic::Ordering::SeqCst), 0);
    // Another process rotates and retires, and its notice never comes.
    let other = fixture.process(SECRET, 7, SigningAlgorithm::Es256);
    other.start().unwrap();
    let old_kid = other.keys().kid_of(&token).unwrap();
    other.rotate(&Actor::default()).unwrap();
    other.retire(&old_kid, &Actor::default()).unwrap();
    assert!(sessions.authenticate(&token).is_ok(), "not told yet");
    keys.reload_if_changed().unwrap();
    assert!(matches!(
        sessions.authenticate(&token),
        Err(TokensError::InvalidToken)
    ));
    assert_eq!(reloads.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn a_process_with_another_secret_adds_no_key() {
    let fixture = Fixture::new();
    let (keys, _) = fixture.instance(SigningAlgorithm::Es256);
    let before = states(&keys);
    // A command run with another data dir, say: another secret, and the
    // default algorithm.
    let secret = b"another secret of thirty-two bytes or more";
    let stranger = fixture.process(secret, 8, SigningAlgorithm::Hs256);
    let refused = stranger.start();
    assert!(
        matches!(refused, Err(TokensError::Signing(_))),
        "{refused:?}"
    );
    assert_eq!(states(&keys), before, "a key was added");
    keys.reload().unwrap();
}

#[test]
fn the_first_start_keeps_the_hs256_secret_and_tokens_without_kid_still_verify() {
    let fixture = Fixture::new();
    let (keys, sessions) = fixture.instance(SigningAlgorithm::Hs256);
    assert_eq!(states(&keys), [(SigningAlgorithm::Hs256, KeyState::Active)]);
    assert_eq!(&*keys.keys().jwks(), r#"{"keys":[]}"#);
    // A token from before keys had ids: no kid, no iss, the same secret.
    let access = fixture.login(&sessions);
    let payload = access.split('.').nth(1).unwrap();
    let old_style = {
        use base64::Engine;
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        let mut claims = claims.as_object().unwrap().clone();
        claims.remove("iss");
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    };
    sessions.authenticate(&old_style).unwrap();
    // Another instance after a switch to ES256 still accepts it.
    let (es, es_sessions) = fixture.instance(SigningAlgorithm::Es256);
    assert_eq!(
        states(&es),
        [
            (SigningAlgorithm::Hs256, KeyState::Verifying),
            (SigningAlgorithm::Es256, KeyState::Active)
        ]
    );
    es_sessions.authenticate(&old_style).unwrap();
    es_sessions.authenticate(&access).unwrap();
    // Retiring the HS256 key ends both.
    let hs_kid = keys.list().unwrap()[0].kid.clone();
    // Derived from the secret alone, and stored: it must never change.
    assert_eq!(hs_kid, "hs256-DzCGRsDdkuRE");
    es.retire(&hs_kid, &Actor::default()).unwrap();
    assert!(es_sessions.authenticate(&old_style).is_err());
    assert!(es_sessions.authenticate(&access).is_err());
}

#[test]
fn rotation_keeps_old_tokens_until_retired_and_the_jwks_lists_public_keys_only() {
    let fixture = Fixture::new();
    let (keys, sessions) = fixture.instance(SigningAlgorithm::EdDsa);
    let old = fixture.login(&sessions);
    let old_kid = keys.keys().active_kid();
    let new_kid = keys.rotate(&Actor::default()).unwrap().kid;
    assert_ne!(old_kid, new_kid);
    let new = fixture.login(&sessions);
    sessions.authenticate(&old).unwrap();
    sessions.authenticate(&new).unwrap();
    let jwks: serde_json::Value = serde_json::from_str(&keys.keys().jwks()).unwrap();
    let listed: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            assert!(k.get("d").is_none(), "{k}");
            assert_eq!(k["crv"], "Ed25519");
            k["kid"].as_str().unwrap()
        })
        .collect();
    assert_eq!(listed, [old_kid.as_str(), new_kid.as_str()]);
    assert!(matches!(
        keys.retire(&new_kid, &Actor::default()),
        Err(TokensError::ActiveKey(kid)) if kid == new_kid
    ));
    assert!(matches!(
        keys.retire("eddsa-nope", &Actor::default()),
        Err(TokensError::UnknownKey(_))
    ));
    keys.retire(&old_kid, &Actor::default()).unwrap();
    assert!(matches!(
        sessions.authenticate(&old),
        Err(TokensError::InvalidToken)
    ));
    sessions.authenticate(&new).unwrap();
}

/// A session service on `keys`.
fn sessions_on(fixture: &Fixture, keys: &SigningKeys) -> SessionService {
    SessionService::new(
        fixture.store.clone(),
        fixture.store.clone(),
        fixture.clock.clone(),
        keys.keys(),
        TokenSettings::default(),
    )
}

#[test]
fn keys_sealed_again_under_a_new_secret_keep_their_tokens_but_the_old_secret_s_own() {
    let fixture = Fixture::new();
    let (keys, sessions) = fixture.instance(SigningAlgorithm::Es256);
    let kids: Vec<String> = keys.list().unwrap().into_iter().map(|k| k.kid).collect();
    let (hs256, es256) = (&kids[0], &kids[1]);
    let token = fixture.login(&sessions);
    // The instance of the new secret (sealing key 8) cannot open the set.
    const NEW: &[u8] = b"the new secret, at least thirty-two bytes long";
    let renewed = fixture.process(NEW, 8, SigningAlgorithm::Es256);
    assert!(matches!(renewed.start(), Err(TokensError::Signing(_))));
    let old = ChaChaCipher::new(&[7; 32]).unwrap();
    let report = renewed.reseal(&old, SECRET, &Actor::default()).unwrap();
    // The ES256 key keeps its tokens; the HS256 one, the old secret itself, goes.
    let expected = Resealed {
        resealed: vec![es256.clone()],
        retired: vec![hs256.clone()],
        rotated_to: None,
    };
    assert_eq!(report, expected);
    renewed.start().unwrap();
    sessions_on(&fixture, &renewed)
        .authenticate(&token)
        .unwrap();
    // Twice is harmless; the old secret's instance no longer opens the set.
    let again = renewed.reseal(&old, SECRET, &Actor::default()).unwrap();
    assert_eq!(again, Resealed::default());
    let stale = fixture.process(SECRET, 7, SigningAlgorithm::Es256);
    assert!(matches!(stale.start(), Err(TokensError::Signing(_))));
    // A key neither secret opens changes nothing; nor does the new secret
    // given as the old one.
    let stranger = fixture.process(
        b"yet another secret, thirty-two bytes+",
        9,
        SigningAlgorithm::Es256,
    );
    let refused = stranger
        .reseal(&old, SECRET, &Actor::default())
        .unwrap_err();
    assert!(refused.to_string().contains(es256), "{refused}");
    let confused = renewed.reseal(&old, NEW, &Actor::default()).unwrap_err();
    assert!(
        confused.to_string().contains("configured now"),
        "{confused}"
    );
    assert_eq!(keys_states(&renewed), [KeyState::Retired, KeyState::Active]);
}

#[test]
fn under_hs256_the_leaked_secret_stops_signing_once_resealed() {
    let fixture = Fixture::new();
    let (keys, sessions) = fixture.instance(SigningAlgorithm::Hs256);
    let leaked = keys.keys().active_kid();
    let token = fixture.login(&sessions);
    let renewed = fixture.process(
        b"the new secret, at least thirty-two bytes long",
        8,
        SigningAlgorithm::Hs256,
    );
    let old = ChaChaCipher::new(&[7; 32]).unwrap();
    let report = renewed.reseal(&old, SECRET, &Actor::default()).unwrap();
    assert_eq!(
        (report.resealed.len(), &report.retired),
        (0, &vec![leaked.clone()])
    );
    let signer = report.rotated_to.expect("a new key signs");
    renewed.start().unwrap();
    assert_eq!(renewed.keys().active_kid(), signer);
    let sessions = sessions_on(&fixture, &renewed);
    assert!(matches!(
        sessions.authenticate(&token),
        Err(TokensError::InvalidToken)
    ));
    sessions.authenticate(&fixture.login(&sessions)).unwrap();
}

#[test]
fn an_instance_left_running_with_the_leaked_secret_refuses_what_the_reseal_retired() {
    // The docs say to stop every instance first; one was not. It cannot open
    // the resealed set, but it learns what was retired.
    let fixture = Fixture::new();
    let (stale, stale_sessions) = fixture.instance(SigningAlgorithm::Hs256);
    let token = fixture.login(&stale_sessions);
    stale_sessions.authenticate(&token).unwrap();
    assert!(stale.keys().can_sign());
    let renewed = fixture.process(
        b"the new secret, at least thirty-two bytes long",
        8,
        SigningAlgorithm::Hs256,
    );
    let old = ChaChaCipher::new(&[7; 32]).unwrap();
    renewed.reseal(&old, SECRET, &Actor::default()).unwrap();

    assert!(matches!(stale.reload(), Err(TokensError::Signing(_))));
    assert!(matches!(
        stale_sessions.authenticate(&token),
        Err(TokensError::InvalidToken)
    ));
    // Nor does it hand out tokens that no instance accepts, and it says so.
    assert!(!stale.keys().can_sign());
    let refused = stale_sessions.start_jwt_session(&fixture.user, ClientInfo::default());
    assert!(matches!(refused, Err(TokensError::Signing(_))));
}

fn keys_states(keys: &SigningKeys) -> Vec<KeyState> {
    keys.list().unwrap().into_iter().map(|k| k.state).collect()
}

#[test]
fn a_service_checking_tokens_by_the_published_keys_refuses_refresh_tokens() {
    let fixture = Fixture::new();
    let (keys, sessions) = fixture.instance(SigningAlgorithm::Es256);
    let pair = sessions
        .start_jwt_session(&fixture.user, ClientInfo::default())
        .unwrap();
    // What another service does: the key the header names, the issuer,
    // jsonwebtoken's defaults for the rest.
    let jwks: JwkSet = serde_json::from_str(&keys.keys().jwks()).unwrap();
    let verify = |token: &str| {
        let kid = decode_header(token).unwrap().kid.unwrap();
        let key = DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&["sesame"]);
        // Signed at the fake clock's time, long past.
        validation.validate_exp = false;
        decode::<serde_json::Value>(token, &key, &validation).map(|data| data.claims)
    };
    assert_eq!(verify(&pair.access).unwrap()["typ"], "access");
    let refused = verify(&pair.refresh).unwrap_err();
    assert_eq!(refused.kind(), &ErrorKind::InvalidAudience);
    // Sesame itself still takes it back, once.
    let renewed = sessions.refresh(&pair.refresh).unwrap();
    assert!(verify(&renewed.access).is_ok());
    assert!(verify(&renewed.refresh).is_err());
}

/// Keys whose storage fails while `failing` is set, and whose next read,
/// once `slow` is given, says it has read and waits to be let go.
struct Flaky {
    keys: Arc<MemoryKeys>,
    failing: AtomicBool,
    slow: Mutex<Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>>,
}

impl Flaky {
    fn over(keys: Arc<MemoryKeys>) -> Self {
        Flaky {
            keys,
            failing: AtomicBool::new(false),
            slow: Mutex::default(),
        }
    }
}

impl SigningKeyRepository for Flaky {
    fn list_keys(&self) -> Result<Vec<StoredSigningKey>, TokensError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(TokensError::Storage(StorageError(
                "the database is away".into(),
            )));
        }
        let read = self.keys.list_keys();
        let slow = self.slow.lock().unwrap().take();
        if let Some((has_read, go)) = slow {
            has_read.send(()).unwrap();
            go.recv().unwrap();
        }
        read
    }

    fn activate_new(&self, key: &StoredSigningKey) -> Result<(), TokensError> {
        self.keys.activate_new(key)
    }

    fn retire(&self, kid: &str) -> Result<bool, TokensError> {
        self.keys.retire(kid)
    }

    fn reseal(&self, sealed: &[(String, String)]) -> Result<(), TokensError> {
        self.keys.reseal(sealed)
    }
}

/// An instance whose storage can be troubled, and another that rotated
/// the key set: `old_kid` signs no more, and still verifies.
struct Troubled {
    other: SigningKeys,
    storage: Arc<Flaky>,
    keys: SigningKeys,
    old_kid: String,
}

impl Troubled {
    fn new() -> Self {
        let fixture = Fixture::new();
        let (other, _) = fixture.instance(SigningAlgorithm::Es256);
        let storage = Arc::new(Flaky::over(fixture.repository.clone()));
        let cipher = Arc::new(ChaChaCipher::new(&[7u8; 32]).unwrap());
        let (clock, algorithm) = (fixture.clock.clone(), SigningAlgorithm::Es256);
        let keys =
            SigningKeys::new(storage.clone(), cipher, clock, algorithm, SECRET, "sesame").unwrap();
        keys.start().unwrap();
        let old_kid = keys.keys().active_kid();
        other.rotate(&Actor::default()).unwrap();
        keys.signing_keys_changed();
        Troubled {
            other,
            storage,
            keys,
            old_kid,
        }
    }
}

#[test]
fn of_two_reloads_at_once_the_later_read_is_the_one_kept() {
    let Troubled {
        other,
        storage,
        keys,
        old_kid,
    } = Troubled::new();
    // A slow reload reads the set, then another instance retires the old
    // key and a second reload reads that.
    let (has_read, read) = mpsc::channel();
    let (go, slow_read_goes) = mpsc::channel();
    *storage.slow.lock().unwrap() = Some((has_read, slow_read_goes));
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| keys.reload().unwrap());
        read.recv().unwrap();
        other.retire(&old_kid, &Actor::default()).unwrap();
        let later = scope.spawn(|| keys.reload().unwrap());
        std::thread::sleep(Duration::from_millis(100));
        go.send(()).unwrap();
        slow.join().unwrap();
        later.join().unwrap();
    });
    assert!(!keys.keys().verifies(&old_kid), "the older read won");
}

#[test]
fn a_retirement_reported_while_storage_fails_is_loaded_once_it_is_back() {
    let Troubled {
        other,
        storage,
        keys,
        old_kid,
    } = Troubled::new();
    // Whatever closes the old key's WebSockets listens for reloads.
    let (told, reloads) = mpsc::channel();
    let retired = old_kid.clone();
    keys.keys()
        .on_reload(move |keys| told.send(keys.verifies(&retired)).unwrap());
    // Another instance retires the old key as this one's storage fails.
    other.retire(&old_kid, &Actor::default()).unwrap();
    storage.failing.store(true, Ordering::SeqCst);
    keys.signing_keys_changed();
    assert!(keys.keys().verifies(&old_kid), "nothing could be read yet");
    assert!(reloads.try_recv().is_err(), "nothing was reloaded yet");
    // A long outage: the retries have slowed down to one a second (they
    // were 3.2 s apart, then 6.4 s, before).
    std::thread::sleep(Duration::from_millis(6500));
    storage.failing.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(3);
    while keys.keys().verifies(&old_kid) {
        assert!(
            Instant::now() < deadline,
            "the retired key is still accepted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The retry that read it told the listeners, as a reported change does.
    assert_eq!(reloads.recv_timeout(Duration::from_secs(1)), Ok(false));
}

#[test]
fn another_instance_sees_a_rotation_once_told_and_private_keys_are_sealed() {
    let fixture = Fixture::new();
    let (first, first_sessions) = fixture.instance(SigningAlgorithm::Es256);
    let (second, second_sessions) = fixture.instance(SigningAlgorithm::Es256);
    let rotated = first.rotate(&Actor::default()).unwrap().kid;
    // Not told yet: the second still signs with the previous key.
    assert_ne!(second.keys().active_kid(), rotated);
    let from_first = fixture.login(&first_sessions);
    assert!(second_sessions.authenticate(&from_first).is_err());
    sesame_kernel::ChangeObserver::signing_keys_changed(&second);
    assert_eq!(second.keys().active_kid(), rotated);
    second_sessions.authenticate(&from_first).unwrap();
    for key in fixture.repository.list_keys().unwrap() {
        assert!(!key.sealed_private.contains("PRIVATE"));
        assert!(format!("{key:?}").find(&key.sealed_private).is_none());
    }
}

#[test]
fn algorithm_names_parse_and_unknown_ones_are_refused() {
    for name in ["HS256", "ES256", "RS256", "EdDSA"] {
        assert_eq!(name.parse::<SigningAlgorithm>().unwrap().as_str(), name);
    }
    assert!("none".parse::<SigningAlgorithm>().is_err());
    assert!("es256".parse::<SigningAlgorithm>().is_err());
}

#[test]
fn rotations_and_retirements_are_audited_with_their_actor() {
    let fixture = Fixture::new();
    let audit = Arc::new(InMemoryAudit::new());
    let keys = SigningKeys::new(
        fixture.repository.clone(),
        Arc::new(ChaChaCipher::new(&[7u8; 32]).unwrap()),
        fixture.clock.clone(),
        SigningAlgorithm::EdDsa,
        SECRET,
        "sesame",
    )
    .unwrap()
    .with_audit(audit.clone());
    keys.start().unwrap();
    let first = keys.keys().active_kid();
    let operator = Actor::command_line();
    let second = keys.rotate(&operator).unwrap().kid;
    keys.retire(&first, &operator).unwrap();
    let events = audit.events();
    let seen: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.detail.as_deref()))
        .collect();
    let (rotated, retired) = (format!("kid {second}"), format!("kid {first}"));
    assert_eq!(
        &seen[seen.len() - 2..],
        [
            ("signing_key_rotated", Some(rotated.as_str())),
            ("signing_key_retired", Some(retired.as_str()))
        ]
    );
    let last = events.last().unwrap();
    assert_eq!(
        (last.ip.as_deref(), last.user_agent.as_deref()),
        (None, Some("sesame command line"))
    );
}
