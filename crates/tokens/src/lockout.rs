//! The failed-login lockout: the ready-made [`LoginThrottle`]. Accounts'
//! counts and locks live behind the [`AccountLocks`] port, in storage every
//! instance shares (or in memory); logins that name no account are counted
//! in this process's memory only, since what they are keyed by is what
//! clients choose: that map is pruned as it goes and has a ceiling.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sesame_kernel::{Clock, SystemClock, Timestamp, UserId};

use crate::{LoginKey, LoginThrottle, TokensError};

/// The longest lock one failed-login streak reaches.
const MAX_LOCK: Duration = Duration::from_secs(60 * 60);
/// A streak of locks is forgotten after this long without a new one.
const QUIET: Duration = Duration::from_secs(60 * 60);
/// Wrong passwords and wrong codes are forgotten after this long without
/// one: a guesser slow enough never to lock the account is still counted.
const FAILURES_KEPT: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Wrong codes an account may take since its last good login; past them,
/// each further code waits after the last wrong one: [`CODE_PAUSE`], twice
/// that after the next, and so on up to [`LONGEST_CODE_PAUSE`]. Whoever
/// holds the password then gets about six guesses a day at a code that
/// three in a million guesses match.
const CODE_ALLOWANCE: u32 = 5;
/// See [`CODE_ALLOWANCE`].
const CODE_PAUSE: Duration = Duration::from_secs(15 * 60);
/// See [`CODE_ALLOWANCE`]: the owner, alerted by email, may be held back
/// as long by the guesser until a good login starts the count over.
const LONGEST_CODE_PAUSE: Duration = Duration::from_secs(4 * 60 * 60);
/// Counted calls between two prunings of the map of unknown logins.
const HOUSEKEEPING_EVERY: u64 = 4096;
/// The most unknown logins kept; past it the soonest-forgotten go.
const MAX_UNKNOWN: usize = 100_000;
/// The shortest window failures are counted over (a window of 0 would
/// never lock).
const MIN_WINDOW: Duration = Duration::from_secs(1);

/// How many failed logins lock a key, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct LockoutSettings {
    /// Whether failed logins and wrong codes lock at all (wrong codes are
    /// counted anyway: that count raises an alarm).
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

/// What the lockout keeps of one key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockState {
    /// When the key's failed logins are all forgotten. Each one moves it a
    /// share of the window (`window / failures`) later, from now at the
    /// earliest; one that would move it past a whole window locks the key
    /// instead.
    pub failures_until: Option<Timestamp>,
    /// Until when the key is locked.
    pub locked_until: Option<Timestamp>,
    /// Locks in a row: each is twice as long as the one before, up to an
    /// hour; forgotten after an hour without one.
    pub streak: u32,
    /// Wrong second-factor codes since the last good login (accounts only).
    pub wrong_codes: u32,
    /// When the last wrong code came.
    pub last_wrong_code: Option<Timestamp>,
    /// Wrong passwords since the last good login (accounts only), however
    /// slowly they came; forgotten after 30 days without one.
    pub wrong_passwords: u32,
    /// When the last wrong password came.
    pub last_wrong_password: Option<Timestamp>,
}

/// Where accounts' lock states are kept: in storage every instance shares,
/// so that failed logins spread over instances add up.
pub trait AccountLocks: Send + Sync {
    /// The states kept of these accounts (an account with none kept has
    /// no failure counted and no lock).
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn account_locks(&self, users: &[UserId]) -> Result<Vec<LockState>, TokensError>;

    /// Changes the state of `user` with `change` (a default state when none
    /// is kept), atomically against every other change; the state as changed.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    fn change_account_lock(
        &self,
        user: UserId,
        change: &mut dyn FnMut(&mut LockState),
    ) -> Result<LockState, TokensError>;
}

/// [`AccountLocks`] in this process's memory, for a single process.
#[derive(Default)]
pub struct AccountLocksInMemory(Mutex<HashMap<UserId, LockState>>);

