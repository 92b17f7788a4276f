//! A login throttle that counts by hand: a key is locked once it has
//! `limit` failures, until a good login.

use std::collections::HashMap;
use std::sync::Mutex;

use sesame_kernel::UserId;
use sesame_tokens::{LoginKey, LoginThrottle};

/// Failures, wrong codes and wrong passwords counted in maps; locks last
/// until a good login.
#[derive(Debug)]
pub struct CountingThrottle {
    limit: u32,
    failures: Mutex<HashMap<LoginKey, u32>>,
    wrong_codes: Mutex<HashMap<UserId, u32>>,
    wrong_passwords: Mutex<HashMap<UserId, u32>>,
}

impl CountingThrottle {
    /// A throttle that locks a key at its `limit`-th failure.
    pub fn new(limit: u32) -> Self {
        CountingThrottle {
            limit,
            failures: Mutex::default(),
            wrong_codes: Mutex::default(),
            wrong_passwords: Mutex::default(),
        }
    }

    /// The failures counted against `key`.
    pub fn failures(&self, key: &LoginKey) -> u32 {
        self.failures.lock().unwrap().get(key).copied().unwrap_or(0)
    }
}

impl LoginThrottle for CountingThrottle {
    fn locked_for(&self, keys: &[LoginKey]) -> Option<u64> {
        let failures = self.failures.lock().unwrap();
        keys.iter()
            .any(|k| failures.get(k).is_some_and(|n| *n >= self.limit))
            .then_some(60)
    }

    fn record_failure(&self, keys: &[LoginKey]) {
        let mut failures = self.failures.lock().unwrap();
        for key in keys {
            *failures.entry(key.clone()).or_default() += 1;
        }
    }

    fn record_success(&self, keys: &[LoginKey]) {
        let mut failures = self.failures.lock().unwrap();
        let mut codes = self.wrong_codes.lock().unwrap();
        let mut passwords = self.wrong_passwords.lock().unwrap();
        for key in keys {
            failures.remove(key);
            if let LoginKey::Account(id) = key {
                codes.remove(id);
                passwords.remove(id);
            }
        }
    }

    fn record_wrong_code(&self, user: UserId) -> u32 {
        let mut codes = self.wrong_codes.lock().unwrap();
        let count = codes.entry(user).or_default();
        *count += 1;
        *count
    }

    fn record_wrong_password(&self, user: UserId) -> u32 {
        let mut passwords = self.wrong_passwords.lock().unwrap();
        let count = passwords.entry(user).or_default();
        *count += 1;
        *count
    }
}
