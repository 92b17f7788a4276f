use std::sync::{Mutex, MutexGuard};

use sesame_kernel::{Page, Timestamp, UserId};
use sesame_tokens::{Listing, Session, SessionRepository, TokensError};
use sesame_users::{
    identity_key, NewUser, ProfileChanges, ProfileUpdated, User, UserRepository, Username,
    UsersError,
};

mod email_flows;
pub use email_flows::{MemoryAvatars, RecordingMailer, StoredEmail};

/// Users and sessions in memory, with the same uniqueness and revocation
/// rules as the real database.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    users: Vec<User>,
    sessions: Vec<Session>,
    next_user_id: i64,
    /// Accounts an admin deactivated: no activation link activates them.
    deactivated_by_admin: std::collections::HashSet<UserId>,
    /// One-time tokens and queued emails (see `email_flows`).
    flows: email_flows::Flows,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Every session ever stored, revoked ones included.
    pub fn all_sessions(&self) -> Vec<Session> {
        self.state().sessions.clone()
    }
}

impl State {
    fn user_mut(&mut self, id: UserId) -> Result<&mut User, UsersError> {
        self.users
            .iter_mut()
            .find(|u| u.id == id)
            .ok_or(UsersError::NotFound)
    }

    fn username_taken(&self, key: &str, except: Option<UserId>) -> bool {
        self.users
            .iter()
            .any(|u| identity_key(&u.username) == key && Some(u.id) != except)
    }

    fn email_taken(&self, key: &str, except: Option<UserId>) -> bool {
        self.users.iter().any(|u| {
            u.email.as_deref().map(identity_key).as_deref() == Some(key) && Some(u.id) != except
        })
    }

    fn session_mut(&mut self, id: &str) -> Option<&mut Session> {
        self.sessions.iter_mut().find(|s| s.id == id)
    }
}

impl UserRepository for InMemoryStore {
    fn insert(&self, user: &NewUser) -> Result<User, UsersError> {
        let mut state = self.state();
        if state.username_taken(&user.username.key(), None) {
            return Err(UsersError::UsernameTaken);
        }
        if let Some(email) = &user.email {
            if state.email_taken(&email.key(), None) {
                return Err(UsersError::EmailTaken);
            }
        }
        state.next_user_id += 1;
        let stored = User {
            id: UserId(state.next_user_id),
            username: user.username.as_str().to_owned(),
            email: user.email.as_ref().map(|e| e.as_str().to_owned()),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            avatar: None,
            is_active: user.is_active,
            is_staff: user.is_staff,
            date_joined: user.date_joined,
            last_login: None,
            password_hash: user.password_hash.clone(),
        };
        state.users.push(stored.clone());
        Ok(stored)
    }

    fn find_by_id(&self, id: UserId) -> Result<Option<User>, UsersError> {
        Ok(self.state().users.iter().find(|u| u.id == id).cloned())
    }

    fn find_by_username(&self, username: &str) -> Result<Option<User>, UsersError> {
        let key = identity_key(username);
        Ok(self
            .state()
            .users
            .iter()
            .find(|u| identity_key(&u.username) == key)
            .cloned())
    }

    fn find_by_email(&self, email: &str) -> Result<Option<User>, UsersError> {
        let key = identity_key(email);
        Ok(self
            .state()
            .users
            .iter()
            .find(|u| u.email.as_deref().map(identity_key).as_deref() == Some(key.as_str()))
            .cloned())
    }

    fn list(&self, page: Page) -> Result<Vec<User>, UsersError> {
        Ok(self
            .state()
            .users
            .iter()
            .skip(page.skip as usize)
            .take(page.limit as usize)
            .cloned()
            .collect())
    }

    fn update_profile(
        &self,
        id: UserId,
        changes: &ProfileChanges,
    ) -> Result<ProfileUpdated, UsersError> {
        let mut state = self.state();
        if let Some(Some(email)) = &changes.email {
            if state.email_taken(&email.key(), Some(id)) {
                return Err(UsersError::EmailTaken);
            }
        }
        let mut email_change = changes.email.clone();
        if let Some(email) = &changes.email {
            let new_key = email.as_ref().map(|e| e.key());
            let old_key = state.user_mut(id)?.email.as_deref().map(identity_key);
            if changes.email_respelled && old_key != new_key {
                email_change = None;
            } else if old_key != new_key {
                state.flows.tokens.retain(|t| t.user_id != id);
            }
        }
        let user = state.user_mut(id)?;
        if let Some(first_name) = &changes.first_name {
            user.first_name = first_name.clone();
        }
        if let Some(last_name) = &changes.last_name {
            user.last_name = last_name.clone();
        }
        if let Some(email) = email_change {
            user.email = email.map(|e| e.as_str().to_owned());
        }
        let mut replaced_avatar = None;
        if let Some(avatar) = &changes.avatar {
            replaced_avatar = std::mem::replace(&mut user.avatar, avatar.clone());
        }
        Ok(ProfileUpdated {
            user: user.clone(),
            replaced_avatar,
        })
    }

