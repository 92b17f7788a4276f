//! Rate limits: per client IP on every credential route, per account on
//! failed logins, per user on message sending. Every map here is keyed by
//! something a client chooses, so each is pruned as it goes and the lock map
//! has a ceiling.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sesame_kernel::UserId;
use sesame_tokens::{LoginKey, LoginThrottle};

/// The longest lock one failed-login streak reaches.
const MAX_LOCK: Duration = Duration::from_secs(60 * 60);
/// A streak of locks is forgotten after this long without a new one.
const QUIET: Duration = Duration::from_secs(60 * 60);
/// Wrong codes are forgotten after this long without one.
const CODE_FAILURES_KEPT: Duration = Duration::from_secs(60 * 60);
/// Checks between two prunings of the maps.
const HOUSEKEEPING_EVERY: u64 = 4096;
/// The most lock entries kept; past it the soonest-expiring go.
const MAX_LOCKS: usize = 100_000;

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

/// A key's lock: until when, and how many locks in a row it has had.
#[derive(Debug, Clone, Copy)]
struct Lock {
    until: Instant,
    streak: u32,
}

/// Wrong second-factor codes of one account since its last good login.
#[derive(Debug, Clone, Copy)]
struct CodeFailures {
    count: u32,
    last: Instant,
}

/// The limiters, shared by every worker.
pub struct RateLimits {
    settings: RateLimitSettings,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    failed_logins: DefaultKeyedRateLimiter<LoginKey>,
    locks: Mutex<HashMap<LoginKey, Lock>>,
    code_failures: Mutex<HashMap<UserId, CodeFailures>>,
    messages: DefaultKeyedRateLimiter<i64>,
    checks: AtomicU64,
}

