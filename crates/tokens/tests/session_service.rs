//! Session rules, checked through `SessionService` over the in-memory store
//! and a clock moved by hand.

use std::sync::Arc;

use chrono::Duration;
use sesame_kernel::audit::Actor;
use sesame_kernel::secrets::token_hash;
use sesame_kernel::{Clock, UserId};
use sesame_testkit::{FakeClock, InMemoryStore};
use sesame_tokens::{
    ClientInfo, JwtKeys, Revival, SessionKind, SessionService, TokenPair, TokenSettings,
    TokensError, MAX_LISTED_SESSIONS,
};
use sesame_users::{
    AccountService, AccountSettings, BcryptHasher, Registration, User, UserRepository,
};

const SECRET: [u8; 32] = [7u8; 32];
const PASSWORD: &str = "Zq7!vR2#kLm";

struct Fixture {
    store: Arc<InMemoryStore>,
    clock: Arc<FakeClock>,
    accounts: AccountService,
    sessions: SessionService,
}

impl Fixture {
    fn new() -> Self {
        Self::with_settings(TokenSettings::default())
    }

    fn with_settings(settings: TokenSettings) -> Self {
        let store = Arc::new(InMemoryStore::new());
        let clock = Arc::new(FakeClock::new());
        let accounts = AccountService::new(
            store.clone(),
            Arc::new(BcryptHasher::new(4).unwrap()),
            clock.clone(),
            AccountSettings::default(),
        );
        let sessions = service(&store, &clock, &SECRET, settings);
        Fixture {
            store,
            clock,
            accounts,
            sessions,
        }
    }

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

    fn jwt(&self, user: &User) -> TokenPair {
        self.sessions
            .start_jwt_session(user, ClientInfo::default())
            .unwrap()
    }

    fn opaque(&self, user: &User) -> String {
        self.sessions
            .start_opaque_session(user, ClientInfo::default(), Revival::OnReauthentication)
            .unwrap()
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    fn stored_session(&self, id: &str) -> sesame_tokens::Session {
        self.store
            .all_sessions()
            .into_iter()
            .find(|s| s.id == id)
            .expect("a stored session")
    }

    fn listed_session_ids(&self, user: &User) -> Vec<String> {
        self.sessions
            .list_sessions(user.id)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect()
    }
}

fn service(
    store: &Arc<InMemoryStore>,
    clock: &Arc<FakeClock>,
    secret: &[u8],
    settings: TokenSettings,
) -> SessionService {
    SessionService::new(
        store.clone(),
        store.clone(),
        clock.clone(),
        JwtKeys::from_secret(secret).unwrap(),
        settings,
    )
}

macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err($pattern) => {}
            other => panic!(
                "expected {}, got {:?}",
                stringify!($pattern),
                other.map(|_| "Ok(..)")
            ),
        }
    };
}

/// `token` with the character at `index` replaced by another one of the
/// base64url alphabet.
fn with_char_changed(token: &str, index: usize) -> String {
    let mut bytes = token.as_bytes().to_vec();
    bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

// ---------------------------------------------------------------- JWT login

#[test]
fn an_access_token_proves_its_user_and_session() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let bob = fx.user("bob");
    let pair = fx.jwt(&alice);
    let bobs = fx.jwt(&bob);
    assert_ne!(pair.session_id, bobs.session_id);
    assert_ne!(pair.access, pair.refresh);

    let me = fx.sessions.authenticate(&pair.access).unwrap();
    assert_eq!(me.user.id, alice.id);
    assert_eq!(me.user.username, "alice");
    assert_eq!(me.session_id, pair.session_id);

    let them = fx.sessions.authenticate(&bobs.access).unwrap();
    assert_eq!(them.user.id, bob.id);
    assert_eq!(them.session_id, bobs.session_id);

    let stored = fx.stored_session(&pair.session_id);
    assert_eq!(stored.user_id, alice.id);
    assert_eq!(stored.kind, SessionKind::Jwt);
    assert_eq!(stored.created_at, fx.clock.now());
    assert_eq!(stored.expires_at, fx.clock.now() + Duration::days(7));
}

#[test]
fn the_client_is_remembered() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let client = ClientInfo {
        ip: Some("203.0.113.9".into()),
        user_agent: Some("curl/8".into()),
    };
    let pair = fx
        .sessions
        .start_jwt_session(&alice, client.clone())
        .unwrap();
    assert_eq!(fx.stored_session(&pair.session_id).client, client);
    assert_eq!(
        fx.sessions.list_sessions(alice.id).unwrap()[0].client,
        client
    );
}

