use std::collections::HashMap;
use std::sync::Mutex;

use sesame_kernel::UserId;
use sesame_tokens::{MfaRepository, TokensError, TotpRecord};

/// TOTP records and recovery-code hashes in memory.
#[derive(Debug, Default)]
pub struct InMemoryMfa {
    state: Mutex<HashMap<UserId, (TotpRecord, Vec<String>)>>,
}

impl InMemoryMfa {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored record of `user` (to check what is kept at rest).
    pub fn record(&self, user: UserId) -> Option<TotpRecord> {
        self.state
            .lock()
            .unwrap()
            .get(&user)
            .map(|(r, _)| r.clone())
    }

    /// The stored recovery-code hashes of `user`.
    pub fn recovery_hashes(&self, user: UserId) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .get(&user)
            .map(|(_, hashes)| hashes.clone())
            .unwrap_or_default()
    }
}

impl MfaRepository for InMemoryMfa {
    fn find_totp(&self, user: UserId) -> Result<Option<TotpRecord>, TokensError> {
        Ok(self.record(user))
    }

    fn totp_secrets(
        &self,
        after: UserId,
        limit: usize,
    ) -> Result<Vec<(UserId, String)>, TokensError> {
        let state = self.state.lock().unwrap();
        let mut secrets: Vec<(UserId, String)> = (state.iter())
            .filter(|(user, _)| **user > after)
            .map(|(user, (record, _))| (*user, record.encrypted_secret.clone()))
            .collect();
        secrets.sort();
        secrets.truncate(limit);
        Ok(secrets)
    }

    fn save_pending_totp(&self, user: UserId, encrypted_secret: &str) -> Result<(), TokensError> {
        let record = TotpRecord {
            encrypted_secret: encrypted_secret.to_owned(),
            confirmed: false,
            last_used_step: None,
        };
        let mut state = self.state.lock().unwrap();
        if state.get(&user).is_some_and(|(kept, _)| kept.confirmed) {
            return Err(TokensError::MfaAlreadyEnabled);
        }
        state.insert(user, (record, Vec::new()));
        Ok(())
    }

    fn confirm_totp(
        &self,
        user: UserId,
        encrypted_secret: &str,
        step: i64,
        recovery_code_hashes: &[String],
    ) -> Result<bool, TokensError> {
        match self.state.lock().unwrap().get_mut(&user) {
            Some((record, hashes))
                if !record.confirmed && record.encrypted_secret == encrypted_secret =>
            {
                record.confirmed = true;
                record.last_used_step = Some(step);
                *hashes = recovery_code_hashes.to_vec();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn use_totp_step(&self, user: UserId, step: i64) -> Result<bool, TokensError> {
        let mut state = self.state.lock().unwrap();
        match state.get_mut(&user) {
            Some((record, _)) if record.last_used_step.is_none_or(|last| step > last) => {
                record.last_used_step = Some(step);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn use_recovery_code(&self, user: UserId, code_hash: &str) -> Result<bool, TokensError> {
        let mut state = self.state.lock().unwrap();
        Ok(match state.get_mut(&user) {
            Some((_, hashes)) => {
                let before = hashes.len();
                hashes.retain(|h| h != code_hash);
                hashes.len() < before
            }
            None => false,
        })
    }

    fn remove_totp(&self, user: UserId) -> Result<(), TokensError> {
        self.state.lock().unwrap().remove(&user);
        Ok(())
    }
}

/// Something that happens to the TOTP codes of an account between two
/// steps of a use case (another request's doing).
pub type Meanwhile = Box<dyn Fn(&InMemoryMfa, UserId) + Send + Sync>;

/// TOTP codes in memory, where something else happens right after each
/// look at them, just before each confirmation, or while a step is used.
#[derive(Default)]
pub struct CodesMeanwhile {
    /// The codes themselves.
    pub codes: InMemoryMfa,
    /// After each `find_totp`.
    pub after_each_look: Option<Meanwhile>,
    /// Before each `confirm_totp`.
    pub before_each_confirm: Option<Meanwhile>,
    /// Before each `use_totp_step`.
    pub while_using_a_step: Option<Meanwhile>,
}

impl CodesMeanwhile {
    fn happens(&self, meanwhile: &Option<Meanwhile>, user: UserId) {
        if let Some(meanwhile) = meanwhile {
            meanwhile(&self.codes, user);
        }
    }
}

impl MfaRepository for CodesMeanwhile {
    fn find_totp(&self, user: UserId) -> Result<Option<TotpRecord>, TokensError> {
        let found = self.codes.find_totp(user);
        self.happens(&self.after_each_look, user);
        found
    }

    fn totp_secrets(
        &self,
        after: UserId,
        limit: usize,
    ) -> Result<Vec<(UserId, String)>, TokensError> {
        self.codes.totp_secrets(after, limit)
    }

    fn save_pending_totp(&self, user: UserId, secret: &str) -> Result<(), TokensError> {
        self.codes.save_pending_totp(user, secret)
    }

    fn confirm_totp(
        &self,
        user: UserId,
        secret: &str,
        step: i64,
        hashes: &[String],
    ) -> Result<bool, TokensError> {
        self.happens(&self.before_each_confirm, user);
        self.codes.confirm_totp(user, secret, step, hashes)
    }

    fn use_totp_step(&self, user: UserId, step: i64) -> Result<bool, TokensError> {
        self.happens(&self.while_using_a_step, user);
        self.codes.use_totp_step(user, step)
    }

    fn use_recovery_code(&self, user: UserId, code_hash: &str) -> Result<bool, TokensError> {
        self.codes.use_recovery_code(user, code_hash)
    }

    fn remove_totp(&self, user: UserId) -> Result<(), TokensError> {
        self.codes.remove_totp(user)
    }
}
