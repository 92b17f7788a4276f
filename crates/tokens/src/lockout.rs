//! The failed-login lockout, in memory: the [`LoginThrottle`] a single
//! process needs. Every map here is keyed by something a client chooses,
//! so each is pruned as it goes and the lock map has a ceiling.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sesame_kernel::UserId;

use crate::{LoginKey, LoginThrottle};

/// The longest lock one failed-login streak reaches.
const MAX_LOCK: Duration = Duration::from_secs(60 * 60);
/// A streak of locks is forgotten after this long without a new one.
const QUIET: Duration = Duration::from_secs(60 * 60);
/// Wrong codes are forgotten after this long without one.
const CODE_FAILURES_KEPT: Duration = Duration::from_secs(60 * 60);
/// Counted calls between two prunings of the maps.
const HOUSEKEEPING_EVERY: u64 = 4096;
/// The most lock entries kept; past it the soonest-expiring go.
const MAX_LOCKS: usize = 100_000;

/// How many failed logins lock a key, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct LockoutSettings {
    /// Whether failed logins lock at all (wrong codes are counted anyway:
    /// that count raises an alarm, it does not refuse).
    pub enabled: bool,
    /// Failed logins one key may take before it is locked for a while.
    pub failures: u32,
    /// How long one failed login stays counted against its key.
    pub window: Duration,
}