#[test]
fn refresh_rotates_the_pair() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let first = fx.jwt(&alice);

    fx.advance(Duration::minutes(10));
    let second = fx.sessions.refresh(&first.refresh).unwrap();
    assert_eq!(second.session_id, first.session_id);
    assert_ne!(second.access, first.access);
    assert_ne!(second.refresh, first.refresh);
    let me = fx.sessions.authenticate(&second.access).unwrap();
    assert_eq!(me.user.id, alice.id);
    assert_eq!(me.session_id, first.session_id);

    let stored = fx.stored_session(&first.session_id);
    assert_eq!(stored.last_used_at, fx.clock.now());
    assert_eq!(stored.expires_at, fx.clock.now() + Duration::days(7));

    fx.advance(Duration::minutes(10));
    let third = fx.sessions.refresh(&second.refresh).unwrap();
    assert!(fx.sessions.authenticate(&third.access).is_ok());
}

#[test]
fn a_replayed_refresh_token_revokes_the_whole_session() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let other = fx.jwt(&alice);
    let first = fx.jwt(&alice);
    fx.advance(Duration::minutes(1));
    let second = fx.sessions.refresh(&first.refresh).unwrap();
    assert!(fx.sessions.authenticate(&second.access).is_ok());

    assert_err!(
        fx.sessions.refresh(&first.refresh),
        TokensError::RefreshReused
    );

    assert!(fx
        .store
        .all_sessions()
        .iter()
        .any(|s| s.id == first.session_id && s.revoked_at == Some(fx.clock.now())));
    assert_err!(
        fx.sessions.authenticate(&second.access),
        TokensError::SessionRevoked
    );
    assert_err!(
        fx.sessions.authenticate(&first.access),
        TokensError::SessionRevoked
    );
    assert_err!(
        fx.sessions.refresh(&second.refresh),
        TokensError::SessionRevoked
    );
    assert_err!(
        fx.sessions.verify(&second.refresh),
        TokensError::SessionRevoked
    );

    // The user's other session is untouched.
    assert!(fx.sessions.authenticate(&other.access).is_ok());
    assert!(fx.sessions.refresh(&other.refresh).is_ok());
}

#[test]
fn an_access_token_is_no_refresh_token() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let pair = fx.jwt(&alice);
    assert_err!(fx.sessions.refresh(&pair.access), TokensError::InvalidToken);
    // ... and a refresh token does not authenticate requests.
    assert_err!(
        fx.sessions.authenticate(&pair.refresh),
        TokensError::InvalidToken
    );
    // Neither mistake harmed the session.
    assert!(fx.sessions.authenticate(&pair.access).is_ok());
    assert!(fx.sessions.refresh(&pair.refresh).is_ok());
}

#[test]
fn tampered_and_garbage_tokens_are_invalid() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let bob = fx.user("bob");
    let pair = fx.jwt(&alice);
    let bobs = fx.jwt(&bob);

    let parts: Vec<&str> = pair.access.split('.').collect();
    let bob_parts: Vec<&str> = bobs.access.split('.').collect();
    assert_eq!(parts.len(), 3);
    let signature_start = parts[0].len() + parts[1].len() + 2;
    let payload_middle = parts[0].len() + 1 + parts[1].len() / 2;

    let swapped_payload = format!("{}.{}.{}", parts[0], bob_parts[1], parts[2]);
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
    let no_signature = format!("{}.{}.", parts[0], parts[1]);
    let garbage = [
        with_char_changed(&pair.access, signature_start + 3),
        with_char_changed(&pair.access, payload_middle),
        swapped_payload,
        alg_none,
        no_signature,
        "abc.def.ghi".to_owned(),
        "..".to_owned(),
        "not a token".to_owned(),
        String::new(),
    ];
    for token in &garbage {
        assert_err!(fx.sessions.authenticate(token), TokensError::InvalidToken);
        assert_err!(fx.sessions.verify(token), TokensError::InvalidToken);
        assert_err!(fx.sessions.refresh(token), TokensError::InvalidToken);
    }

    let tampered_refresh = with_char_changed(&pair.refresh, pair.refresh.len() / 2);
    assert_err!(
        fx.sessions.refresh(&tampered_refresh),
        TokensError::InvalidToken
    );
    // Nothing above harmed the real tokens.
    assert!(fx.sessions.authenticate(&pair.access).is_ok());
    assert!(fx.sessions.refresh(&pair.refresh).is_ok());
}

#[test]
fn a_token_signed_with_another_secret_is_rejected() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let impostor = service(&fx.store, &fx.clock, &[8u8; 32], TokenSettings::default());
    // Same store, same session: only the key differs.
    let forged = impostor
        .start_jwt_session(&alice, ClientInfo::default())
        .unwrap();
    assert!(impostor.authenticate(&forged.access).is_ok());

    assert_err!(
        fx.sessions.authenticate(&forged.access),
        TokensError::InvalidToken
    );
    assert_err!(
        fx.sessions.refresh(&forged.refresh),
        TokensError::InvalidToken
    );
    assert_err!(
        fx.sessions.verify(&forged.access),
        TokensError::InvalidToken
    );

    let genuine = fx.jwt(&alice);
    assert_err!(
        impostor.authenticate(&genuine.access),
        TokensError::InvalidToken
    );
}

