//! Sessions and the credentials that carry them, for programs that bring
//! their own storage.
//!
//! Every login opens a [`Session`]. A JWT login hands out a short-lived access
//! token and a refresh token that rotates on every use (a replayed refresh
//! token revokes its whole session); an opaque login hands out a random token
//! stored only as a hash, valid for a sliding idle period. Revoking a session
//! makes every token of it fail at once. Optional TOTP second factors live
//! in [`MfaService`].
//!
//! # What is in it
//!
//! - **Services**: [`LoginService`] (the one login every route shares:
//!   lockout, password, second factor, session, audit), [`SessionService`] (open a session, authenticate a bearer
//!   token, refresh, log out, list and end sessions), [`MfaService`]
//!   (set up, confirm and check TOTP codes and recovery codes), and
//!   [`PasskeyService`] (WebAuthn passkeys on webauthn-rs: register, list,
//!   remove, log in).
//! - **Value types**: [`Session`], [`SessionKind`], [`Revival`], [`Listing`], [`ClientInfo`],
//!   [`TokenPair`], [`Authenticated`], [`TokenSettings`] (lifetimes), and
//!   [`JwtKeys`] (the keys that sign and verify; from one HS256 secret of at
//!   least 32 bytes, or kept by [`SigningKeys`]; the JWT format itself is
//!   internal).
//! - **Signing keys**: [`SigningKeys`] keeps a key set ([`SigningAlgorithm`]
//!   HS256, ES256, RS256 or EdDSA) in a [`SigningKeyRepository`], private
//!   halves sealed by a [`SecretCipher`]; it rotates and retires keys and
//!   serves the public ones as a JWK Set ([`JwtKeys::jwks`]). Every JWT
//!   names its key in `kid`.
//! - **Ports** to implement: [`PasskeyRepository`] and [`ChallengeStore`]
//!   (passkeys, and their ceremonies between two requests);
//!   [`LoginThrottle`] (failed-login counts and
//!   locks, keyed by [`LoginKey`]; [`Lockout`] is ready-made, keeping
//!   accounts' [`LockState`]s behind [`AccountLocks`], in memory or in
//!   storage every instance shares), [`SessionRepository`] (where sessions live; its
//!   [`rotate_refresh`](SessionRepository::rotate_refresh) must be one atomic
//!   compare-and-swap), the `sesame-users` [`UserRepository`](sesame_users::UserRepository)
//!   (tokens are refused once their account is gone or inactive), the
//!   `sesame-kernel` [`Clock`](sesame_kernel::Clock); for TOTP,
//!   [`MfaRepository`] and [`SecretCipher`] ([`ChaChaCipher`] is ready-made).
//! - **Errors**: every fallible call returns [`TokensError`]
//!   ([`TokensError::TokenExpired`], [`TokensError::RefreshReused`], ...).
//!
//! The crate does no I/O; signing, key generation and hashing are plain computation.
//!
//! # Example: start a session and authenticate its token
//!
//! Sessions live in a vector here. `MemoryUsers` is the in-memory
//! `UserRepository` written out on the `sesame-users` crate page (hidden
//! here); the `memory_sessions` example of this crate (`cargo run -p
//! sesame-tokens --example memory_sessions`) goes further: opaque tokens,
//! logout, and accounts the program already had.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! use sesame_kernel::{Page, StorageError, SystemClock, Timestamp, UserId};
//! use sesame_tokens::{
//!     ClientInfo, JwtKeys, Listing, Session, SessionRepository, SessionService, TokenSettings,
//!     TokensError,
//! };
//! use sesame_users::{
//!     AccountService, AccountSettings, BcryptHasher, NewUser, ProfileChanges, ProfileUpdated,
//!     Registration, User, UserRepository, Username, UsersError,
//! };
//!
//! /// Sessions in memory: the storage this program brings.
//! #[derive(Default)]
//! struct MemorySessions(Mutex<Vec<Session>>);
//!
//! impl MemorySessions {
//!     /// Runs `change` on the session `id`, under the lock.
//!     fn with<T>(&self, id: &str, change: impl FnOnce(&mut Session) -> T) -> Option<T> {
//!         self.0.lock().unwrap().iter_mut().find(|s| s.id == id).map(change)
//!     }
//! }
//!
//! impl SessionRepository for MemorySessions {
//!     fn create(&self, session: &Session) -> Result<(), TokensError> {
//!         self.0.lock().unwrap().push(session.clone());
//!         Ok(())
//!     }
//!
//!     fn find(&self, id: &str) -> Result<Option<Session>, TokensError> {
//!         Ok(self.with(id, |s| s.clone()))
//!     }
//!
//!     fn find_by_token_hash(&self, hash: &str) -> Result<Option<Session>, TokensError> {
//!         let sessions = self.0.lock().unwrap();
//!         Ok(sessions.iter().find(|s| s.token_hash.as_deref() == Some(hash)).cloned())
//!     }
//!
//!     fn rotate_refresh(
//!         &self,
//!         id: &str,
//!         expected_jti: &str,
//!         new_jti: &str,
//!         expires_at: Timestamp,
//!         now: Timestamp,
//!     ) -> Result<bool, TokensError> {
//!         // Check and swap under one lock: of two racing refreshes, one wins.
//!         let swapped = self.with(id, |s| {
//!             let current =
//!                 s.revoked_at.is_none() && s.refresh_jti.as_deref() == Some(expected_jti);
//!             if current {
//!                 s.refresh_jti = Some(new_jti.to_owned());
//!                 s.expires_at = expires_at;
//!                 s.last_used_at = now;
//!             }
//!             current
//!         });
//!         Ok(swapped.unwrap_or(false))
//!     }
//!
//!     fn touch(
//!         &self,
//!         id: &str,
//!         now: Timestamp,
//!         expires_at: Option<Timestamp>,
//!     ) -> Result<(), TokensError> {
//!         self.with(id, |s| {
//!             s.last_used_at = now;
//!             s.expires_at = expires_at.unwrap_or(s.expires_at);
//!         });
//!         Ok(())
//!     }
//!
//!     fn revoke(&self, id: &str, now: Timestamp) -> Result<bool, TokensError> {
//!         let was_live = self.with(id, |s| {
//!             let live = s.revoked_at.is_none();
//!             if live {
//!                 s.revoked_at = Some(now);
//!             }
//!             live
//!         });
//!         Ok(was_live.unwrap_or(false))
//!     }
//!
//!     fn revoke_all(
//!         &self,
//!         user: UserId,
//!         except: Option<&str>,
//!         now: Timestamp,
//!     ) -> Result<usize, TokensError> {
//!         let mut ended = 0;
//!         for s in self.0.lock().unwrap().iter_mut() {
//!             if s.user_id == user && s.revoked_at.is_none() && Some(s.id.as_str()) != except {
//!                 s.revoked_at = Some(now);
//!                 ended += 1;
//!             }
//!         }
//!         Ok(ended)
//!     }
//!
//!     fn list_for_user(
//!         &self,
//!         user: UserId,
//!         which: Listing,
//!         at: Timestamp,
//!         limit: usize,
//!     ) -> Result<Vec<Session>, TokensError> {
//!         let sessions = self.0.lock().unwrap();
//!         let mut live: Vec<Session> = sessions
//!             .iter()
//!             .filter(|s| s.user_id == user && which.includes(s, at))
//!             .cloned()
//!             .collect();
//!         live.sort_by_key(|s| std::cmp::Reverse(s.last_used_at));
//!         live.truncate(limit);
//!         Ok(live)
//!     }
//! }
//!
//! # /// Accounts in memory: the storage this program brings.
//! # #[derive(Default)]
//! # struct MemoryUsers(Mutex<Vec<User>>);
//! #
//! # impl MemoryUsers {
//! #     fn find(&self, matches: impl Fn(&User) -> bool) -> Option<User> {
//! #         self.0.lock().unwrap().iter().find(|u| matches(u)).cloned()
//! #     }
//! # }
//! #
//! # fn same(a: &str, b: &str) -> bool {
//! #     a.to_lowercase() == b.to_lowercase()
//! # }
//! #
//! # fn unsupported() -> UsersError {
//! #     UsersError::Storage(StorageError("not supported by this store".into()))
//! # }
//! #
//! # impl UserRepository for MemoryUsers {
//! #     fn insert(&self, new: &NewUser) -> Result<User, UsersError> {
//! #         let mut users = self.0.lock().unwrap();
//! #         // The store itself refuses duplicates, ignoring case.
//! #         if users.iter().any(|u| same(&u.username, new.username.as_str())) {
//! #             return Err(UsersError::UsernameTaken);
//! #         }
//! #         let email = new.email.as_ref().map(|e| e.as_str().to_owned());
//! #         if let Some(email) = &email {
//! #             if users.iter().any(|u| u.email.as_deref().is_some_and(|e| same(e, email))) {
//! #                 return Err(UsersError::EmailTaken);
//! #             }
//! #         }
//! #         let user = User {
//! #             id: UserId(users.len() as i64 + 1),
//! #             username: new.username.as_str().to_owned(),
//! #             email,
//! #             first_name: new.first_name.clone(),
//! #             last_name: new.last_name.clone(),
//! #             avatar: None,
//! #             is_active: new.is_active,
//! #             is_staff: new.is_staff,
//! #             date_joined: new.date_joined,
//! #             last_login: None,
//! #             password_hash: new.password_hash.clone(),
//! #         };
//! #         users.push(user.clone());
//! #         Ok(user)
//! #     }
//! #
//! #     fn find_by_id(&self, id: UserId) -> Result<Option<User>, UsersError> {
//! #         Ok(self.find(|u| u.id == id))
//! #     }
//! #
//! #     fn find_by_username(&self, username: &str) -> Result<Option<User>, UsersError> {
//! #         Ok(self.find(|u| same(&u.username, username)))
//! #     }
//! #
//! #     fn find_by_email(&self, email: &str) -> Result<Option<User>, UsersError> {
//! #         Ok(self.find(|u| u.email.as_deref().is_some_and(|e| same(e, email.trim()))))
//! #     }
//! #
//! #     fn list(&self, page: Page) -> Result<Vec<User>, UsersError> {
//! #         let users = self.0.lock().unwrap();
//! #         let window = users.iter().skip(page.skip as usize).take(page.limit as usize);
//! #         Ok(window.cloned().collect())
//! #     }
//! #
//! #     fn record_login(&self, id: UserId, at: Timestamp) -> Result<(), UsersError> {
//! #         let mut users = self.0.lock().unwrap();
//! #         let user = users.iter_mut().find(|u| u.id == id).ok_or(UsersError::NotFound)?;
//! #         user.last_login = Some(at);
//! #         Ok(())
//! #     }
//! #
//! #     // Not used to register and log in.
//! #     fn update_profile(
//! #         &self,
//! #         _: UserId,
//! #         _: &ProfileChanges,
//! #     ) -> Result<ProfileUpdated, UsersError> {
//! #         Err(unsupported())
//! #     }
//! #     fn set_username(&self, _: UserId, _: &Username) -> Result<(), UsersError> {
//! #         Err(unsupported())
//! #     }
//! #     fn change_password(
//! #         &self,
//! #         _: UserId,
//! #         _: &str,
//! #         _: &str,
//! #         _: Option<&str>,
//! #         _: Timestamp,
//! #     ) -> Result<(), UsersError> {
//! #         Err(unsupported())
//! #     }
//! #     fn set_flags(&self, _: UserId, _: Option<bool>, _: Option<bool>) -> Result<(), UsersError> {
//! #         Err(unsupported())
//! #     }
//! #     fn delete(&self, _: UserId) -> Result<(), UsersError> {
//! #         Err(unsupported())
//! #     }
//! # }
//! #
//! # fn main() -> Result<(), TokensError> {
//! let users = Arc::new(MemoryUsers::default());
//! let clock = Arc::new(SystemClock);
//! let accounts = AccountService::new(
//!     users.clone(),
//!     Arc::new(BcryptHasher::new(4)?),
//!     clock.clone(),
//!     AccountSettings::default(),
//! );
//! let sessions = SessionService::new(
//!     Arc::new(MemorySessions::default()),
//!     users,
//!     clock,
//!     JwtKeys::from_secret(b"a secret of at least thirty-two bytes, from config")?,
//!     TokenSettings::default(), // access 15 minutes, refresh 7 days, opaque idle 1 hour
//! );
//!
//! // Log in (sesame-users), then open a session for the account.
//! accounts.register(Registration {
//!     username: "alice".into(),
//!     password: "Xk92!dumbo-lamp".into(),
//!     ..Registration::default()
//! })?;
//! let alice = accounts.authenticate("alice", "Xk92!dumbo-lamp")?;
//! let pair = sessions.start_jwt_session(&alice, ClientInfo::default())?;
//!
//! // Each request presents the access token; the session behind it is checked.
//! let caller = sessions.authenticate(&pair.access)?;
//! assert_eq!(caller.user.id, alice.id);
//! assert_eq!(caller.session_id, pair.session_id);
//!
//! // The refresh token is used once: the second use revokes the session,
//! // and every token of it fails from then on.
//! let renewed = sessions.refresh(&pair.refresh)?;
//! assert!(matches!(sessions.refresh(&pair.refresh), Err(TokensError::RefreshReused)));
//! assert!(matches!(sessions.authenticate(&renewed.access), Err(TokensError::SessionRevoked)));
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod cache;
mod error;
mod jwt;
mod keys;
mod lockout;
mod login;
mod mfa;
mod passkeys;
mod ports;
mod service;
mod session;