impl AccountLocksInMemory {
    /// Drops the states nothing counts against any more at `now`.
    fn prune(&self, now: Timestamp) {
        let mut states = locked(&self.0);
        states.retain(|_, state| state.forgotten_at().is_some_and(|at| at > now));
        states.shrink_to_fit();
    }
}

impl AccountLocks for AccountLocksInMemory {
    fn account_locks(&self, users: &[UserId]) -> Result<Vec<LockState>, TokensError> {
        let states = locked(&self.0);
        Ok(users
            .iter()
            .filter_map(|u| states.get(u))
            .copied()
            .collect())
    }

    fn change_account_lock(
        &self,
        user: UserId,
        change: &mut dyn FnMut(&mut LockState),
    ) -> Result<LockState, TokensError> {
        let mut states = locked(&self.0);
        let state = states.entry(user).or_default();
        change(state);
        Ok(*state)
    }
}

/// Failed logins counted per key: past the allowance, the key is locked,
/// each lock of a streak twice as long as the one before, at most an hour.
pub struct Lockout {
    settings: LockoutSettings,
    clock: Arc<dyn Clock>,
    accounts: Arc<dyn AccountLocks>,
    /// The accounts' states, when this process keeps them (to prune).
    in_memory: Option<Arc<AccountLocksInMemory>>,
    unknown: Mutex<HashMap<String, LockState>>,
    calls: AtomicU64,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn span(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// `at` plus `by`, or the last time there is.
fn after(at: Timestamp, by: Duration) -> Timestamp {
    at.checked_add_signed(span(by))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

/// Whole seconds until `wait` is over, at least 1 (for `Retry-After`).
fn seconds(wait: chrono::Duration) -> u64 {
    let millis = u64::try_from(wait.num_milliseconds()).unwrap_or(0);
    millis.div_ceil(1000).max(1)
}

/// How long the `streak`-th lock in a row lasts: `base`, doubling, at most [`MAX_LOCK`].
fn lock_length(base: Duration, streak: u32) -> Duration {
    let factor = 1u32 << streak.saturating_sub(1).min(20);
    base.saturating_mul(factor).min(MAX_LOCK)
}

impl LockState {
    /// Counts one failed login at `now`; past the allowance, locks instead.
    /// One that comes while the key is locked (guesses sent at once, all
    /// checked before the first of them locked it) changes nothing: were it
    /// counted, one burst would lock the key for the longest lock.
    fn fail(&mut self, now: Timestamp, settings: &LockoutSettings) {
        if self.lock_left(now).is_some() {
            return;
        }
        let window = settings.window.max(MIN_WINDOW);
        let share = window / settings.failures.max(1);
        let from = self.failures_until.map_or(now, |until| until.max(now));
        let next = after(from, share);
        let ahead = (next - now).to_std().unwrap_or_default();
        if ahead <= window {
            self.failures_until = Some(next);
            return;
        }
        if self
            .locked_until
            .is_some_and(|until| now - until >= span(QUIET))
        {
            self.streak = 0;
        }
        self.streak = self.streak.saturating_add(1);
        let base = (ahead - window).max(share);
        let until = after(now, lock_length(base, self.streak));
        self.locked_until = Some(self.locked_until.map_or(until, |u| u.max(until)));
    }

    /// How long it is still locked at `now`, by failed logins or by wrong
    /// codes past their allowance.
    fn lock_left(&self, now: Timestamp) -> Option<chrono::Duration> {
        let codes = self
            .last_wrong_code
            .filter(|_| self.wrong_codes >= CODE_ALLOWANCE)
            .map(|last| after(last, code_pause(self.wrong_codes)));
        let left = self.locked_until.max(codes)? - now;
        (left > chrono::Duration::zero()).then_some(left)
    }

    /// Whether a good login has anything here to start over.
    fn has_strikes(&self) -> bool {
        self.locked_until.is_some()
            || self.streak > 0
            || self.wrong_codes > 0
            || self.wrong_passwords > 0
    }

    /// A good login: the lock, its streak, the wrong codes and passwords
    /// start over.
    fn succeed(&mut self) {
        self.locked_until = None;
        self.streak = 0;
        self.wrong_codes = 0;
        self.last_wrong_code = None;
        self.wrong_passwords = 0;
        self.last_wrong_password = None;
    }

    /// When nothing of it counts any more.
    fn forgotten_at(&self) -> Option<Timestamp> {
        let quiet = self.locked_until.map(|until| after(until, QUIET));
        let wrong = self.last_wrong_code.max(self.last_wrong_password);
        let wrong = wrong.map(|last| after(last, FAILURES_KEPT));
        self.failures_until.max(quiet).max(wrong)
    }
}

impl Lockout {
    /// A lockout with these settings, keeping accounts' states in memory,
    /// on the system clock.
    pub fn new(settings: LockoutSettings) -> Self {
        let in_memory = Arc::new(AccountLocksInMemory::default());
        Lockout {
            settings,
            clock: Arc::new(SystemClock),
            accounts: in_memory.clone(),
            in_memory: Some(in_memory),
            unknown: Mutex::new(HashMap::new()),
            calls: AtomicU64::new(0),
        }
    }

    /// The same lockout, keeping accounts' states in `accounts`.
    pub fn with_account_locks(mut self, accounts: Arc<dyn AccountLocks>) -> Self {
        self.accounts = accounts;
        self.in_memory = None;
        self
    }

    /// The same lockout on `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Counts one call; every [`HOUSEKEEPING_EVERY`] calls, prunes.
    fn tick(&self) {
        if self.calls.fetch_add(1, Ordering::Relaxed) % HOUSEKEEPING_EVERY == HOUSEKEEPING_EVERY - 1
        {
            self.prune();
        }
    }

    /// Drops the unknown logins (and accounts kept in memory) nothing
    /// counts against any more.
    pub fn prune(&self) {
        let now = self.clock.now();
        let mut unknown = locked(&self.unknown);
        unknown.retain(|_, state| state.forgotten_at().is_some_and(|at| at > now));
        unknown.shrink_to_fit();
        drop(unknown);
        if let Some(accounts) = &self.in_memory {
            accounts.prune(now);
        }
    }

    /// The accounts among `keys`.
    fn accounts_of(keys: &[LoginKey]) -> Vec<UserId> {
        keys.iter()
            .filter_map(|key| match key {
                LoginKey::Account(id) => Some(*id),
                LoginKey::Unknown(_) => None,
            })
            .collect()
    }

    /// Counts one more wrong answer of `user` in the count `of` picks (with
    /// when the last came), started over once `kept` went by without one;
    /// returns the count.
    fn count_wrong(
        &self,
        user: UserId,
        kept: Duration,
        of: fn(&mut LockState) -> (&mut u32, &mut Option<Timestamp>),
    ) -> u32 {
        let now = self.clock.now();
        let mut state = self.change(&LoginKey::Account(user), |state| {
            let (wrong, last) = of(state);
            if last.is_some_and(|last| now - last >= span(kept)) {
                *wrong = 0;
            }
            *wrong = wrong.saturating_add(1);
            *last = Some(now);
        });
        *of(&mut state).0
    }

    /// Changes the state of `key`; a storage failure is logged: what
    /// happened has happened, and the next failure counts again.
    fn change(&self, key: &LoginKey, mut change: impl FnMut(&mut LockState)) -> LockState {
        match key {
            LoginKey::Account(id) => self
                .accounts
                .change_account_lock(*id, &mut change)
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "could not count a failed login of an account");
                    LockState::default()
                }),
            LoginKey::Unknown(login) => {
                let mut unknown = locked(&self.unknown);
                if unknown.len() >= MAX_UNKNOWN && !unknown.contains_key(login) {
                    evict(&mut unknown, self.clock.now());
                }
                let state = unknown.entry(login.clone()).or_default();
                change(state);
                *state
            }
        }
    }
}