#[test]
fn jwt_secrets_need_32_bytes() {
    assert!(matches!(
        JwtKeys::from_secret(&[7u8; 31]),
        Err(TokensError::Signing(_))
    ));
    assert!(matches!(
        JwtKeys::from_secret(b""),
        Err(TokensError::Signing(_))
    ));
    assert!(JwtKeys::from_secret(&[7u8; 32]).is_ok());
    assert!(JwtKeys::from_secret(&[7u8; 64]).is_ok());
    // Its Debug output does not show the secret.
    let keys = JwtKeys::from_secret(&SECRET).unwrap();
    assert_eq!(format!("{keys:?}"), "JwtKeys(***)");
}

// ------------------------------------------------------------------- expiry

#[test]
fn access_tokens_expire_after_access_ttl() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let pair = fx.jwt(&alice);

    fx.advance(Duration::seconds(899));
    assert!(fx.sessions.authenticate(&pair.access).is_ok());
    assert!(fx.sessions.verify(&pair.access).is_ok());

    fx.advance(Duration::seconds(1));
    assert_err!(
        fx.sessions.authenticate(&pair.access),
        TokensError::TokenExpired
    );
    assert_err!(fx.sessions.verify(&pair.access), TokensError::TokenExpired);

    // The session itself lives on: the refresh token still works.
    let renewed = fx.sessions.refresh(&pair.refresh).unwrap();
    assert!(fx.sessions.authenticate(&renewed.access).is_ok());
}

#[test]
fn custom_lifetimes_are_used() {
    let fx = Fixture::with_settings(TokenSettings {
        access_ttl: Duration::minutes(1),
        refresh_ttl: Duration::minutes(10),
        opaque_idle: Duration::minutes(5),
    });
    let alice = fx.user("alice");
    let pair = fx.jwt(&alice);
    let token = fx.opaque(&alice);

    fx.advance(Duration::seconds(59));
    assert!(fx.sessions.authenticate(&pair.access).is_ok());
    fx.advance(Duration::seconds(1));
    assert_err!(
        fx.sessions.authenticate(&pair.access),
        TokensError::TokenExpired
    );
    // Used at t+1min, the opaque token lives to t+6min.
    assert!(fx.sessions.authenticate(&token).is_ok());
    fx.advance(Duration::minutes(5));
    assert_err!(fx.sessions.authenticate(&token), TokensError::TokenExpired);

    // t+6min: the refresh token (t+10min) still works, t+16min is the end.
    let renewed = fx.sessions.refresh(&pair.refresh).unwrap();
    fx.advance(Duration::minutes(10));
    assert_err!(
        fx.sessions.refresh(&renewed.refresh),
        TokensError::TokenExpired
    );
    // Only the lapsed opaque session is not over: re-authenticate could bring it back.
    assert_eq!(fx.listed_session_ids(&alice).len(), 1);
}

#[test]
fn jwt_sessions_end_after_refresh_ttl() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let pair = fx.jwt(&alice);

    fx.advance(Duration::days(7) - Duration::seconds(1));
    assert!(fx.sessions.verify(&pair.refresh).is_ok());
    assert_eq!(fx.listed_session_ids(&alice), vec![pair.session_id.clone()]);

    fx.advance(Duration::seconds(1));
    assert_err!(fx.sessions.verify(&pair.refresh), TokensError::TokenExpired);
    assert_err!(
        fx.sessions.refresh(&pair.refresh),
        TokensError::TokenExpired
    );
    assert_eq!(fx.listed_session_ids(&alice), Vec::<String>::new());
    assert_err!(
        fx.sessions
            .end_session(alice.id, &pair.session_id, &Actor::default()),
        TokensError::SessionNotFound
    );
}

#[test]
fn an_expired_session_fails_even_a_fresh_access_token() {
    // Access tokens that outlive their session: the session's expiry decides.
    let fx = Fixture::with_settings(TokenSettings {
        access_ttl: Duration::hours(2),
        refresh_ttl: Duration::hours(1),
        opaque_idle: Duration::hours(1),
    });
    let alice = fx.user("alice");
    let pair = fx.jwt(&alice);
    fx.advance(Duration::minutes(59));
    assert!(fx.sessions.authenticate(&pair.access).is_ok());
    fx.advance(Duration::minutes(1));
    assert_err!(
        fx.sessions.authenticate(&pair.access),
        TokensError::TokenExpired
    );
    assert_err!(fx.sessions.verify(&pair.access), TokensError::TokenExpired);
}

#[test]
fn refreshing_extends_the_session() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let first = fx.jwt(&alice);
    fx.advance(Duration::days(6));
    let second = fx.sessions.refresh(&first.refresh).unwrap();
    fx.advance(Duration::days(6));
    assert!(fx.sessions.verify(&second.refresh).is_ok());
    let third = fx.sessions.refresh(&second.refresh).unwrap();
    assert!(fx.sessions.authenticate(&third.access).is_ok());
}

// ------------------------------------------------- long-lived connections