    fn set_username(&self, id: UserId, username: &Username) -> Result<(), UsersError> {
        let mut state = self.state();
        if state.username_taken(&username.key(), Some(id)) {
            return Err(UsersError::UsernameTaken);
        }
        state.user_mut(id)?.username = username.as_str().to_owned();
        Ok(())
    }

    fn change_password(
        &self,
        id: UserId,
        replaced_hash: &str,
        password_hash: &str,
        keep_session: Option<&str>,
        now: Timestamp,
    ) -> Result<(), UsersError> {
        let mut state = self.state();
        let user = state.user_mut(id)?;
        if user.password_hash != replaced_hash {
            return Err(UsersError::WrongCurrentPassword);
        }
        user.password_hash = password_hash.to_owned();
        state.flows.tokens.retain(|t| t.user_id != id);
        for session in state.sessions.iter_mut() {
            if session.user_id == id
                && session.revoked_at.is_none()
                && Some(session.id.as_str()) != keep_session
            {
                session.revoked_at = Some(now);
            }
        }
        Ok(())
    }

    fn set_flags(
        &self,
        id: UserId,
        is_active: Option<bool>,
        is_staff: Option<bool>,
    ) -> Result<(), UsersError> {
        let mut state = self.state();
        let user = state.user_mut(id)?;
        if let Some(active) = is_active {
            user.is_active = active;
        }
        if let Some(staff) = is_staff {
            user.is_staff = staff;
        }
        match is_active {
            Some(false) => {
                state.deactivated_by_admin.insert(id);
                let now = chrono::Utc::now();
                for session in state.sessions.iter_mut() {
                    if session.user_id == id && session.revoked_at.is_none() {
                        session.revoked_at = Some(now);
                    }
                }
                state.flows.tokens.retain(|t| t.user_id != id);
            }
            Some(true) => {
                state.deactivated_by_admin.remove(&id);
            }
            None => {}
        }
        Ok(())
    }

    fn record_login(&self, id: UserId, at: Timestamp) -> Result<(), UsersError> {
        self.state().user_mut(id)?.last_login = Some(at);
        Ok(())
    }

    fn record_login_rehashed(
        &self,
        id: UserId,
        at: Timestamp,
        checked_hash: &str,
        password_hash: &str,
        _old_format: &str,
    ) -> Result<bool, UsersError> {
        let mut state = self.state();
        let user = state.user_mut(id)?;
        if user.password_hash != checked_hash {
            return Ok(false);
        }
        user.last_login = Some(at);
        user.password_hash = password_hash.to_owned();
        Ok(true)
    }

    fn delete(&self, id: UserId) -> Result<(), UsersError> {
        let mut state = self.state();
        let before = state.users.len();
        state.users.retain(|u| u.id != id);
        if state.users.len() == before {
            return Err(UsersError::NotFound);
        }
        state.sessions.retain(|s| s.user_id != id);
        state.flows.tokens.retain(|t| t.user_id != id);
        Ok(())
    }
}

impl SessionRepository for InMemoryStore {
    fn create(&self, session: &Session) -> Result<(), TokensError> {
        self.state().sessions.push(session.clone());
        Ok(())
    }

    fn find(&self, id: &str) -> Result<Option<Session>, TokensError> {
        Ok(self.state().sessions.iter().find(|s| s.id == id).cloned())
    }

    fn find_by_token_hash(&self, token_hash: &str) -> Result<Option<Session>, TokensError> {
        Ok(self
            .state()
            .sessions
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
        let mut state = self.state();
        match state.session_mut(id) {
            Some(session)
                if session.revoked_at.is_none()
                    && session.refresh_jti.as_deref() == Some(expected_jti) =>
            {
                session.refresh_jti = Some(new_jti.to_owned());
                session.expires_at = expires_at;
                session.last_used_at = now;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn touch(
        &self,
        id: &str,
        now: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> Result<(), TokensError> {
        if let Some(session) = self.state().session_mut(id) {
            session.last_used_at = now;
            if let Some(expires_at) = expires_at {
                session.expires_at = expires_at;
            }
        }
        Ok(())
    }

    fn revoke(&self, id: &str, now: Timestamp) -> Result<bool, TokensError> {
        match self.state().session_mut(id) {
            Some(session) if session.revoked_at.is_none() => {
                session.revoked_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn revoke_all(
        &self,
        user_id: UserId,
        except: Option<&str>,
        now: Timestamp,
    ) -> Result<usize, TokensError> {
        let mut state = self.state();
        let mut ended = 0;
        for session in state.sessions.iter_mut() {
            if session.user_id == user_id
                && session.revoked_at.is_none()
                && Some(session.id.as_str()) != except
            {
                session.revoked_at = Some(now);
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
        let mut sessions: Vec<Session> = self
            .state()
            .sessions
            .iter()
            .filter(|s| s.user_id == user_id && which.includes(s, at))
            .cloned()
            .collect();
        sessions.sort_by_key(|s| std::cmp::Reverse(s.last_used_at));
        sessions.truncate(limit);
        Ok(sessions)
    }
}