impl LoginThrottle for Lockout {
    fn locked_for(&self, keys: &[LoginKey]) -> Option<u64> {
        if !self.settings.enabled {
            return None;
        }
        self.tick();
        let now = self.clock.now();
        let accounts = Self::accounts_of(keys);
        let kept = if accounts.is_empty() {
            Vec::new()
        } else {
            match self.accounts.account_locks(&accounts) {
                Ok(kept) => kept,
                // What cannot be read is held back: a guess answered now
                // could not be counted either.
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the locks of an account");
                    return Some(1);
                }
            }
        };
        let unknown = locked(&self.unknown);
        let of_unknown = keys.iter().filter_map(|key| match key {
            LoginKey::Unknown(login) => unknown.get(login).copied(),
            LoginKey::Account(_) => None,
        });
        let left = kept
            .into_iter()
            .chain(of_unknown)
            .filter_map(|state| state.lock_left(now))
            .max()?;
        Some(seconds(left))
    }

    fn record_failure(&self, keys: &[LoginKey]) {
        if !self.settings.enabled {
            return;
        }
        self.tick();
        let now = self.clock.now();
        for key in keys {
            self.change(key, |state| state.fail(now, &self.settings));
        }
    }

    fn record_success(&self, keys: &[LoginKey]) {
        for key in keys {
            match key {
                // Read first: most good logins have nothing to start over,
                // and need not write.
                LoginKey::Account(id) => {
                    let kept = self.accounts.account_locks(&[*id]).unwrap_or_default();
                    if kept.iter().any(LockState::has_strikes) {
                        self.change(key, LockState::succeed);
                    }
                }
                LoginKey::Unknown(login) => {
                    if let Some(state) = locked(&self.unknown).get_mut(login) {
                        state.succeed();
                    }
                }
            }
        }
    }

    fn record_wrong_password(&self, user: UserId) -> u32 {
        self.count_wrong(user, FAILURES_KEPT, |state| {
            (&mut state.wrong_passwords, &mut state.last_wrong_password)
        })
    }

    fn record_wrong_code(&self, user: UserId) -> u32 {
        self.count_wrong(user, FAILURES_KEPT, |state| {
            (&mut state.wrong_codes, &mut state.last_wrong_code)
        })
    }
}