#[test]
fn a_session_is_live_until_it_is_revoked_or_expires() {
    // What an open WebSocket re-checks: an expired session (that the owner
    // can no longer see or end) must close it as a revoked one does.
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let jwt = fx.jwt(&alice);
    let ended = fx.jwt(&alice);
    let opaque_id = {
        let token = fx.opaque(&alice);
        fx.sessions.authenticate(&token).unwrap().session_id
    };
    fx.sessions
        .logout(&ended.session_id, &Actor::default())
        .unwrap();
    assert!(fx.sessions.session_is_live(&jwt.session_id).unwrap());
    assert!(fx.sessions.session_is_live(&opaque_id).unwrap());
    assert!(!fx.sessions.session_is_live(&ended.session_id).unwrap());
    assert!(!fx.sessions.session_is_live("no-such-session").unwrap());

    // Past the opaque idle lifetime, and checking did not restart it.
    fx.advance(TokenSettings::default().opaque_idle + Duration::seconds(1));
    assert!(!fx.sessions.session_is_live(&opaque_id).unwrap());
    assert!(fx.sessions.session_is_live(&jwt.session_id).unwrap());
    // Past the refresh lifetime of the JWT session.
    fx.advance(TokenSettings::default().refresh_ttl);
    assert!(!fx.sessions.session_is_live(&jwt.session_id).unwrap());
}

// ------------------------------------------------------------------- verify

#[test]
fn verify_accepts_live_tokens_only() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let first = fx.jwt(&alice);
    assert!(fx.sessions.verify(&first.access).is_ok());
    assert!(fx.sessions.verify(&first.refresh).is_ok());
    // Verifying does not use a refresh token up.
    assert!(fx.sessions.verify(&first.refresh).is_ok());

    fx.advance(Duration::minutes(1));
    let second = fx.sessions.refresh(&first.refresh).unwrap();
    assert!(fx.sessions.verify(&second.access).is_ok());
    assert!(fx.sessions.verify(&second.refresh).is_ok());
    assert_err!(
        fx.sessions.verify(&first.refresh),
        TokensError::InvalidToken
    );
    // The old access token lives until it expires.
    assert!(fx.sessions.verify(&first.access).is_ok());
    // verify is a check, not a replay: the session survives it.
    assert!(fx.sessions.authenticate(&second.access).is_ok());

    fx.sessions
        .logout(&second.session_id, &Actor::default())
        .unwrap();
    for token in [
        &first.access,
        &first.refresh,
        &second.access,
        &second.refresh,
    ] {
        assert!(fx.sessions.verify(token).is_err());
    }
    assert_err!(
        fx.sessions.verify(&second.access),
        TokensError::SessionRevoked
    );
    assert_err!(
        fx.sessions.verify(&second.refresh),
        TokensError::SessionRevoked
    );
}

#[test]
fn verify_refuses_opaque_tokens() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let token = fx.opaque(&alice);
    assert_err!(fx.sessions.verify(&token), TokensError::InvalidToken);
}

// ------------------------------------------------------------------- logout

#[test]
fn logout_revokes_every_token_of_that_session_only() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let ended = fx.jwt(&alice);
    let kept = fx.jwt(&alice);
    let kept_opaque = fx.opaque(&alice);
    fx.advance(Duration::minutes(1));
    let renewed = fx.sessions.refresh(&ended.refresh).unwrap();

    fx.sessions
        .logout(&ended.session_id, &Actor::default())
        .unwrap();
    assert_err!(
        fx.sessions.authenticate(&ended.access),
        TokensError::SessionRevoked
    );
    assert_err!(
        fx.sessions.authenticate(&renewed.access),
        TokensError::SessionRevoked
    );
    assert_err!(
        fx.sessions.refresh(&renewed.refresh),
        TokensError::SessionRevoked
    );

    assert_eq!(
        fx.sessions.authenticate(&kept.access).unwrap().user.id,
        alice.id
    );
    assert!(fx.sessions.authenticate(&kept_opaque).is_ok());
    assert!(fx.sessions.refresh(&kept.refresh).is_ok());
    assert_eq!(fx.listed_session_ids(&alice).len(), 2);

    // Logging out twice, or an unknown session, is harmless.
    fx.sessions
        .logout(&ended.session_id, &Actor::default())
        .unwrap();
    fx.sessions
        .logout("no-such-session", &Actor::default())
        .unwrap();
}

#[test]
fn logout_ends_an_opaque_session() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let token = fx.opaque(&alice);
    let me = fx.sessions.authenticate(&token).unwrap();
    fx.sessions
        .logout(&me.session_id, &Actor::default())
        .unwrap();
    assert_err!(
        fx.sessions.authenticate(&token),
        TokensError::SessionRevoked
    );
    assert_err!(
        fx.sessions.validate_opaque(&token),
        TokensError::SessionRevoked
    );
}

