//! The email-flow ports in memory: one-time tokens and the email queue live in
//! the same state as users and sessions, so "one transaction" is one lock.
//! Plus a recording [`Mailer`] and an in-memory [`AvatarStore`].

use std::collections::BTreeMap;
use std::sync::Mutex;

use sesame_kernel::{Timestamp, UserId};
use sesame_users::{
    still_as_read, AccountToken, AccountTokenStore, AvatarName, AvatarStore, MailCap, MailError,
    MailQueue, Mailer, NewEmail, NewUser, OutgoingEmail, QueuedEmail, TokenEffect, TokenGrant,
    User, UsersError,
};

use super::{InMemoryStore, State};

#[derive(Debug, Default)]
pub(super) struct Flows {
    pub(super) tokens: Vec<AccountToken>,
    pub(super) emails: Vec<StoredEmail>,
}

/// An email as the in-memory queue keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEmail {
    /// Queue id.
    pub id: i64,
    /// Stable message key.
    pub key: String,
    /// The message (its text is emptied once sent or given up, as the database does).
    pub email: OutgoingEmail,
    /// When it was queued.
    pub queued_at: Timestamp,
    /// Failed attempts.
    pub attempts: u32,
    /// When it may be tried next.
    pub next_attempt_at: Timestamp,
    /// When it was delivered.
    pub sent_at: Option<Timestamp>,
    /// When delivery was given up.
    pub failed_at: Option<Timestamp>,
    /// The last failure.
    pub last_error: Option<String>,
}

impl InMemoryStore {
    /// Every email ever queued, in queue order.
    pub fn emails(&self) -> Vec<StoredEmail> {
        self.state().flows.emails.clone()
    }

    /// Every one-time token stored, used ones included.
    pub fn tokens(&self) -> Vec<AccountToken> {
        self.state().flows.tokens.clone()
    }
}

impl State {
    fn insert_user(&mut self, user: &NewUser) -> Result<User, UsersError> {
        if self.username_taken(&user.username.key(), None) {
            return Err(UsersError::UsernameTaken);
        }
        if let Some(email) = &user.email {
            if self.email_taken(&email.key(), None) {
                return Err(UsersError::EmailTaken);
            }
        }
        self.next_user_id += 1;
        let stored = User {
            id: UserId(self.next_user_id),
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
        self.users.push(stored.clone());
        Ok(stored)
    }

    fn queue(&mut self, email: &NewEmail) {
        let id = self.flows.emails.len() as i64 + 1;
        self.flows.emails.push(StoredEmail {
            id,
            key: email.key.clone(),
            email: email.email.clone(),
            queued_at: email.queued_at,
            attempts: 0,
            next_attempt_at: email.queued_at,
            sent_at: None,
            failed_at: None,
            last_error: None,
        });
    }

    fn grant(&mut self, user_id: UserId, grant: &TokenGrant) {
        self.flows
            .tokens
            .retain(|t| !(t.user_id == user_id && t.expires_at <= grant.created_at));
        self.flows.tokens.push(AccountToken {
            user_id,
            purpose: grant.purpose,
            token_hash: grant.token_hash.clone(),
            created_at: grant.created_at,
            expires_at: grant.expires_at,
            used_at: None,
        });
    }

    fn email_mut(&mut self, id: i64) -> Option<&mut StoredEmail> {
        self.flows.emails.iter_mut().find(|e| e.id == id)
    }
}

impl State {
    /// As the database's capped writes: under one lock, so atomic.
    fn queue_capped(
        &mut self,
        user_id: UserId,
        grant: Option<&TokenGrant>,
        emails: &[NewEmail],
        cap: &MailCap,
    ) -> Result<bool, UsersError> {
        self.user_mut(user_id)?;
        let recipient_key = sesame_users::identity_key(&cap.recipient);
        let sent = self
            .flows
            .emails
            .iter()
            .filter(|e| sesame_users::identity_key(&e.email.to) == recipient_key)
            .filter(|e| e.queued_at >= cap.since)
            .filter(|e| cap.subject.as_ref().is_none_or(|s| *s == e.email.subject))
            .count();
        if sent as u64 >= cap.max {
            return Ok(false);
        }
        if let Some(grant) = grant {
            self.grant(user_id, grant);
        }
        for email in emails {
            self.queue(email);
        }
        Ok(true)
    }
}

impl AccountTokenStore for InMemoryStore {
    fn insert_with_token(
        &self,
        user: &NewUser,
        grant: &TokenGrant,
        compose: &dyn Fn(&User) -> NewEmail,
    ) -> Result<User, UsersError> {
        let mut state = self.state();
        let stored = state.insert_user(user)?;
        state.grant(stored.id, grant);
        state.queue(&compose(&stored));
        Ok(stored)
    }

