//! Sessions in memory over accounts a program already has: `sesame-tokens`
//! with adapters of your own.
//!
//! Three small adapters: `MemorySessions` implements every method of the
//! `SessionRepository` port; `KnownAccounts` is a read-only view of the
//! accounts the program already keeps elsewhere (a `UserRepository` that
//! finds accounts and refuses to change them); `HandClock` is a clock the
//! program moves, to show tokens expiring without waiting.
//!
//! Run it with `cargo run -p sesame-tokens --example memory_sessions`.

use std::sync::{Arc, Mutex};

use chrono::Duration;
use sesame_kernel::audit::Actor;
use sesame_kernel::{Clock, Page, StorageError, SystemClock, Timestamp, UserId};
use sesame_tokens::{
    ClientInfo, JwtKeys, Listing, Revival, Session, SessionRepository, SessionService,
    TokenSettings, TokensError,
};
use sesame_users::{
    AccountService, AccountSettings, BcryptHasher, NewUser, Password, PasswordHasher,
    ProfileChanges, ProfileUpdated, User, UserAttribute, UserRepository, Username, UsersError,
};

// ------------------------------------------------------------ sessions

/// Sessions in memory.
#[derive(Default)]
struct MemorySessions(Mutex<Vec<Session>>);

impl MemorySessions {
    /// Runs `change` on the session `id`, under the lock.
    fn with<T>(&self, id: &str, change: impl FnOnce(&mut Session) -> T) -> Option<T> {
        self.0
            .lock()
            .unwrap()
            .iter_mut()
            .find(|s| s.id == id)
            .map(change)
    }
}

impl SessionRepository for MemorySessions {
    fn create(&self, session: &Session) -> Result<(), TokensError> {
        self.0.lock().unwrap().push(session.clone());
        Ok(())
    }

    fn find(&self, id: &str) -> Result<Option<Session>, TokensError> {
        Ok(self.with(id, |s| s.clone()))
    }

    fn find_by_token_hash(&self, token_hash: &str) -> Result<Option<Session>, TokensError> {
        let sessions = self.0.lock().unwrap();
        Ok(sessions
            .iter()
            .find(|s| s.token_hash.as_deref() == Some(token_hash))
            .cloned())
    }

    fn rotate_refresh(
        &self,
        id: &str,
        expected_jti: &str,
        new_jti: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, TokensError> {
        // Compare and swap under one lock: of two racing refreshes, one wins
        // and the other is treated as a replay.
        let swapped = self.with(id, |s| {
            let current = s.revoked_at.is_none() && s.refresh_jti.as_deref() == Some(expected_jti);
            if current {
                s.refresh_jti = Some(new_jti.to_owned());
                s.expires_at = expires_at;
                s.last_used_at = now;
            }
            current
        });
        Ok(swapped.unwrap_or(false))
    }

    fn touch(
        &self,
        id: &str,
        now: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> Result<(), TokensError> {
        self.with(id, |s| {
            s.last_used_at = now;
            s.expires_at = expires_at.unwrap_or(s.expires_at);
        });
        Ok(())
    }

    fn revoke(&self, id: &str, now: Timestamp) -> Result<bool, TokensError> {
        let was_live = self.with(id, |s| {
            let live = s.revoked_at.is_none();
            if live {
                s.revoked_at = Some(now);
            }
            live
        });
        Ok(was_live.unwrap_or(false))
    }

    fn revoke_all(
        &self,
        user_id: UserId,
        except: Option<&str>,
        now: Timestamp,
    ) -> Result<usize, TokensError> {
        let mut ended = 0;
        for s in self.0.lock().unwrap().iter_mut() {
            if s.user_id == user_id && s.revoked_at.is_none() && Some(s.id.as_str()) != except {
                s.revoked_at = Some(now);
                ended += 1;
            }
        }
        Ok(ended)
    }

    fn list_for_user(
        &self,
        user_id: UserId,
        which: Listing,
        at: Timestamp,
        limit: usize,
    ) -> Result<Vec<Session>, TokensError> {
        let mut live: Vec<Session> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.user_id == user_id && which.includes(s, at))
            .cloned()
            .collect();
        live.sort_by_key(|s| std::cmp::Reverse(s.last_used_at));
        live.truncate(limit);
        Ok(live)
    }
}

// ------------------------------------------------------------ accounts

/// The accounts this program already has, read-only: sessions only need to
/// find an account (and refuse tokens once it is gone or inactive).
struct KnownAccounts(Vec<User>);

fn read_only() -> UsersError {
    UsersError::Storage(StorageError("accounts are managed elsewhere".into()))
}

impl UserRepository for KnownAccounts {
    fn find_by_id(&self, id: UserId) -> Result<Option<User>, UsersError> {
        Ok(self.0.iter().find(|u| u.id == id).cloned())
    }

    fn find_by_username(&self, username: &str) -> Result<Option<User>, UsersError> {
        let username = username.to_lowercase();
        Ok(self
            .0
            .iter()
            .find(|u| u.username.to_lowercase() == username)
            .cloned())
    }

    fn find_by_email(&self, email: &str) -> Result<Option<User>, UsersError> {
        let email = email.trim().to_lowercase();
        Ok(self
            .0
            .iter()
            .find(|u| {
                u.email
                    .as_deref()
                    .is_some_and(|e| e.to_lowercase() == email)
            })
            .cloned())
    }