#[test]
fn logout_all_spares_only_the_exception_and_other_users() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let bob = fx.user("bob");
    let a1 = fx.jwt(&alice);
    let a2 = fx.jwt(&alice);
    let a3 = fx.opaque(&alice);
    let b1 = fx.jwt(&bob);

    assert_eq!(
        fx.sessions
            .logout_all(alice.id, Some(&a1.session_id), &Actor::default())
            .unwrap(),
        2
    );
    assert!(fx.sessions.authenticate(&a1.access).is_ok());
    assert_err!(
        fx.sessions.authenticate(&a2.access),
        TokensError::SessionRevoked
    );
    assert_err!(fx.sessions.authenticate(&a3), TokensError::SessionRevoked);
    assert!(fx.sessions.authenticate(&b1.access).is_ok());
    assert_eq!(fx.listed_session_ids(&alice), vec![a1.session_id.clone()]);

    assert_eq!(
        fx.sessions
            .logout_all(alice.id, None, &Actor::default())
            .unwrap(),
        1
    );
    assert_err!(
        fx.sessions.authenticate(&a1.access),
        TokensError::SessionRevoked
    );
    assert!(fx.sessions.authenticate(&b1.access).is_ok());
    assert_eq!(
        fx.sessions
            .logout_all(alice.id, None, &Actor::default())
            .unwrap(),
        0
    );
}

// ------------------------------------------------------------------ account

#[test]
fn an_inactive_accounts_tokens_fail() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let pair = fx.jwt(&alice);
    let token = fx.opaque(&alice);

    fx.store.set_flags(alice.id, Some(false), None).unwrap();
    // Deactivation also ends every session: either refusal is right.
    let refused = |result: Result<(), TokensError>| {
        assert!(
            matches!(
                result,
                Err(TokensError::AccountInactive | TokensError::SessionRevoked)
            ),
            "{result:?}"
        );
    };
    refused(fx.sessions.authenticate(&pair.access).map(|_| ()));
    refused(fx.sessions.authenticate(&token).map(|_| ()));
    refused(fx.sessions.refresh(&pair.refresh).map(|_| ()));
    refused(fx.sessions.verify(&pair.access));

    // Reactivated, the account logs in again; the ended sessions stay ended.
    fx.store.set_flags(alice.id, Some(true), None).unwrap();
    assert_err!(
        fx.sessions.authenticate(&pair.access),
        TokensError::SessionRevoked
    );
    let fresh = fx.jwt(&alice);
    assert!(fx.sessions.authenticate(&fresh.access).is_ok());
}

#[test]
fn a_deleted_accounts_tokens_fail() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let bob = fx.user("bob");
    let pair = fx.jwt(&alice);
    let token = fx.opaque(&alice);
    let bobs = fx.jwt(&bob);

    fx.accounts
        .delete_as(&alice, alice.id, &Actor::default())
        .unwrap();
    // The store drops the sessions with the account (as the database's
    // ON DELETE CASCADE does), so the tokens point at nothing.
    for bearer in [&pair.access, &token] {
        assert_err!(
            fx.sessions.authenticate(bearer),
            TokensError::InvalidToken | TokensError::AccountInactive
        );
    }
    assert_err!(
        fx.sessions.refresh(&pair.refresh),
        TokensError::InvalidToken | TokensError::AccountInactive
    );
    assert!(fx.sessions.authenticate(&bobs.access).is_ok());
}

#[test]
fn a_session_whose_account_vanished_is_inactive() {
    // A session left behind by a store that does not cascade.
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let ghost = User {
        id: UserId(4242),
        ..alice
    };
    let pair = fx.jwt(&ghost);
    let token = fx.opaque(&ghost);
    assert_err!(
        fx.sessions.authenticate(&pair.access),
        TokensError::AccountInactive
    );
    assert_err!(
        fx.sessions.authenticate(&token),
        TokensError::AccountInactive
    );
    assert_err!(
        fx.sessions.refresh(&pair.refresh),
        TokensError::AccountInactive
    );
}

// ------------------------------------------------------------------- opaque

#[test]
fn opaque_tokens_are_random_and_stored_only_as_a_hash() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let token = fx.opaque(&alice);
    let again = fx.opaque(&alice);
    assert_ne!(token, again);
    assert!(token
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    // Base64 carries six bits a character.
    assert!(token.len() * 6 >= 128, "{} characters", token.len());

    let stored = fx.store.all_sessions();
    assert_eq!(stored.len(), 2);
    for session in &stored {
        assert_eq!(session.kind, SessionKind::Opaque);
        assert_eq!(session.refresh_jti, None);
        let hash = session.token_hash.as_deref().expect("a token hash");
        assert_ne!(hash, token);
        assert_ne!(hash, again);
        assert!(!hash.contains(&token) && !hash.contains(&again));
        assert_ne!(session.id, token);
    }
    assert!(stored
        .iter()
        .any(|s| s.token_hash.as_deref() == Some(token_hash(&token).as_str())));
}

#[test]
fn opaque_tokens_authenticate() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let token = fx.opaque(&alice);
    let me = fx.sessions.authenticate(&token).unwrap();
    assert_eq!(me.user.id, alice.id);
    assert_eq!(fx.stored_session(&me.session_id).kind, SessionKind::Opaque);
    let validated = fx.sessions.validate_opaque(&token).unwrap();
    assert_eq!(validated.session_id, me.session_id);

    assert_err!(
        fx.sessions.authenticate("unknown-opaque-token"),
        TokensError::InvalidToken
    );
    // Its hash is not a token.
    let hash = token_hash(&token);
    assert_err!(fx.sessions.authenticate(&hash), TokensError::InvalidToken);
}

