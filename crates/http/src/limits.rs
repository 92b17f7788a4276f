//! Rate limits: per client IP on every credential route, per account on
//! failed logins, per user on message sending.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Limits from configuration.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitSettings {
    /// Whether any limit applies.
    pub enabled: bool,
    /// Credential requests one IP may make per minute, sustained.
    pub per_ip_per_minute: u32,
    /// Credential requests one IP may make in a burst.
    pub per_ip_burst: u32,
    /// Failed logins one account may take before it is locked for a while.
    pub failed_logins_per_account: u32,
    /// How long one failed login stays counted against the account.
    pub failed_login_window: Duration,
    /// Messages one user may send per minute, sustained (bursts of the same size).
    pub messages_per_minute: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            enabled: true,
            per_ip_per_minute: 300,
            per_ip_burst: 100,
            failed_logins_per_account: 10,
            failed_login_window: Duration::from_secs(60),
            messages_per_minute: 600,
        }
    }
}

/// The limiters, shared by every worker.
pub struct RateLimits {
    settings: RateLimitSettings,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    failed_logins: DefaultKeyedRateLimiter<String>,
    locked_until: Mutex<HashMap<String, Instant>>,
    messages: DefaultKeyedRateLimiter<i64>,
}

fn at_least_one(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// Whole seconds until `wait` is over, at least 1 (for `Retry-After`).
fn seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

impl RateLimits {
    /// Limiters with these settings.
    pub fn new(settings: RateLimitSettings) -> Self {
        let per_ip = Quota::per_minute(at_least_one(settings.per_ip_per_minute))
            .allow_burst(at_least_one(settings.per_ip_burst));
        let failures = Quota::with_period(
            settings.failed_login_window / settings.failed_logins_per_account.max(1),
        )
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(at_least_one(settings.failed_logins_per_account));
        let messages = Quota::per_minute(at_least_one(settings.messages_per_minute));
        RateLimits {
            settings,
            per_ip: RateLimiter::keyed(per_ip),
            failed_logins: RateLimiter::keyed(failures),
            locked_until: Mutex::new(HashMap::new()),
            messages: RateLimiter::keyed(messages),
        }
    }

    /// Counts one credential request from `ip`. `Err(seconds)` to wait when over the limit.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), u64> {
        if !self.settings.enabled {
            return Ok(());
        }
        self.per_ip
            .check_key(&ip)
            .map_err(|not_until| seconds(not_until.wait_time_from(DefaultClock::default().now())))
    }

    /// Whether `login` is locked after too many failed logins: `Err(seconds)` to wait.
    pub fn check_account(&self, login: &str) -> Result<(), u64> {
        if !self.settings.enabled {
            return Ok(());
        }
        let key = sesame_users::identity_key(login);
        let mut locked = self.locked_until.lock().unwrap_or_else(|p| p.into_inner());
        match locked.get(&key) {
            Some(until) if *until > Instant::now() => Err(seconds(*until - Instant::now())),
            Some(_) => {
                locked.remove(&key);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Counts a failed login against `login`; too many lock it for a while.
    pub fn record_failed_login(&self, login: &str) {
        if !self.settings.enabled {
            return;
        }
        let key = sesame_users::identity_key(login);
        if let Err(not_until) = self.failed_logins.check_key(&key) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let wait = wait.max(
                self.settings.failed_login_window / self.settings.failed_logins_per_account.max(1),
            );
            self.locked_until
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, Instant::now() + wait);
        }
    }

    /// Counts one message sent by `user`. `Err(seconds)` to wait when over the limit.
    pub fn check_message(&self, user: i64) -> Result<(), u64> {
        if !self.settings.enabled {
            return Ok(());
        }
        self.messages
            .check_key(&user)
            .map_err(|not_until| seconds(not_until.wait_time_from(DefaultClock::default().now())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(change: impl FnOnce(&mut RateLimitSettings)) -> RateLimits {
        let mut settings = RateLimitSettings::default();
        change(&mut settings);
        RateLimits::new(settings)
    }

    #[test]
    fn an_ip_gets_its_burst_then_waits() {
        let limits = limits(|s| {
            s.per_ip_burst = 3;
            s.per_ip_per_minute = 1;
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(limits.check_ip(ip).is_ok());
        }
        let wait = limits.check_ip(ip).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(limits.check_ip("10.0.0.2".parse().unwrap()).is_ok());
    }

    #[test]
    fn repeated_failures_lock_only_that_account() {
        let limits = limits(|s| s.failed_logins_per_account = 3);
        for _ in 0..3 {
            assert!(limits.check_account("Alice").is_ok());
            limits.record_failed_login("alice");
        }
        assert!(
            limits.check_account("ALICE").is_ok(),
            "the burst is not exhausted yet"
        );
        limits.record_failed_login("alice");
        assert!(limits.check_account("alice").unwrap_err() >= 1);
        assert!(limits.check_account("bob").is_ok());
    }

    #[test]
    fn disabled_limits_never_refuse() {
        let limits = limits(|s| {
            s.enabled = false;
            s.per_ip_burst = 1;
            s.failed_logins_per_account = 1;
            s.messages_per_minute = 1;
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..5 {
            assert!(limits.check_ip(ip).is_ok());
            limits.record_failed_login("x");
            assert!(limits.check_account("x").is_ok());
            assert!(limits.check_message(1).is_ok());
        }
    }

    #[test]
    fn messages_are_limited_per_user() {
        let limits = limits(|s| s.messages_per_minute = 2);
        assert!(limits.check_message(1).is_ok());
        assert!(limits.check_message(1).is_ok());
        assert!(limits.check_message(1).is_err());
        assert!(limits.check_message(2).is_ok());
    }
}