    fn issue_token(
        &self,
        user_id: UserId,
        grant: &TokenGrant,
        emails: &[NewEmail],
    ) -> Result<(), UsersError> {
        let mut state = self.state();
        state.user_mut(user_id)?;
        state.grant(user_id, grant);
        for email in emails {
            state.queue(email);
        }
        Ok(())
    }

    fn issue_token_capped(
        &self,
        read: &User,
        grant: &TokenGrant,
        emails: &[NewEmail],
        cap: &MailCap,
    ) -> Result<bool, UsersError> {
        let mut state = self.state();
        let account = state.user_mut(read.id)?;
        let (email, hash) = (account.email.as_deref(), &account.password_hash);
        if !still_as_read(read, email, account.is_active, hash) {
            return Ok(false);
        }
        state.queue_capped(read.id, Some(grant), emails, cap)
    }

    fn queue_emails_capped(
        &self,
        user_id: UserId,
        emails: &[NewEmail],
        cap: &MailCap,
    ) -> Result<bool, UsersError> {
        self.state().queue_capped(user_id, None, emails, cap)
    }

    fn find_token(&self, token_hash: &str) -> Result<Option<AccountToken>, UsersError> {
        Ok(self
            .state()
            .flows
            .tokens
            .iter()
            .find(|t| t.token_hash == token_hash)
            .cloned())
    }

    fn use_token(
        &self,
        token: &AccountToken,
        effect: &TokenEffect,
        now: Timestamp,
    ) -> Result<bool, UsersError> {
        let mut state = self.state();
        let usable = state.flows.tokens.iter().any(|t| {
            t.token_hash == token.token_hash
                && t.user_id == token.user_id
                && t.purpose == token.purpose
                && t.is_usable(now)
        });
        if !usable {
            return Ok(false);
        }
        let id = token.user_id;
        match effect {
            TokenEffect::SetUsername(name) if state.username_taken(&name.key(), Some(id)) => {
                return Err(UsersError::UsernameTaken)
            }
            TokenEffect::SetEmail(email) if state.email_taken(&email.key(), Some(id)) => {
                return Err(UsersError::EmailTaken)
            }
            TokenEffect::Activate if state.deactivated_by_admin.contains(&id) => return Ok(false),
            _ => {}
        }
        let user = state.user_mut(id)?;
        match effect {
            TokenEffect::Activate => user.is_active = true,
            TokenEffect::SetPassword { password_hash } => {
                user.password_hash = password_hash.clone();
            }
            TokenEffect::SetUsername(name) => user.username = name.as_str().to_owned(),
            TokenEffect::SetEmail(email) => user.email = Some(email.as_str().to_owned()),
        }
        for t in state.flows.tokens.iter_mut() {
            let dies = t.purpose == token.purpose || matches!(effect, TokenEffect::SetEmail(_));
            if t.user_id == id && dies && t.used_at.is_none() {
                t.used_at = Some(now);
            }
        }
        if let TokenEffect::SetPassword { .. } = effect {
            state.flows.tokens.retain(|t| t.user_id != id);
            for session in state.sessions.iter_mut() {
                if session.user_id == id && session.revoked_at.is_none() {
                    session.revoked_at = Some(now);
                }
            }
        }
        Ok(true)
    }
}

impl MailQueue for InMemoryStore {
    fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<QueuedEmail>, UsersError> {
        let mut state = self.state();
        let mut due: Vec<&mut StoredEmail> = state
            .flows
            .emails
            .iter_mut()
            .filter(|e| e.sent_at.is_none() && e.failed_at.is_none() && e.next_attempt_at <= now)
            .collect();
        due.sort_by_key(|e| (e.next_attempt_at, e.id));
        Ok(due
            .into_iter()
            .take(limit)
            .map(|e| {
                e.next_attempt_at = lease_until;
                QueuedEmail {
                    id: e.id,
                    key: e.key.clone(),
                    attempts: e.attempts,
                    email: e.email.clone(),
                }
            })
            .collect())
    }