fn at_least_one(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// Whole seconds until `wait` is over, at least 1 (for `Retry-After`).
fn seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The key an address is counted under: an IPv4 address (mapped into IPv6
/// or not) is its own, an IPv6 address counts by its /64, the block one
/// subscriber usually gets.
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

/// How long the `streak`-th lock in a row lasts: `base`, doubling, at most [`MAX_LOCK`].
fn lock_length(base: Duration, streak: u32) -> Duration {
    let factor = 1u32 << streak.saturating_sub(1).min(20);
    base.saturating_mul(factor).min(MAX_LOCK)
}

impl RateLimits {
    /// Limiters with these settings.
    pub fn new(settings: RateLimitSettings) -> Self {
        let per_ip = Quota::per_minute(at_least_one(settings.per_ip_per_minute))
            .allow_burst(at_least_one(settings.per_ip_burst));
        let failures =
            Quota::with_period(settings.failed_login_window / Self::per_failure(&settings))
                .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                .allow_burst(at_least_one(settings.failed_logins_per_account));
        let messages = Quota::per_minute(at_least_one(settings.messages_per_minute));
        RateLimits {
            settings,
            per_ip: RateLimiter::keyed(per_ip),
            failed_logins: RateLimiter::keyed(failures),
            locks: Mutex::new(HashMap::new()),
            code_failures: Mutex::new(HashMap::new()),
            messages: RateLimiter::keyed(messages),
            checks: AtomicU64::new(0),
        }
    }

    fn per_failure(settings: &RateLimitSettings) -> u32 {
        settings.failed_logins_per_account.max(1)
    }

    /// Counts one check; every [`HOUSEKEEPING_EVERY`] checks, prunes the maps.
    fn tick(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % HOUSEKEEPING_EVERY
            == HOUSEKEEPING_EVERY - 1
        {
            self.prune();
        }
    }

    /// Drops what no longer counts: limiter keys back at a full burst,
    /// locks (and their streaks) quiet for an hour, old code failures.
    pub fn prune(&self) {
        self.per_ip.retain_recent();
        self.per_ip.shrink_to_fit();
        self.failed_logins.retain_recent();
        self.failed_logins.shrink_to_fit();
        self.messages.retain_recent();
        self.messages.shrink_to_fit();
        let now = Instant::now();
        let mut locks = locked(&self.locks);
        locks.retain(|_, lock| now.saturating_duration_since(lock.until) < QUIET);
        locks.shrink_to_fit();
        drop(locks);
        let mut failures = locked(&self.code_failures);
        failures.retain(|_, f| now.saturating_duration_since(f.last) < CODE_FAILURES_KEPT);
        failures.shrink_to_fit();
    }

    /// How many entries the maps hold: (IP limiter, failed-login limiter, locks).
    #[cfg(test)]
    fn sizes(&self) -> (usize, usize, usize) {
        (
            self.per_ip.len(),
            self.failed_logins.len(),
            locked(&self.locks).len(),
        )
    }

    /// Counts one credential request from `ip`. `Err(seconds)` to wait when over the limit.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), u64> {
        if !self.settings.enabled {
            return Ok(());
        }
        self.tick();
        self.per_ip
            .check_key(&ip_key(ip))
            .map_err(|not_until| seconds(not_until.wait_time_from(DefaultClock::default().now())))
    }

    /// Whether any of `keys` is locked after too many failed logins:
    /// `Err(seconds)` to wait for the longest lock.
    pub fn check_account(&self, keys: &[LoginKey]) -> Result<(), u64> {
        if !self.settings.enabled {
            return Ok(());
        }
        let now = Instant::now();
        let locks = locked(&self.locks);
        let wait = keys
            .iter()
            .filter_map(|key| locks.get(key))
            .map(|lock| lock.until.saturating_duration_since(now))
            .max()
            .unwrap_or_default();
        if wait.is_zero() {
            Ok(())
        } else {
            Err(seconds(wait))
        }
    }

    /// Counts a failed login against each of `keys`; too many lock the key,
    /// each lock of a streak twice as long as the one before.
    pub fn record_failed_login(&self, keys: &[LoginKey]) {
        if !self.settings.enabled {
            return;
        }
        self.tick();
        let base = self.settings.failed_login_window / Self::per_failure(&self.settings);
        for key in keys {
            if let Err(not_until) = self.failed_logins.check_key(key) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                self.lock(key, wait.max(base));
            }
        }
    }

    fn lock(&self, key: &LoginKey, base: Duration) {
        let now = Instant::now();
        let mut locks = locked(&self.locks);
        if locks.len() >= MAX_LOCKS && !locks.contains_key(key) {
            evict(&mut locks, now);
        }
        let lock = locks.entry(key.clone()).or_insert(Lock {
            until: now,
            streak: 0,
        });
        if now.saturating_duration_since(lock.until) >= QUIET {
            lock.streak = 0;
        }
        lock.streak += 1;
        lock.until = lock.until.max(now + lock_length(base, lock.streak));
    }

    /// A successful login: the streaks of `keys` and the account's count of
    /// wrong codes start over.
    pub fn record_success(&self, keys: &[LoginKey]) {
        let mut locks = locked(&self.locks);
        let mut failures = locked(&self.code_failures);
        for key in keys {
            locks.remove(key);
            if let LoginKey::Account(id) = key {
                failures.remove(id);
            }
        }
    }

    /// Counts a wrong second-factor code for account `user` (whether or
    /// not limits are on: this is an alarm, not a limit): how many since
    /// the last good login.
    pub fn record_wrong_code(&self, user: UserId) -> u32 {
        let now = Instant::now();
        let mut failures = locked(&self.code_failures);
        let entry = failures.entry(user).or_insert(CodeFailures {
            count: 0,
            last: now,
        });
        if now.saturating_duration_since(entry.last) >= CODE_FAILURES_KEPT {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last = now;
        entry.count
    }

    /// Counts one message sent by `user`. `Err(seconds)` to wait when over the limit.
    pub fn check_message(&self, user: i64) -> Result<(), u64> {
        if !self.settings.enabled {
            return Ok(());
        }
        self.tick();
        self.messages
            .check_key(&user)
            .map_err(|not_until| seconds(not_until.wait_time_from(DefaultClock::default().now())))
    }
}

impl LoginThrottle for RateLimits {
    fn locked_for(&self, keys: &[LoginKey]) -> Option<u64> {
        self.check_account(keys).err()
    }

    fn record_failure(&self, keys: &[LoginKey]) {
        self.record_failed_login(keys);
    }

    fn record_success(&self, keys: &[LoginKey]) {
        RateLimits::record_success(self, keys);
    }

    fn record_wrong_code(&self, user: UserId) -> u32 {
        RateLimits::record_wrong_code(self, user)
    }
}

/// Makes room in a full lock map: the expired locks go, and if that is not
/// enough, the eighth that expires soonest.
fn evict(locks: &mut HashMap<LoginKey, Lock>, now: Instant) {
    locks.retain(|_, lock| lock.until > now);
    if locks.len() < MAX_LOCKS {
        return;
    }
    let mut ends: Vec<Instant> = locks.values().map(|lock| lock.until).collect();
    let cut = ends.len() / 8;
    let (_, threshold, _) = ends.select_nth_unstable(cut);
    let threshold = *threshold;
    locks.retain(|_, lock| lock.until > threshold);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(change: impl FnOnce(&mut RateLimitSettings)) -> RateLimits {
        let mut settings = RateLimitSettings::default();
        change(&mut settings);
        RateLimits::new(settings)
    }

    fn alice() -> Vec<LoginKey> {
        vec![LoginKey::Account(UserId(1))]
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
    fn an_ipv6_block_counts_as_one_client() {
        let limits = limits(|s| {
            s.per_ip_burst = 2;
            s.per_ip_per_minute = 1;
        });
        assert!(limits.check_ip("2001:db8:1:2::1".parse().unwrap()).is_ok());
        assert!(limits
            .check_ip("2001:db8:1:2:ffff::9".parse().unwrap())
            .is_ok());
        assert!(limits
            .check_ip("2001:db8:1:2::abcd".parse().unwrap())
            .is_err());
        assert!(limits.check_ip("2001:db8:1:3::1".parse().unwrap()).is_ok());
        assert_eq!(
            ip_key("::ffff:10.1.2.3".parse().unwrap()),
            "10.1.2.3".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn repeated_failures_lock_only_that_account() {
        let limits = limits(|s| s.failed_logins_per_account = 3);
        for _ in 0..3 {
            assert!(limits.check_account(&alice()).is_ok());
            limits.record_failed_login(&alice());
        }
        assert!(
            limits.check_account(&alice()).is_ok(),
            "the burst is not exhausted yet"
        );
        limits.record_failed_login(&alice());
        assert!(limits.check_account(&alice()).unwrap_err() >= 1);
        assert!(limits
            .check_account(&[LoginKey::Account(UserId(2))])
            .is_ok());
        assert!(limits.check_account(&[LoginKey::unknown("alice")]).is_ok());
    }

    #[test]
    fn unknown_logins_count_by_their_normal_form() {
        let limits = limits(|s| s.failed_logins_per_account = 1);
        limits.record_failed_login(&[LoginKey::unknown(" Ghost ")]);
        limits.record_failed_login(&[LoginKey::unknown("GHOST")]);
        assert!(limits.check_account(&[LoginKey::unknown("ghost")]).is_err());
    }

    #[test]
    fn each_lock_of_a_streak_is_longer_and_capped() {
        let base = Duration::from_secs(6);
        assert_eq!(lock_length(base, 1), base);
        assert_eq!(lock_length(base, 2), base * 2);
        assert_eq!(lock_length(base, 4), base * 8);
        assert_eq!(lock_length(base, 40), MAX_LOCK);

        let limits = limits(|s| {
            s.failed_logins_per_account = 1;
            s.failed_login_window = Duration::from_secs(10);
        });
        let key = &alice()[0];
        limits.lock(key, Duration::from_secs(10));
        let first = limits.check_account(&alice()).unwrap_err();
        limits.lock(key, Duration::from_secs(10));
        let second = limits.check_account(&alice()).unwrap_err();
        assert!(second > first, "{first} then {second}");
        limits.record_success(&alice());
        assert!(limits.check_account(&alice()).is_ok());
    }

    #[test]
    fn wrong_codes_are_counted_per_account_until_a_good_login() {
        let limits = limits(|s| s.enabled = false);
        let counts: Vec<u32> = (0..3)
            .map(|_| limits.record_wrong_code(UserId(7)))
            .collect();
        assert_eq!(counts, [1, 2, 3]);
        assert_eq!(
            limits.record_wrong_code(UserId(8)),
            1,
            "each account counts its own"
        );
        limits.record_success(&[LoginKey::Account(UserId(7))]);
        assert_eq!(
            limits.record_wrong_code(UserId(7)),
            1,
            "a good login starts over"
        );
    }

    #[test]
    fn pruning_forgets_idle_keys() {
        let limits = limits(|s| {
            s.per_ip_burst = 100;
            s.per_ip_per_minute = 6_000_000;
            s.failed_logins_per_account = 100;
            s.failed_login_window = Duration::from_millis(1);
        });
        for i in 0..50u8 {
            limits.check_ip(IpAddr::from([10, 0, 0, i])).unwrap();
            limits.record_failed_login(&[LoginKey::unknown(&format!("guess-{i}"))]);
        }
        assert_eq!(limits.sizes(), (50, 50, 0));
        std::thread::sleep(Duration::from_millis(5));
        limits.prune();
        assert_eq!(limits.sizes(), (0, 0, 0));

        // Checks prune by themselves every so often.
        for i in 0..50u8 {
            limits.check_ip(IpAddr::from([10, 0, 1, i])).unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
        let busy = IpAddr::from([10, 0, 2, 1]);
        for _ in 0..HOUSEKEEPING_EVERY {
            let _ = limits.check_ip(busy);
        }
        assert_eq!(limits.sizes().0, 1, "only the busy client is left");
    }

    #[test]
    fn a_full_lock_map_drops_the_soonest_expiring() {
        let limits = limits(|_| {});
        let now = Instant::now();
        {
            let mut locks = locked(&limits.locks);
            for i in 0..MAX_LOCKS {
                let until = now + Duration::from_secs(10 + i as u64);
                locks.insert(
                    LoginKey::Account(UserId(i as i64)),
                    Lock { until, streak: 1 },
                );
            }
        }
        limits.lock(&LoginKey::unknown("newcomer"), Duration::from_secs(60));
        let (_, _, size) = limits.sizes();
        assert!(size < MAX_LOCKS, "{size}");
        let locks = locked(&limits.locks);
        assert!(
            !locks.contains_key(&LoginKey::Account(UserId(0))),
            "the soonest to expire went"
        );
        assert!(locks.contains_key(&LoginKey::Account(UserId(MAX_LOCKS as i64 - 1))));
        assert!(locks.contains_key(&LoginKey::unknown("newcomer")));
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
        let keys = [LoginKey::unknown("x")];
        for _ in 0..5 {
            assert!(limits.check_ip(ip).is_ok());
            limits.record_failed_login(&keys);
            assert!(limits.check_account(&keys).is_ok());
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
