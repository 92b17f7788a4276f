use std::sync::Mutex;

use chrono::{Duration, TimeZone, Utc};
use sesame_kernel::{Clock, Timestamp};

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct FakeClock {
    now: Mutex<Timestamp>,
}

impl FakeClock {
    /// A clock at 2024-03-14T12:00:00Z.
    pub fn new() -> Self {
        Self::at(Utc.with_ymd_and_hms(2024, 3, 14, 12, 0, 0).unwrap())
    }

    /// A clock at `now`.
    pub fn at(now: Timestamp) -> Self {
        FakeClock {
            now: Mutex::new(now),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap() += by;
    }
}

impl Default for FakeClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap()
    }
}