#[test]
fn opaque_tokens_slide_on_use() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let start = fx.clock.now();
    let a = fx.opaque(&alice);
    let b = fx.opaque(&alice);

    fx.advance(Duration::minutes(50));
    let used = fx.sessions.authenticate(&a).unwrap();
    fx.sessions.validate_opaque(&b).unwrap();
    let stored = fx.stored_session(&used.session_id);
    assert_eq!(stored.last_used_at, start + Duration::minutes(50));
    assert_eq!(stored.expires_at, start + Duration::minutes(110));

    // Past the first hour, still alive thanks to the use at t+50min.
    fx.advance(Duration::minutes(60) - Duration::seconds(1));
    assert!(fx.sessions.authenticate(&a).is_ok());
    // b was not used since t+50min: it ends at t+110min.
    fx.advance(Duration::seconds(1));
    assert_err!(fx.sessions.authenticate(&b), TokensError::TokenExpired);
    assert_err!(fx.sessions.validate_opaque(&b), TokensError::TokenExpired);
    // a was used at t+109:59 and lives to t+169:59.
    fx.advance(Duration::minutes(60) - Duration::seconds(2));
    assert!(fx.sessions.authenticate(&a).is_ok());
    fx.advance(Duration::minutes(60));
    assert_err!(fx.sessions.authenticate(&a), TokensError::TokenExpired);
}

#[test]
fn unused_opaque_tokens_expire_after_the_idle_period() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let token = fx.opaque(&alice);
    fx.advance(Duration::minutes(60));
    assert_err!(fx.sessions.authenticate(&token), TokensError::TokenExpired);
    // A failed use does not revive it.
    assert_err!(fx.sessions.authenticate(&token), TokensError::TokenExpired);
    // Re-authenticate could: it is listed, and its owner can end it for good.
    let [lapsed] = fx.listed_session_ids(&alice).try_into().unwrap();
    (fx.sessions
        .end_session(alice.id, &lapsed, &Actor::default()))
    .unwrap();
    assert_eq!(fx.listed_session_ids(&alice), Vec::<String>::new());
    fx.sessions.revive_opaque_sessions(alice.id).unwrap();
    assert_err!(
        fx.sessions.authenticate(&token),
        TokensError::SessionRevoked
    );
}

#[test]
fn a_refresh_token_alone_ends_its_session() {
    let fx = Fixture::new();
    let audit = Arc::new(sesame_testkit::InMemoryAudit::new());
    let sessions = fx.sessions.clone().with_audit(audit.clone());
    let alice = fx.user("alice");
    let pair = fx.jwt(&alice);
    let other = fx.jwt(&alice);
    let from = Actor {
        ip: Some("203.0.113.9".into()),
        ..Actor::default()
    };
    assert!(!sessions.end_refreshable("not a token", &from).unwrap());
    assert!(!sessions.end_refreshable(&pair.access, &from).unwrap());
    assert!(sessions.end_refreshable(&pair.refresh, &from).unwrap());
    let [ended] = audit.events().try_into().unwrap();
    assert_eq!(
        (ended.kind.as_str(), ended.user_id, ended.ip.as_deref()),
        ("logout", Some(alice.id), Some("203.0.113.9"))
    );
    assert_err!(
        fx.sessions.authenticate(&pair.access),
        TokensError::SessionRevoked
    );
    assert!(fx.sessions.refresh(&pair.refresh).is_err());
    assert!(!fx.sessions.end_refreshable(&pair.refresh, &from).unwrap());
    assert!(
        fx.sessions.authenticate(&other.access).is_ok(),
        "only its own"
    );
    // One the session rotated past ends it as well, as a replay.
    let rotated = sessions.refresh(&other.refresh).unwrap();
    assert!(sessions.end_refreshable(&other.refresh, &from).unwrap());
    assert!(sessions.authenticate(&rotated.access).is_err());
    assert_eq!(audit.kinds(), ["logout", "refresh_reuse_detected"]);
    let replayed_from = audit.events()[1].ip.clone();
    assert_eq!(replayed_from.as_deref(), Some("203.0.113.9"));
}

