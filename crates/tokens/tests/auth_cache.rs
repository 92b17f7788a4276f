//! The token cache: what `SessionService` answers from memory, and what makes
//! it ask storage again. The in-memory store stands for the database; writes
//! made to it directly (not through the service) are reported to the cache
//! by hand, as the database adapter reports its own.

use std::sync::Arc;

use chrono::Duration;
use sesame_kernel::audit::Actor;
use sesame_kernel::{ChangeObserver, Clock, UserId};
use sesame_testkit::{FakeClock, InMemoryStore};
use sesame_tokens::{
    AuthCache, ClientInfo, JwtKeys, Revival, SessionRepository, SessionService, TokenSettings,
    TokensError,
};
use sesame_users::{
    AccountService, AccountSettings, BcryptHasher, Registration, User, UserRepository,
};

struct Fixture {
    store: Arc<InMemoryStore>,
    clock: Arc<FakeClock>,
    cache: Arc<AuthCache>,
    sessions: SessionService,
    user: User,
}

impl Fixture {
    fn new() -> Self {
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
                email: Some("ada@example.com".into()),
                password: "Zq7!vR2#kLm".into(),
                ..Registration::default()
            })
            .unwrap();
        let cache = Arc::new(AuthCache::new(Duration::seconds(10), 1000));
        let sessions = SessionService::new(
            store.clone(),
            store.clone(),
            clock.clone(),
            JwtKeys::from_secret(&[9u8; 32]).unwrap(),
            TokenSettings::default(),
        )
        .with_cache(cache.clone());
        Fixture {
            store,
            clock,
            cache,
            sessions,
            user,
        }
    }

    fn access_token(&self) -> (String, String) {
        let pair = self
            .sessions
            .start_jwt_session(&self.user, ClientInfo::default())
            .unwrap();
        (pair.access, pair.session_id)
    }

    fn opaque_token(&self) -> String {
        self.sessions
            .start_opaque_session(&self.user, ClientInfo::default(), Revival::Never)
            .unwrap()
    }
}

#[test]
fn nothing_is_answered_from_memory_before_storage_was_asked() {
    let fixture = Fixture::new();
    let (access, _) = fixture.access_token();
    assert!(fixture.sessions.authenticate_cached(&access).is_none());
    assert_eq!(
        fixture.sessions.authenticate(&access).unwrap().user.id,
        fixture.user.id
    );
    let known = fixture.sessions.authenticate_cached(&access).unwrap();
    assert_eq!(known.user.id, fixture.user.id);
}

#[test]
fn a_checked_token_is_answered_from_memory_until_its_session_changes() {
    let fixture = Fixture::new();
    let (access, session_id) = fixture.access_token();
    fixture.sessions.authenticate(&access).unwrap();
    // Revoked behind the service's back and not yet reported: memory still
    // answers, which is why the database adapter reports every write.
    fixture
        .store
        .revoke(&session_id, fixture.clock.now())
        .unwrap();
    assert!(fixture.sessions.authenticate_cached(&access).is_some());
    fixture.cache.session_changed(&session_id);
    assert!(fixture.sessions.authenticate_cached(&access).is_none());
    assert!(matches!(
        fixture.sessions.authenticate(&access),
        Err(TokensError::SessionRevoked)
    ));
}

#[test]
fn a_token_these_keys_never_verified_is_not_verified_from_memory() {
    // Keys that have verified nothing yet (as after a key reload) beside a
    // cache that holds the session: the signature is checked where storage
    // is asked, never on the caller's async worker.
    let fixture = Fixture::new();
    let (access, _) = fixture.access_token();
    fixture.sessions.authenticate(&access).unwrap();
    let fresh_keys = SessionService::new(
        fixture.store.clone(),
        fixture.store.clone(),
        fixture.clock.clone(),
        JwtKeys::from_secret(&[9u8; 32]).unwrap(),
        TokenSettings::default(),
    )
    .with_cache(fixture.cache.clone());
    assert!(fresh_keys.authenticate_cached(&access).is_none());
    fresh_keys.authenticate(&access).unwrap();
    assert!(fresh_keys.authenticate_cached(&access).is_some());
}

#[test]
fn logging_out_through_the_service_fails_the_token_at_once() {
    let fixture = Fixture::new();
    let (access, session_id) = fixture.access_token();
    fixture.sessions.authenticate(&access).unwrap();
    fixture
        .sessions
        .logout(&session_id, &Actor::default())
        .unwrap();
    assert!(fixture.sessions.authenticate_cached(&access).is_none());
    assert!(fixture.sessions.authenticate(&access).is_err());
}

#[test]
fn ending_all_sessions_fails_every_cached_token_of_the_user() {
    let fixture = Fixture::new();
    let (first, _) = fixture.access_token();
    let second = fixture.opaque_token();
    fixture.sessions.authenticate(&first).unwrap();
    fixture.sessions.authenticate(&second).unwrap();
    assert_eq!(fixture.cache.len(), 2);
    fixture
        .sessions
        .logout_all(fixture.user.id, None, &Actor::default())
        .unwrap();
    for token in [&first, &second] {
        assert!(fixture.sessions.authenticate_cached(token).is_none());
        assert!(fixture.sessions.authenticate(token).is_err());
    }
}

