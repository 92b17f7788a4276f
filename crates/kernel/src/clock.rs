use chrono::{DateTime, SubsecRound, Utc};

/// A point in time, always in UTC.
pub type Timestamp = DateTime<Utc>;

/// Where the domain gets the current time from, so tests can move it by hand.
pub trait Clock: Send + Sync {
    /// The current time, truncated to whole microseconds (what both databases keep).
    fn now(&self) -> Timestamp;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Utc::now().trunc_subsecs(6)
    }
}