#[test]
fn revive_restarts_expired_opaque_sessions_but_not_revoked_ones() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let bob = fx.user("bob");
    let expired = fx.opaque(&alice);
    let revoked = fx.opaque(&alice);
    let jwt = fx.jwt(&alice);
    let bobs = fx.opaque(&bob);
    let revoked_id = fx.sessions.authenticate(&revoked).unwrap().session_id;
    fx.sessions.logout(&revoked_id, &Actor::default()).unwrap();

    fx.advance(Duration::minutes(61));
    assert_err!(
        fx.sessions.authenticate(&expired),
        TokensError::TokenExpired
    );
    assert_err!(fx.sessions.authenticate(&bobs), TokensError::TokenExpired);

    assert_eq!(fx.sessions.revive_opaque_sessions(alice.id).unwrap(), 1);
    let me = fx.sessions.authenticate(&expired).unwrap();
    assert_eq!(me.user.id, alice.id);
    assert_eq!(
        fx.stored_session(&me.session_id).expires_at,
        fx.clock.now() + Duration::minutes(60)
    );
    assert_err!(
        fx.sessions.authenticate(&revoked),
        TokensError::SessionRevoked
    );
    // Other users' sessions and JWT sessions are left alone.
    assert_err!(fx.sessions.authenticate(&bobs), TokensError::TokenExpired);
    // One ended after it lapsed (signing out of a page left open) stays ended.
    let left_open = fx.opaque(&alice);
    fx.advance(Duration::minutes(61));
    assert!(fx
        .sessions
        .end_opaque(&left_open, &Actor::default())
        .unwrap());
    assert!(!fx
        .sessions
        .end_opaque(&left_open, &Actor::default())
        .unwrap());
    fx.sessions.revive_opaque_sessions(alice.id).unwrap();
    assert_err!(
        fx.sessions.authenticate(&left_open),
        TokensError::SessionRevoked
    );
    assert_eq!(
        fx.stored_session(&jwt.session_id).expires_at,
        fx.stored_session(&jwt.session_id).created_at + Duration::days(7)
    );
}

#[test]
fn revive_leaves_a_login_s_opaque_sessions_alone_live_or_lapsed() {
    // The pages' sessions: a browser left signed in on a shared computer
    // must not come back to life when its owner re-authenticates elsewhere.
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let login = |fx: &Fixture| {
        (fx.sessions)
            .start_opaque_session(&alice, ClientInfo::default(), Revival::Never)
            .unwrap()
    };
    let left_open = login(&fx);
    let seeds = fx.opaque(&alice);
    let seeds_id = fx.sessions.authenticate(&seeds).unwrap().session_id;
    fx.advance(Duration::minutes(61));
    let live = login(&fx);
    let live_id = fx.sessions.authenticate(&live).unwrap().session_id;
    let live_until = fx.stored_session(&live_id).expires_at;
    fx.advance(Duration::minutes(1));

    // Only seed 002's token is listed among the lapsed ones, and revived.
    assert_eq!(fx.listed_session_ids(&alice), [live_id.clone(), seeds_id]);
    assert_eq!(fx.sessions.revive_opaque_sessions(alice.id).unwrap(), 1);
    fx.sessions.authenticate(&seeds).unwrap();
    assert_err!(
        fx.sessions.authenticate(&left_open),
        TokensError::TokenExpired
    );
    assert_eq!(fx.stored_session(&live_id).expires_at, live_until);
}

// ----------------------------------------------------------------- sessions

#[test]
fn list_sessions_shows_live_ones_newest_use_first() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let bob = fx.user("bob");
    let first = fx.opaque(&alice);
    fx.advance(Duration::minutes(1));
    let second = fx.jwt(&alice);
    fx.advance(Duration::minutes(1));
    let third = fx.jwt(&alice);
    fx.advance(Duration::minutes(1));
    let bobs = fx.jwt(&bob);
    fx.advance(Duration::minutes(1));
    let first_id = fx.sessions.authenticate(&first).unwrap().session_id;

    assert_eq!(
        fx.listed_session_ids(&alice),
        vec![
            first_id.clone(),
            third.session_id.clone(),
            second.session_id.clone()
        ]
    );

    fx.advance(Duration::minutes(1));
    fx.sessions.refresh(&second.refresh).unwrap();
    fx.sessions
        .logout(&third.session_id, &Actor::default())
        .unwrap();
    let listed = fx.sessions.list_sessions(alice.id).unwrap();
    assert_eq!(
        listed.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        vec![second.session_id.clone(), first_id]
    );
    assert!(listed.iter().all(|s| s.user_id == alice.id));
    assert!(listed.iter().all(|s| s.revoked_at.is_none()));
    assert_eq!(fx.listed_session_ids(&bob), vec![bobs.session_id]);
}

#[test]
fn a_user_with_many_sessions_gets_the_newest_hundred_listed_and_revived() {
    // Logins are cheap to repeat: however many sessions a user piles up, a
    // listing or a re-authentication does bounded work.
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let tokens: Vec<String> = (0..=MAX_LISTED_SESSIONS)
        .map(|_| {
            fx.advance(Duration::seconds(1));
            fx.opaque(&alice)
        })
        .collect();
    let listed = fx.listed_session_ids(&alice);
    assert_eq!(listed.len(), MAX_LISTED_SESSIONS);
    let newest = fx.sessions.authenticate(&tokens[MAX_LISTED_SESSIONS]);
    assert_eq!(listed[0], newest.unwrap().session_id);

    fx.advance(Duration::minutes(61));
    assert_eq!(
        fx.sessions.revive_opaque_sessions(alice.id).unwrap(),
        MAX_LISTED_SESSIONS
    );
    assert!(fx.sessions.authenticate(&tokens[1]).is_ok());
    assert_err!(
        fx.sessions.authenticate(&tokens[0]),
        TokensError::TokenExpired
    );
}

