use chrono::{DateTime, Datelike, SubsecRound, Utc};

/// A point in time, always in UTC.
pub type Timestamp = DateTime<Utc>;

/// Whether `at` falls in years 1 to 9999, the times every storage and
/// client of Sesame can hold (PostgreSQL refuses years before 4713 BC, and
/// a refused value fails its whole transaction).
///
/// ```
/// use sesame_kernel::{is_storable, Timestamp};
/// let at = |text: &str| text.parse::<Timestamp>().unwrap();
/// assert!(is_storable(at("0001-01-01T00:00:00Z")));
/// assert!(is_storable(at("9999-12-31T23:59:59Z")));
/// assert!(!is_storable(at("-0001-01-01T00:00:00Z")));
/// assert!(!is_storable(at("+10000-01-01T00:00:00Z")));
/// ```
pub fn is_storable(at: Timestamp) -> bool {
    (1..=9999).contains(&at.year())
}

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