/// How long the code after the `wrong`th wrong one waits (from the
/// allowance on): see [`CODE_ALLOWANCE`].
fn code_pause(wrong: u32) -> Duration {
    let doublings = wrong.saturating_sub(CODE_ALLOWANCE).min(16);
    (CODE_PAUSE * 2u32.pow(doublings)).min(LONGEST_CODE_PAUSE)
}

/// Makes room in a full map of unknown logins: those forgotten go, and if
/// that is not enough, the eighth that would be forgotten soonest.
fn evict(unknown: &mut HashMap<String, LockState>, now: Timestamp) {
    unknown.retain(|_, state| state.forgotten_at().is_some_and(|at| at > now));
    if unknown.len() < MAX_UNKNOWN {
        return;
    }
    let mut ends: Vec<Option<Timestamp>> = unknown.values().map(LockState::forgotten_at).collect();
    let cut = ends.len() / 8;
    let (_, threshold, _) = ends.select_nth_unstable(cut);
    let threshold = *threshold;
    unknown.retain(|_, state| state.forgotten_at() > threshold);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that moves only when told.
    struct Stopped(Mutex<Timestamp>);

    impl Clock for Stopped {
        fn now(&self) -> Timestamp {
            *locked(&self.0)
        }
    }

    impl Stopped {
        fn advance(&self, by: Duration) {
            *locked(&self.0) += span(by);
        }
    }

    fn lockout(change: impl FnOnce(&mut LockoutSettings)) -> (Lockout, Arc<Stopped>) {
        let mut settings = LockoutSettings::default();
        change(&mut settings);
        let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let clock = Arc::new(Stopped(Mutex::new(start)));
        (Lockout::new(settings).with_clock(clock.clone()), clock)
    }

    fn alice() -> Vec<LoginKey> {
        vec![LoginKey::Account(UserId(1))]
    }

    #[test]
    fn repeated_failures_lock_only_that_key() {
        let (lockout, _) = lockout(|s| s.failures = 3);
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
        assert_eq!(
            lockout.locked_for(&alice()),
            Some(20),
            "a share of the window"
        );
        assert_eq!(lockout.locked_for(&[LoginKey::Account(UserId(2))]), None);
        assert_eq!(lockout.locked_for(&[LoginKey::unknown("alice")]), None);
    }

    #[test]
    fn failures_are_forgotten_a_share_at_a_time() {
        let (lockout, clock) = lockout(|s| {
            s.failures = 2;
            s.window = Duration::from_secs(60);
        });
        lockout.record_failure(&alice());
        lockout.record_failure(&alice());
        // Half a window later, one of the two no longer counts.
        clock.advance(Duration::from_secs(30));
        lockout.record_failure(&alice());
        assert_eq!(lockout.locked_for(&alice()), None);
        lockout.record_failure(&alice());
        assert!(lockout.locked_for(&alice()).is_some());
    }

    #[test]
    fn unknown_logins_count_by_their_normal_form() {
        let (lockout, _) = lockout(|s| s.failures = 1);
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

        let (lockout, clock) = lockout(|s| {
            s.failures = 1;
            s.window = Duration::from_secs(10);
        });
        let mut locks = Vec::new();
        for _ in 0..3 {
            lockout.record_failure(&alice());
            lockout.record_failure(&alice());
            let lock = lockout.locked_for(&alice()).unwrap();
            locks.push(lock);
            clock.advance(Duration::from_secs(lock) + Duration::from_secs(10));
        }
        assert_eq!(locks, [10, 20, 40]);
        // An hour of quiet starts the streak over; so does a good login.
        clock.advance(QUIET);
        lockout.record_failure(&alice());
        lockout.record_failure(&alice());
        assert_eq!(lockout.locked_for(&alice()), Some(10));
        // Its time drained one failure: one more is counted, the next locks.
        clock.advance(Duration::from_secs(10));
        lockout.record_failure(&alice());
        assert_eq!(lockout.locked_for(&alice()), None);
        lockout.record_failure(&alice());
        assert_eq!(lockout.locked_for(&alice()), Some(20));
        lockout.record_success(&alice());
        assert_eq!(lockout.locked_for(&alice()), None);
    }

    #[test]
    fn failures_while_locked_neither_lengthen_the_lock_nor_add_to_its_streak() {
        let (lockout, clock) = lockout(|s| {
            s.failures = 10;
            s.window = Duration::from_secs(60);
        });
        // A burst: every guess was checked before the first one locked.
        for _ in 0..30 {
            lockout.record_failure(&alice());
        }
        assert_eq!(
            lockout.locked_for(&alice()),
            Some(6),
            "one share of the window"
        );
        clock.advance(Duration::from_secs(6));
        lockout.record_failure(&alice());
        lockout.record_failure(&alice());
        assert_eq!(
            lockout.locked_for(&alice()),
            Some(12),
            "the second lock of the streak"
        );
    }

    #[test]
    fn past_a_few_wrong_codes_each_more_waits_longer() {
        let (disabled, _) = lockout(|s| s.enabled = false);
        let (lockout, clock) = lockout(|_| {});
        let bob = [LoginKey::Account(UserId(2))];
        for _ in 0..CODE_ALLOWANCE - 1 {
            lockout.record_wrong_code(UserId(2));
        }
        assert_eq!(lockout.locked_for(&bob), None);
        let quarter = CODE_PAUSE.as_secs();
        // 15 min, 30 min, 1 h, 2 h, then 4 h each: waiting it out, with an
        // hour more to spare, forgets nothing.
        for pause in [1, 2, 4, 8, 16, 16, 16].map(|n| n * quarter) {
            lockout.record_wrong_code(UserId(2));
            assert_eq!(lockout.locked_for(&bob), Some(pause));
            clock.advance(Duration::from_secs(pause + 3600));
            assert_eq!(lockout.locked_for(&bob), None, "one more code may come");
        }
        lockout.record_success(&bob);
        assert_eq!(lockout.locked_for(&bob), None, "a good login starts over");

        for _ in 0..CODE_ALLOWANCE * 2 {
            disabled.record_wrong_code(UserId(2));
        }
        assert_eq!(disabled.locked_for(&bob), None);
    }

    #[test]
    fn wrong_codes_are_counted_per_account_until_a_good_login() {
        let (lockout, clock) = lockout(|s| s.enabled = false);
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
        clock.advance(FAILURES_KEPT - Duration::from_secs(1));
        assert_eq!(
            lockout.record_wrong_code(UserId(7)),
            2,
            "a month less a second is not enough"
        );
        clock.advance(FAILURES_KEPT);
        assert_eq!(lockout.record_wrong_code(UserId(7)), 1, "a quiet month is");
    }

    #[test]
    fn wrong_passwords_are_counted_at_any_pace_until_a_good_login_or_a_quiet_month() {
        let (lockout, clock) = lockout(|_| {});
        let (paced, ada) = (Duration::from_secs(6), [LoginKey::Account(UserId(7))]);
        for count in 1..=200 {
            clock.advance(paced);
            lockout.record_failure(&ada);
            assert_eq!(lockout.record_wrong_password(UserId(7)), count);
        }
        assert_eq!(
            lockout.locked_for(&ada),
            None,
            "a paced guesser locks nothing"
        );
        // Kept in memory as long as it counts.
        clock.advance(FAILURES_KEPT - paced);
        lockout.prune();
        assert_eq!(lockout.record_wrong_password(UserId(7)), 201);
        lockout.record_success(&ada);
        assert_eq!(
            lockout.record_wrong_password(UserId(7)),
            1,
            "a good login starts over"
        );
        clock.advance(FAILURES_KEPT);
        assert_eq!(
            lockout.record_wrong_password(UserId(7)),
            1,
            "so does a quiet month"
        );
    }

    #[test]
    fn accounts_are_counted_where_the_port_keeps_them() {
        let shared = Arc::new(AccountLocksInMemory::default());
        let (one, _) = lockout(|s| s.failures = 2);
        let (two, _) = lockout(|s| s.failures = 2);
        let (one, two) = (
            one.with_account_locks(shared.clone()),
            two.with_account_locks(shared.clone()),
        );
        one.record_failure(&alice());
        two.record_failure(&alice());
        one.record_failure(&alice());
        assert!(
            two.locked_for(&alice()).is_some(),
            "two instances, one count"
        );
        let kept = shared.account_locks(&[UserId(1)]).unwrap();
        assert_eq!(kept[0].streak, 1);
    }

    #[test]
    fn pruning_forgets_idle_unknown_logins() {
        let (lockout, clock) = lockout(|s| {
            s.failures = 100;
            s.window = Duration::from_secs(1);
        });
        let size = || locked(&lockout.unknown).len();
        for i in 0..50 {
            lockout.record_failure(&[LoginKey::unknown(&format!("guess-{i}"))]);
        }
        assert_eq!(size(), 50);
        clock.advance(Duration::from_secs(1));
        lockout.prune();
        assert_eq!(size(), 0);

        // Calls prune by themselves every so often.
        for i in 0..50 {
            lockout.record_failure(&[LoginKey::unknown(&format!("again-{i}"))]);
        }
        clock.advance(Duration::from_secs(1));
        for _ in 0..HOUSEKEEPING_EVERY {
            lockout.locked_for(&alice());
        }
        assert_eq!(size(), 0, "the idle keys went");
    }

    #[test]
    fn a_full_map_of_unknown_logins_drops_the_soonest_forgotten() {
        let (lockout, clock) = lockout(|_| {});
        let now = clock.now();
        {
            let mut unknown = locked(&lockout.unknown);
            for i in 0..MAX_UNKNOWN {
                let until = now + chrono::Duration::seconds(10 + i as i64);
                let state = LockState {
                    failures_until: Some(until),
                    ..LockState::default()
                };
                unknown.insert(format!("guess-{i}"), state);
            }
        }
        lockout.record_failure(&[LoginKey::unknown("newcomer")]);
        let unknown = locked(&lockout.unknown);
        assert!(unknown.len() < MAX_UNKNOWN, "{}", unknown.len());
        assert!(
            !unknown.contains_key("guess-0"),
            "the soonest forgotten went"
        );
        assert!(unknown.contains_key(&format!("guess-{}", MAX_UNKNOWN - 1)));
        assert!(unknown.contains_key("newcomer"));
    }

    #[test]
    fn odd_windows_still_lock_and_never_panic() {
        let (instant, _) = lockout(|s| {
            s.failures = 2;
            s.window = Duration::ZERO;
        });
        for _ in 0..3 {
            instant.record_failure(&alice());
        }
        assert!(
            instant.locked_for(&alice()).is_some(),
            "a window of 0 counts as 1 s"
        );
        let (endless, _) = lockout(|s| s.window = Duration::MAX);
        for _ in 0..20 {
            endless.record_failure(&alice());
        }
        endless.locked_for(&alice());
    }

    /// Storage that cannot be reached.
    struct Unreachable;

    impl AccountLocks for Unreachable {
        fn account_locks(&self, _: &[UserId]) -> Result<Vec<LockState>, TokensError> {
            Err(TokensError::Storage(sesame_kernel::StorageError(
                "down".into(),
            )))
        }

        fn change_account_lock(
            &self,
            user: UserId,
            _: &mut dyn FnMut(&mut LockState),
        ) -> Result<LockState, TokensError> {
            self.account_locks(&[user]).map(|_| LockState::default())
        }
    }

    #[test]
    fn an_account_whose_locks_cannot_be_read_is_held_back() {
        let (lockout, _) = lockout(|_| {});
        let lockout = lockout.with_account_locks(Arc::new(Unreachable));
        lockout.record_failure(&alice());
        assert_eq!(lockout.locked_for(&alice()), Some(1));
        assert_eq!(lockout.locked_for(&[LoginKey::unknown("ghost")]), None);
    }

    #[test]
    fn accounts_kept_in_memory_are_pruned_too() {
        let (lockout, clock) = lockout(|_| {});
        lockout.record_failure(&alice());
        lockout.record_wrong_code(UserId(2));
        let kept = || locked(&lockout.in_memory.as_ref().unwrap().0).len();
        assert_eq!(kept(), 2);
        clock.advance(Duration::from_secs(60));
        lockout.prune();
        assert_eq!(kept(), 1, "the wrong code counts for a month");
        clock.advance(FAILURES_KEPT);
        lockout.prune();
        assert_eq!(kept(), 0);
    }

    #[test]
    fn a_disabled_lockout_never_locks() {
        let (lockout, _) = lockout(|s| {
            s.enabled = false;
            s.failures = 1;
        });
        let keys = [LoginKey::unknown("x"), LoginKey::Account(UserId(3))];
        for _ in 0..5 {
            lockout.record_failure(&keys);
            assert_eq!(lockout.locked_for(&keys), None);
        }
    }
}