    fn mark_sent(&self, id: i64, at: Timestamp) -> Result<(), UsersError> {
        if let Some(email) = self.state().email_mut(id) {
            email.sent_at = Some(at);
            email.email.text.clear();
        }
        Ok(())
    }

    fn retry_later(
        &self,
        id: i64,
        attempts: u32,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<(), UsersError> {
        if let Some(email) = self.state().email_mut(id) {
            email.attempts = attempts;
            email.next_attempt_at = next_attempt_at;
            email.last_error = Some(error.to_owned());
        }
        Ok(())
    }

    fn give_up(
        &self,
        id: i64,
        attempts: u32,
        at: Timestamp,
        error: &str,
    ) -> Result<(), UsersError> {
        if let Some(email) = self.state().email_mut(id) {
            email.attempts = attempts;
            email.failed_at = Some(at);
            email.last_error = Some(error.to_owned());
            email.email.text.clear();
        }
        Ok(())
    }

    fn next_due(&self) -> Result<Option<Timestamp>, UsersError> {
        Ok(self
            .state()
            .flows
            .emails
            .iter()
            .filter(|e| e.sent_at.is_none() && e.failed_at.is_none())
            .map(|e| e.next_attempt_at)
            .min())
    }
}

/// A [`Mailer`] that records what it sends, and fails on demand.
#[derive(Debug, Default)]
pub struct RecordingMailer {
    sent: Mutex<Vec<(OutgoingEmail, String)>>,
    failure: Mutex<Option<MailError>>,
}

impl RecordingMailer {
    /// A mailer that delivers everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on, every send fails with `failure` (`None`: sends work again).
    pub fn fail_with(&self, failure: Option<MailError>) {
        *self.failure.lock().unwrap() = failure;
    }

    /// Every email delivered, with its key, in order.
    pub fn sent(&self) -> Vec<(OutgoingEmail, String)> {
        self.sent.lock().unwrap().clone()
    }
}

impl Mailer for RecordingMailer {
    fn send(&self, email: &OutgoingEmail, key: &str) -> Result<(), MailError> {
        if let Some(failure) = self.failure.lock().unwrap().clone() {
            return Err(failure);
        }
        self.sent
            .lock()
            .unwrap()
            .push((email.clone(), key.to_owned()));
        Ok(())
    }
}

/// Avatar files in memory.
#[derive(Debug, Default)]
pub struct MemoryAvatars {
    files: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryAvatars {
    /// No files.
    pub fn new() -> Self {
        Self::default()
    }

    /// The names of the stored files.
    pub fn names(&self) -> Vec<String> {
        self.files.lock().unwrap().keys().cloned().collect()
    }
}

impl AvatarStore for MemoryAvatars {
    fn save(&self, name: &AvatarName, bytes: &[u8]) -> Result<(), UsersError> {
        self.files
            .lock()
            .unwrap()
            .insert(name.as_str().to_owned(), bytes.to_vec());
        Ok(())
    }

    fn load(&self, name: &AvatarName) -> Result<Option<Vec<u8>>, UsersError> {
        Ok(self.files.lock().unwrap().get(name.as_str()).cloned())
    }

    fn remove(&self, name: &AvatarName) -> Result<(), UsersError> {
        self.files.lock().unwrap().remove(name.as_str());
        Ok(())
    }
}