    fn list(&self, page: Page) -> Result<Vec<User>, UsersError> {
        let skip = usize::try_from(page.skip).unwrap_or(0);
        let limit = usize::try_from(page.limit).unwrap_or(0);
        Ok(self.0.iter().skip(skip).take(limit).cloned().collect())
    }

    fn record_login(&self, _id: UserId, _at: Timestamp) -> Result<(), UsersError> {
        Ok(()) // not tracked here
    }

    fn insert(&self, _user: &NewUser) -> Result<User, UsersError> {
        Err(read_only())
    }

    fn update_profile(
        &self,
        _id: UserId,
        _changes: &ProfileChanges,
    ) -> Result<ProfileUpdated, UsersError> {
        Err(read_only())
    }

    fn set_username(&self, _id: UserId, _username: &Username) -> Result<(), UsersError> {
        Err(read_only())
    }

    fn change_password(
        &self,
        _id: UserId,
        _replaced_hash: &str,
        _password_hash: &str,
        _keep_session: Option<&str>,
        _now: Timestamp,
    ) -> Result<(), UsersError> {
        Err(read_only())
    }

    fn set_flags(
        &self,
        _id: UserId,
        _is_active: Option<bool>,
        _is_staff: Option<bool>,
    ) -> Result<(), UsersError> {
        Err(read_only())
    }

    fn delete(&self, _id: UserId) -> Result<(), UsersError> {
        Err(read_only())
    }
}

// ------------------------------------------------------------ time

/// A clock that starts at the real time and moves only when told.
struct HandClock(Mutex<Timestamp>);

impl HandClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for HandClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

// ------------------------------------------------------------ the program

fn main() -> Result<(), TokensError> {
    const PASSWORD: &str = "Xk92!dumbo-lamp";
    // Cost 4 keeps the example quick; Sesame's default is 12.
    let hasher = Arc::new(BcryptHasher::new(4)?);
    let clock = Arc::new(HandClock(Mutex::new(SystemClock.now())));
    let account = |id: i64, username: &str| -> Result<User, UsersError> {
        let password = Password::new(PASSWORD, &[(UserAttribute::Username, username)]).map_err(
            |problems| {
                UsersError::Invalid(problems.into_iter().map(|p| p.on("password")).collect())
            },
        )?;
        Ok(User {
            id: UserId(id),
            username: username.into(),
            email: Some(format!("{username}@example.com")),
            first_name: String::new(),
            last_name: String::new(),
            avatar: None,
            is_active: true,
            is_staff: false,
            date_joined: clock.now(),
            last_login: None,
            password_hash: hasher.hash(&password)?,
        })
    };
    let users = Arc::new(KnownAccounts(vec![
        account(1, "alice")?,
        account(2, "bob")?,
    ]));

    let accounts = AccountService::new(
        users.clone(),
        hasher.clone(),
        clock.clone(),
        AccountSettings::default(),
    );
    let sessions = SessionService::new(
        Arc::new(MemorySessions::default()),
        users,
        clock.clone(),
        JwtKeys::from_secret(b"an example secret of at least 32 bytes")?,
        TokenSettings::default(),
    );
    let laptop = ClientInfo {
        ip: Some("192.0.2.10".into()),
        user_agent: Some("example/1.0".into()),
    };

    // A JWT session: access token, refresh token.
    let alice = accounts.authenticate("alice", PASSWORD)?;
    let pair = sessions.start_jwt_session(&alice, laptop.clone())?;
    let caller = sessions.authenticate(&pair.access)?;
    println!(
        "alice logged in; her access token proves {}",
        caller.user.username
    );

    clock.advance(Duration::minutes(16));
    match sessions.authenticate(&pair.access) {
        Err(e) => println!("16 minutes later the access token is refused: {e}"),
        Ok(_) => println!("unexpected: an expired access token passed"),
    }
    let renewed = sessions.refresh(&pair.refresh)?;
    sessions.authenticate(&renewed.access)?;
    println!("the refresh token gave a new pair; the new access token passes");

    match sessions.refresh(&pair.refresh) {
        Err(e) => println!("the old refresh token again: {e}"),
        Ok(_) => println!("unexpected: a refresh token worked twice"),
    }
    match sessions.authenticate(&renewed.access) {
        Err(e) => println!("and the new access token with it: {e}"),
        Ok(_) => println!("unexpected: a revoked session still works"),
    }

    // An opaque session: one random token, stored as a hash, idle lifetime.
    let bob = accounts.authenticate("bob@example.com", PASSWORD)?;
    let token = sessions.start_opaque_session(&bob, laptop.clone(), Revival::OnReauthentication)?;
    let phone = sessions.start_opaque_session(&bob, ClientInfo::default(), Revival::Never)?;
    println!(
        "bob has {} sessions; his token passes: {}",
        sessions.list_sessions(bob.id)?.len(),
        sessions.authenticate(&token).is_ok()
    );
    clock.advance(Duration::minutes(50));
    sessions.authenticate(&token)?;
    clock.advance(Duration::minutes(50));
    println!(
        "100 minutes on, used at minute 50: laptop token passes {}, phone token passes {}",
        sessions.authenticate(&token).is_ok(),
        sessions.authenticate(&phone).is_ok()
    );
    let caller = sessions.authenticate(&token)?;
    sessions.logout(&caller.session_id, &Actor::default())?;
    match sessions.authenticate(&token) {
        Err(e) => println!("after logout: {e}"),
        Ok(_) => println!("unexpected: a logged-out token passed"),
    }
    Ok(())
}