pub use cache::AuthCache;
pub use error::TokensError;
pub(crate) use jwt::{Claims, TokenType};
pub use jwt::{JwtKeys, REFRESH_AUDIENCE};
pub use keys::{
    KeyInfo, KeyState, Resealed, SigningAlgorithm, SigningKeyRepository, SigningKeys,
    StoredSigningKey,
};
pub use lockout::{AccountLocks, AccountLocksInMemory, LockState, Lockout, LockoutSettings};
pub use login::{
    ConfirmationsAsLogins, Credentials, LoggedIn, LoginKey, LoginService, LoginThrottle,
    NewSession, SECOND_FACTOR_ALERT_AFTER,
};
pub use mfa::{
    totp_code, ChaChaCipher, MfaRepository, MfaService, SecretsCheck, TotpRecord, TotpSetup,
    RECOVERY_CODES,
};
pub use passkeys::{
    Ceremony, CeremonyKind, ChallengeStore, PasskeyPorts, PasskeyRepository, PasskeyService,
    PasskeySettings, StoredPasskey, CEREMONY_LIFETIME, DEFAULT_PASSKEY_NAME,
    MAX_PASSKEYS_PER_ACCOUNT, MAX_PASSKEY_NAME_CHARS,
};
pub use ports::SessionRepository;
pub use service::{Authenticated, SessionService, TokenPair, TokenSettings, MAX_LISTED_SESSIONS};
pub use sesame_kernel::secrets::SecretCipher;
pub use sesame_users::PASSWORD_ALERT_AFTER;
pub use session::{ClientInfo, Listing, Revival, Session, SessionKind};
