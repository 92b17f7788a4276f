use std::collections::HashMap;
use std::sync::Mutex;

use sesame_kernel::{Timestamp, UserId};
use sesame_tokens::{Ceremony, ChallengeStore, PasskeyRepository, StoredPasskey, TokensError};

/// Passkeys and pending ceremonies in memory.
#[derive(Debug, Default)]
pub struct InMemoryPasskeys {
    passkeys: Mutex<Vec<StoredPasskey>>,
    ceremonies: Mutex<HashMap<String, Ceremony>>,
}

impl InMemoryPasskeys {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many ceremonies are kept (lapsed ones included until forgotten).
    pub fn pending_ceremonies(&self) -> usize {
        self.ceremonies.lock().unwrap().len()
    }

    /// The state of every ceremony kept, as stored.
    pub fn ceremony_states(&self) -> Vec<String> {
        let ceremonies = self.ceremonies.lock().unwrap();
        ceremonies.values().map(|c| c.state.clone()).collect()
    }

    /// Replaces the stored credential of passkey `id`, as an earlier
    /// version may have stored it.
    pub fn set_credential(&self, id: &str, credential: &str) {
        let mut passkeys = self.passkeys.lock().unwrap();
        if let Some(p) = passkeys.iter_mut().find(|p| p.id == id) {
            p.credential = credential.to_owned();
        }
    }

    /// Sets the stored counter of passkey `id`, as a cloned authenticator's
    /// earlier use elsewhere would have.
    pub fn set_counter(&self, id: &str, counter: u32) {
        let mut passkeys = self.passkeys.lock().unwrap();
        if let Some(p) = passkeys.iter_mut().find(|p| p.id == id) {
            p.counter = counter;
        }
    }
}

impl PasskeyRepository for InMemoryPasskeys {
    fn insert_passkey(&self, passkey: &StoredPasskey, at_most: usize) -> Result<(), TokensError> {
        let mut passkeys = self.passkeys.lock().unwrap();
        if passkeys
            .iter()
            .any(|p| p.credential_id == passkey.credential_id)
        {
            return Err(TokensError::PasskeyExists);
        }
        let held = passkeys.iter().filter(|p| p.user_id == passkey.user_id);
        if held.count() >= at_most {
            return Err(TokensError::TooManyPasskeys(at_most));
        }
        passkeys.push(passkey.clone());
        Ok(())
    }

    fn passkeys_of(&self, user: UserId) -> Result<Vec<StoredPasskey>, TokensError> {
        let passkeys = self.passkeys.lock().unwrap();
        Ok(passkeys
            .iter()
            .filter(|p| p.user_id == user)
            .cloned()
            .collect())
    }

    fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<StoredPasskey>, TokensError> {
        let passkeys = self.passkeys.lock().unwrap();
        Ok(passkeys
            .iter()
            .find(|p| p.credential_id == credential_id)
            .cloned())
    }

    fn record_passkey_use(
        &self,
        id: &str,
        seen_counter: u32,
        counter: u32,
        credential: &str,
        at: Timestamp,
    ) -> Result<bool, TokensError> {
        let mut passkeys = self.passkeys.lock().unwrap();
        let Some(p) = passkeys
            .iter_mut()
            .find(|p| p.id == id && p.counter == seen_counter)
        else {
            return Ok(false);
        };
        p.counter = counter;
        p.credential = credential.to_owned();
        p.last_used_at = Some(at);
        Ok(true)
    }

    fn delete_passkey(&self, user: UserId, id: &str) -> Result<bool, TokensError> {
        let mut passkeys = self.passkeys.lock().unwrap();
        let before = passkeys.len();
        passkeys.retain(|p| !(p.user_id == user && p.id == id));
        Ok(passkeys.len() < before)
    }
}

impl ChallengeStore for InMemoryPasskeys {
    fn put_ceremony(
        &self,
        id: &str,
        ceremony: &Ceremony,
        now: Timestamp,
    ) -> Result<(), TokensError> {
        let mut ceremonies = self.ceremonies.lock().unwrap();
        ceremonies.retain(|_, c| c.expires_at > now);
        ceremonies.insert(id.to_owned(), ceremony.clone());
        Ok(())
    }

    fn take_ceremony(&self, id: &str, now: Timestamp) -> Result<Option<Ceremony>, TokensError> {
        let taken = self.ceremonies.lock().unwrap().remove(id);
        Ok(taken.filter(|c| c.expires_at > now))
    }
}