#[test]
fn newer_page_sessions_do_not_keep_seed_002_s_token_from_being_revived() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let seeds = fx.opaque(&alice);
    fx.advance(Duration::minutes(61));
    for _ in 0..MAX_LISTED_SESSIONS {
        fx.advance(Duration::seconds(1));
        (fx.sessions)
            .start_opaque_session(&alice, ClientInfo::default(), Revival::Never)
            .unwrap();
    }
    assert_eq!(fx.sessions.revive_opaque_sessions(alice.id).unwrap(), 1);
    assert!(fx.sessions.authenticate(&seeds).is_ok());
}

#[test]
fn newer_jwt_sessions_do_not_keep_an_opaque_one_from_being_revived() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let opaque = fx.opaque(&alice);
    for _ in 0..MAX_LISTED_SESSIONS {
        fx.advance(Duration::seconds(1));
        fx.jwt(&alice);
    }
    fx.advance(Duration::minutes(61));
    assert_eq!(fx.sessions.revive_opaque_sessions(alice.id).unwrap(), 1);
    assert!(fx.sessions.authenticate(&opaque).is_ok());
}

#[test]
fn end_session_ends_only_the_callers_own_sessions() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let bob = fx.user("bob");
    let mine = fx.jwt(&alice);
    let other = fx.jwt(&alice);
    let bobs = fx.jwt(&bob);

    assert_err!(
        fx.sessions
            .end_session(alice.id, &bobs.session_id, &Actor::default()),
        TokensError::SessionNotFound
    );
    assert!(fx.sessions.authenticate(&bobs.access).is_ok());
    assert_err!(
        fx.sessions
            .end_session(alice.id, "no-such-session", &Actor::default()),
        TokensError::SessionNotFound
    );

    fx.sessions
        .end_session(alice.id, &other.session_id, &Actor::default())
        .unwrap();
    assert_err!(
        fx.sessions.authenticate(&other.access),
        TokensError::SessionRevoked
    );
    assert!(fx.sessions.authenticate(&mine.access).is_ok());
    // Once ended, it is gone.
    assert_err!(
        fx.sessions
            .end_session(alice.id, &other.session_id, &Actor::default()),
        TokensError::SessionNotFound
    );
}

#[test]
fn uses_are_recorded_at_most_once_a_minute() {
    let f = Fixture::new();
    let user = f.user("frequent");
    let pair = f.jwt(&user);
    let opened = f.stored_session(&pair.session_id).last_used_at;
    f.advance(Duration::seconds(30));
    f.sessions.authenticate(&pair.access).unwrap();
    assert_eq!(
        f.stored_session(&pair.session_id).last_used_at,
        opened,
        "a use within the minute writes nothing"
    );
    f.advance(Duration::seconds(31));
    f.sessions.authenticate(&pair.access).unwrap();
    assert_eq!(
        f.stored_session(&pair.session_id).last_used_at,
        opened + Duration::seconds(61)
    );

    let token = f.opaque(&user);
    let id = f.sessions.authenticate(&token).unwrap().session_id;
    let expiry = f.stored_session(&id).expires_at;
    f.advance(Duration::seconds(10));
    f.sessions.authenticate(&token).unwrap();
    assert_eq!(f.stored_session(&id).expires_at, expiry);
    f.advance(Duration::seconds(55));
    f.sessions.authenticate(&token).unwrap();
    assert_eq!(
        f.stored_session(&id).expires_at,
        expiry + Duration::seconds(65),
        "the idle clock restarts once the last recorded use is a minute old"
    );
}

#[test]
fn ending_sessions_is_audited_with_the_actor() {
    let fx = Fixture::new();
    let audit = Arc::new(sesame_testkit::InMemoryAudit::new());
    let sessions = fx.sessions.clone().with_audit(audit.clone());
    let alice = fx.user("alice");
    let (one, two, three) = (fx.jwt(&alice), fx.jwt(&alice), fx.jwt(&alice));
    let actor = Actor {
        user: Some(alice.id),
        ip: Some("203.0.113.4".into()),
        user_agent: Some("app/2".into()),
    };
    sessions.logout(&one.session_id, &actor).unwrap();
    sessions
        .end_session(alice.id, &two.session_id, &actor)
        .unwrap();
    assert!(sessions
        .end_session(alice.id, &two.session_id, &actor)
        .is_err());
    sessions
        .logout_all(alice.id, Some(&three.session_id), &actor)
        .unwrap();

    assert_eq!(audit.kinds(), ["logout", "session_ended", "logout_all"]);
    assert!(audit.events().iter().all(|e| e.user_id == Some(alice.id)
        && e.ip.as_deref() == Some("203.0.113.4")
        && e.user_agent.as_deref() == Some("app/2")));
}