#[test]
fn an_account_change_drops_every_session_of_that_account_only() {
    let fixture = Fixture::new();
    let (access, _) = fixture.access_token();
    let opaque = fixture.opaque_token();
    fixture.sessions.authenticate(&access).unwrap();
    fixture.sessions.authenticate(&opaque).unwrap();
    fixture
        .store
        .set_flags(fixture.user.id, Some(false), None)
        .unwrap();
    fixture.cache.user_changed(UserId(fixture.user.id.0 + 1000));
    assert!(fixture.sessions.authenticate_cached(&access).is_some());
    fixture.cache.user_changed(fixture.user.id);
    assert!(fixture.cache.is_empty());
    for token in [&access, &opaque] {
        // Deactivation also ends the account's sessions.
        assert!(matches!(
            fixture.sessions.authenticate(token),
            Err(TokensError::AccountInactive | TokensError::SessionRevoked)
        ));
    }
}

#[test]
fn a_profile_change_is_seen_on_the_next_request() {
    let fixture = Fixture::new();
    let (access, _) = fixture.access_token();
    fixture.sessions.authenticate(&access).unwrap();
    fixture
        .store
        .update_profile(
            fixture.user.id,
            &sesame_users::ProfileChanges {
                first_name: Some("Ada".into()),
                ..Default::default()
            },
        )
        .unwrap();
    fixture.cache.user_changed(fixture.user.id);
    assert_eq!(
        fixture
            .sessions
            .authenticate(&access)
            .unwrap()
            .user
            .first_name,
        "Ada"
    );
    assert_eq!(
        fixture
            .sessions
            .authenticate_cached(&access)
            .unwrap()
            .user
            .first_name,
        "Ada"
    );
}

#[test]
fn entries_are_trusted_for_their_lifetime_only() {
    let fixture = Fixture::new();
    let (access, _) = fixture.access_token();
    fixture.sessions.authenticate(&access).unwrap();
    fixture.clock.advance(Duration::seconds(9));
    assert!(fixture.sessions.authenticate_cached(&access).is_some());
    fixture.clock.advance(Duration::seconds(2));
    assert!(fixture.sessions.authenticate_cached(&access).is_none());
    fixture.sessions.authenticate(&access).unwrap();
    assert!(fixture.sessions.authenticate_cached(&access).is_some());
}

#[test]
fn a_clock_that_goes_back_does_not_stretch_an_entry_s_lifetime() {
    let fixture = Fixture::new();
    let opaque = fixture.opaque_token();
    fixture.sessions.authenticate(&opaque).unwrap();
    assert!(fixture.sessions.authenticate_cached(&opaque).is_some());
    // An hour back, the entry's age is negative: were that "younger than
    // the lifetime", a change the cache never heard of would be missed for
    // an hour instead of ten seconds.
    fixture.clock.advance(Duration::hours(-1));
    assert!(fixture.sessions.authenticate_cached(&opaque).is_none());
    fixture.sessions.authenticate(&opaque).unwrap();
    assert!(fixture.sessions.authenticate_cached(&opaque).is_some());
}

#[test]
fn an_opaque_token_is_found_by_its_hash_and_a_wrong_one_is_not() {
    let fixture = Fixture::new();
    let opaque = fixture.opaque_token();
    fixture.sessions.validate_opaque(&opaque).unwrap();
    assert!(fixture.sessions.authenticate_cached(&opaque).is_some());
    let mut wrong = opaque.clone().into_bytes();
    wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
    let wrong = String::from_utf8(wrong).unwrap();
    assert!(fixture.sessions.authenticate_cached(&wrong).is_none());
    assert!(fixture.sessions.validate_opaque(&wrong).is_err());
}

#[test]
fn an_expired_token_is_never_answered_from_memory() {
    let fixture = Fixture::new();
    let (access, _) = fixture.access_token();
    fixture.sessions.authenticate(&access).unwrap();
    // The access token lives 900 s; the cache entry is refreshed just before.
    fixture.clock.advance(Duration::seconds(895));
    // The first use records itself (the write drops the entry), the second
    // one stores it again.
    fixture.sessions.authenticate(&access).unwrap();
    fixture.sessions.authenticate(&access).unwrap();
    assert!(fixture.sessions.authenticate_cached(&access).is_some());
    fixture.clock.advance(Duration::seconds(6));
    assert!(fixture.sessions.authenticate_cached(&access).is_none());
    assert!(matches!(
        fixture.sessions.authenticate(&access),
        Err(TokensError::TokenExpired)
    ));
}

#[test]
fn a_use_that_must_be_recorded_goes_to_storage() {
    let fixture = Fixture::new();
    let opaque = fixture.opaque_token();
    let session_id = fixture
        .sessions
        .validate_opaque(&opaque)
        .unwrap()
        .session_id;
    let started = fixture.clock.now();
    // Uses are recorded at most once a minute; the entry lives 10 s.
    for _ in 0..7 {
        fixture.clock.advance(Duration::seconds(9));
        fixture.sessions.authenticate(&opaque).unwrap();
    }
    let stored = fixture.store.find(&session_id).unwrap().unwrap();
    assert!(stored.last_used_at > started);
    assert_eq!(
        stored.expires_at,
        stored.last_used_at + Duration::seconds(3600)
    );
}
