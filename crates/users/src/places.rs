//! Bounds on the work waiting at once: password checks and hashes, email
//! flows started from an address.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sesame_kernel::StorageError;

use crate::UsersError;

/// Pieces of work under way, at most `max` at once (no bound when `max` is
/// 0). Past it a caller is refused at once, as when storage is unavailable
/// (503), rather than wait behind them: a flood of logins from a few
/// addresses, each within its rate limit, would otherwise hold every
/// blocking thread of the service, and every request that reads the
/// database would wait behind the flood.
#[derive(Debug, Clone, Default)]
pub(crate) struct Places {
    in_use: Arc<AtomicUsize>,
    max: usize,
    /// What the work is, for the refusal: `password checks`.
    what: &'static str,
}

/// One place, held until dropped.
pub struct Place(Option<Arc<AtomicUsize>>);

impl Places {
    pub(crate) fn new(max: usize, what: &'static str) -> Places {
        Places {
            in_use: Arc::default(),
            max,
            what,
        }
    }

    /// A place for one piece of work.
    ///
    /// # Errors
    /// [`UsersError::Storage`] when every place is taken.
    pub(crate) fn take(&self) -> Result<Place, UsersError> {
        if self.max == 0 {
            return Ok(Place(None));
        }
        let before = self.in_use.fetch_add(1, Ordering::AcqRel);
        let place = Place(Some(self.in_use.clone()));
        if before >= self.max {
            drop(place);
            return Err(UsersError::Storage(StorageError(format!(
                "{} {} are waiting already: try again shortly",
                self.max, self.what
            ))));
        }
        Ok(place)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Some(in_use) = &self.0 {
            in_use.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_refused_past_the_bound_and_given_back_when_dropped() {
        let places = Places::new(2, "password checks");
        let first = places.take().unwrap();
        let _second = places.take().unwrap();
        assert!(matches!(places.take(), Err(UsersError::Storage(_))));
        drop(first);
        let _third = places.take().unwrap();
        assert!(places.take().is_err());
        let unbounded = Places::default();
        let held: Vec<Place> = (0..1000).map(|_| unbounded.take().unwrap()).collect();
        assert_eq!(held.len(), 1000);
    }
}
