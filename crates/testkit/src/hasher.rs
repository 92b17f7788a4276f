use std::sync::Mutex;

use sesame_users::{BcryptHasher, Password, PasswordHasher, UsersError};

/// bcrypt (at cost 4) that lets something happen while it verifies or
/// hashes a password, once: a change that races a password check or change.
pub struct ChangedWhileVerifying {
    bcrypt: BcryptHasher,
    during: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    during_hash: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl ChangedWhileVerifying {
    /// A hasher with nothing to do yet.
    pub fn new() -> Self {
        ChangedWhileVerifying {
            bcrypt: BcryptHasher::new(4).expect("cost 4 is valid"),
            during: Mutex::new(None),
            during_hash: Mutex::new(None),
        }
    }

    /// `change` happens during the next verification, before it answers.
    pub fn during(&self, change: impl FnOnce() + Send + 'static) {
        *self.during.lock().unwrap() = Some(Box::new(change));
    }

    /// `change` happens during the next hashing, before it answers.
    pub fn during_hash(&self, change: impl FnOnce() + Send + 'static) {
        *self.during_hash.lock().unwrap() = Some(Box::new(change));
    }
}

impl Default for ChangedWhileVerifying {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher for ChangedWhileVerifying {
    fn hash(&self, password: &Password) -> Result<String, UsersError> {
        let hashed = self.bcrypt.hash(password);
        let change = self.during_hash.lock().unwrap().take();
        if let Some(change) = change {
            change();
        }
        hashed
    }

    fn verify(&self, candidate: &str, stored_hash: &str) -> bool {
        let right = self.bcrypt.verify(candidate, stored_hash);
        let change = self.during.lock().unwrap().take();
        if let Some(change) = change {
            change();
        }
        right
    }

    fn spend_verify_time(&self, candidate: &str) {
        self.bcrypt.spend_verify_time(candidate);
    }
}