impl Default for LockoutSettings {
    fn default() -> Self {
        LockoutSettings {
            enabled: true,
            failures: 10,
            window: Duration::from_secs(60),
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

/// Failed logins counted per key: past the allowance, the key is locked,
/// each lock of a streak twice as long as the one before, at most an hour.
pub struct Lockout {
    settings: LockoutSettings,
    failures: DefaultKeyedRateLimiter<LoginKey>,
    locks: Mutex<HashMap<LoginKey, Lock>>,
    code_failures: Mutex<HashMap<UserId, CodeFailures>>,
    calls: AtomicU64,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whole seconds until `wait` is over, at least 1 (for `Retry-After`).
fn seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// How long the `streak`-th lock in a row lasts: `base`, doubling, at most [`MAX_LOCK`].
fn lock_length(base: Duration, streak: u32) -> Duration {
    let factor = 1u32 << streak.saturating_sub(1).min(20);
    base.saturating_mul(factor).min(MAX_LOCK)
}

impl Lockout {
    /// A lockout with these settings.
    pub fn new(settings: LockoutSettings) -> Self {
        let allowance = NonZeroU32::new(settings.failures).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(settings.window / allowance.get())
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(allowance);
        Lockout {
            settings,
            failures: RateLimiter::keyed(quota),
            locks: Mutex::new(HashMap::new()),
            code_failures: Mutex::new(HashMap::new()),
            calls: AtomicU64::new(0),
        }
    }

    /// Counts one call; every [`HOUSEKEEPING_EVERY`] calls, prunes the maps.
    fn tick(&self) {
        if self.calls.fetch_add(1, Ordering::Relaxed) % HOUSEKEEPING_EVERY == HOUSEKEEPING_EVERY - 1
        {
            self.prune();
        }
    }

    /// Drops what no longer counts: keys back at their full allowance,
    /// locks (and their streaks) quiet for an hour, old wrong codes.
    pub fn prune(&self) {
        self.failures.retain_recent();
        self.failures.shrink_to_fit();
        let now = Instant::now();
        let mut locks = locked(&self.locks);
        locks.retain(|_, lock| now.saturating_duration_since(lock.until) < QUIET);
        locks.shrink_to_fit();
        drop(locks);
        let mut failures = locked(&self.code_failures);
        failures.retain(|_, f| now.saturating_duration_since(f.last) < CODE_FAILURES_KEPT);
        failures.shrink_to_fit();
    }

    /// How many entries the maps hold: (failures, locks).
    #[cfg(test)]
    fn sizes(&self) -> (usize, usize) {
        (self.failures.len(), locked(&self.locks).len())
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
}

impl LoginThrottle for Lockout {
    fn locked_for(&self, keys: &[LoginKey]) -> Option<u64> {
        if !self.settings.enabled {
            return None;
        }
        self.tick();
        let now = Instant::now();
        let locks = locked(&self.locks);
        let wait = keys
            .iter()
            .filter_map(|key| locks.get(key))
            .map(|lock| lock.until.saturating_duration_since(now))
            .max()
            .unwrap_or_default();
        (!wait.is_zero()).then(|| seconds(wait))
    }

    fn record_failure(&self, keys: &[LoginKey]) {
        if !self.settings.enabled {
            return;
        }
        self.tick();
        let base = self.settings.window / self.settings.failures.max(1);
        for key in keys {
            if let Err(not_until) = self.failures.check_key(key) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                self.lock(key, wait.max(base));
            }
        }
    }

    fn record_success(&self, keys: &[LoginKey]) {
        let mut locks = locked(&self.locks);
        let mut failures = locked(&self.code_failures);
        for key in keys {
            locks.remove(key);
            if let LoginKey::Account(id) = key {
                failures.remove(id);
            }
        }
    }

    fn record_wrong_code(&self, user: UserId) -> u32 {
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

    fn lockout(change: impl FnOnce(&mut LockoutSettings)) -> Lockout {
        let mut settings = LockoutSettings::default();
        change(&mut settings);
        Lockout::new(settings)
    }

    fn alice() -> Vec<LoginKey> {
        vec![LoginKey::Account(UserId(1))]
    }

    #[test]
    fn repeated_failures_lock_only_that_key() {
        let lockout = lockout(|s| s.failures = 3);
        for _ in 0..3 {
            assert_eq!(lockout.locked_for(&alice()), None);
            lockout.record_failure(&alice());
        }
        assert_eq!(
            lockout.locked_for(&alice()),
            None,
            "the allowance is not used up yet"
        );
        lockout.record_failure(&alice());
        assert!(lockout.locked_for(&alice()).unwrap() >= 1);
        assert_eq!(lockout.locked_for(&[LoginKey::Account(UserId(2))]), None);
        assert_eq!(lockout.locked_for(&[LoginKey::unknown("alice")]), None);
    }

    #[test]
    fn unknown_logins_count_by_their_normal_form() {
        let lockout = lockout(|s| s.failures = 1);
        lockout.record_failure(&[LoginKey::unknown(" Ghost ")]);
        lockout.record_failure(&[LoginKey::unknown("GHOST")]);
        assert!(lockout.locked_for(&[LoginKey::unknown("ghost")]).is_some());
    }

    #[test]
    fn each_lock_of_a_streak_is_longer_and_capped() {
        let base = Duration::from_secs(6);
        assert_eq!(lock_length(base, 1), base);
        assert_eq!(lock_length(base, 2), base * 2);
        assert_eq!(lock_length(base, 4), base * 8);
        assert_eq!(lock_length(base, 40), MAX_LOCK);

        let lockout = lockout(|s| {
            s.failures = 1;
            s.window = Duration::from_secs(10);
        });
        let key = &alice()[0];
        lockout.lock(key, Duration::from_secs(10));
        let first = lockout.locked_for(&alice()).unwrap();
        lockout.lock(key, Duration::from_secs(10));
        let second = lockout.locked_for(&alice()).unwrap();
        assert!(second > first, "{first} then {second}");
        lockout.record_success(&alice());
        assert_eq!(lockout.locked_for(&alice()), None);
    }

    #[test]
    fn wrong_codes_are_counted_per_account_until_a_good_login() {
        let lockout = lockout(|s| s.enabled = false);
        let counts: Vec<u32> = (0..3)
            .map(|_| lockout.record_wrong_code(UserId(7)))
            .collect();
        assert_eq!(counts, [1, 2, 3]);
        assert_eq!(
            lockout.record_wrong_code(UserId(8)),
            1,
            "each account counts its own"
        );
        lockout.record_success(&[LoginKey::Account(UserId(7))]);
        assert_eq!(
            lockout.record_wrong_code(UserId(7)),
            1,
            "a good login starts over"
        );
    }

    #[test]
    fn pruning_forgets_idle_keys() {
        let lockout = lockout(|s| {
            s.failures = 100;
            s.window = Duration::from_millis(1);
        });
        for i in 0..50 {
            lockout.record_failure(&[LoginKey::unknown(&format!("guess-{i}"))]);
        }
        assert_eq!(lockout.sizes(), (50, 0));
        std::thread::sleep(Duration::from_millis(5));
        lockout.prune();
        assert_eq!(lockout.sizes(), (0, 0));

        // Calls prune by themselves every so often.
        for i in 0..50 {
            lockout.record_failure(&[LoginKey::unknown(&format!("again-{i}"))]);
        }
        std::thread::sleep(Duration::from_millis(5));
        for _ in 0..HOUSEKEEPING_EVERY {
            lockout.locked_for(&alice());
        }
        assert_eq!(lockout.sizes().0, 0, "the idle keys went");
    }

    #[test]
    fn a_full_lock_map_drops_the_soonest_expiring() {
        let lockout = lockout(|_| {});
        let now = Instant::now();
        {
            let mut locks = locked(&lockout.locks);
            for i in 0..MAX_LOCKS {
                let until = now + Duration::from_secs(10 + i as u64);
                locks.insert(
                    LoginKey::Account(UserId(i as i64)),
                    Lock { until, streak: 1 },
                );
            }
        }
        lockout.lock(&LoginKey::unknown("newcomer"), Duration::from_secs(60));
        let (_, size) = lockout.sizes();
        assert!(size < MAX_LOCKS, "{size}");
        let locks = locked(&lockout.locks);
        assert!(
            !locks.contains_key(&LoginKey::Account(UserId(0))),
            "the soonest to expire went"
        );
        assert!(locks.contains_key(&LoginKey::Account(UserId(MAX_LOCKS as i64 - 1))));
        assert!(locks.contains_key(&LoginKey::unknown("newcomer")));
    }

    #[test]
    fn a_disabled_lockout_never_locks() {
        let lockout = lockout(|s| {
            s.enabled = false;
            s.failures = 1;
        });
        let keys = [LoginKey::unknown("x")];
        for _ in 0..5 {
            lockout.record_failure(&keys);
            assert_eq!(lockout.locked_for(&keys), None);
        }
    }
}
