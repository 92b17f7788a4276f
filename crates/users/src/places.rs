//! Bounds on the work waiting at once: password checks and hashes, email
//! flows started from an address.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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
pub struct Place {
    in_use: Option<Arc<AtomicUsize>>,
    /// The key it holds in a [`KeyedPlaces`], given back with it.
    key: Option<(Arc<Mutex<HashSet<String>>>, String)>,
}

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
            return Ok(Place {
                in_use: None,
                key: None,
            });
        }
        let before = self.in_use.fetch_add(1, Ordering::AcqRel);
        let place = Place {
            in_use: Some(self.in_use.clone()),
            key: None,
        };
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

/// [`Places`] where each key holds at most one: work for one key (an
/// address) that serialises on its locks cannot take every place.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyedPlaces {
    places: Places,
    held: Arc<Mutex<HashSet<String>>>,
}

impl KeyedPlaces {
    pub(crate) fn new(max: usize, what: &'static str) -> KeyedPlaces {
        KeyedPlaces {
            places: Places::new(max, what),
            held: Arc::default(),
        }
    }

    /// A place for one piece of work for `key`.
    ///
    /// # Errors
    /// [`UsersError::Storage`] when `key` holds one already, or every place
    /// is taken.
    pub(crate) fn take(&self, key: String) -> Result<Place, UsersError> {
        let mut place = self.places.take()?;
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if !held.insert(key.clone()) {
            return Err(UsersError::Storage(StorageError(format!(
                "one of the {} for this address is waiting already",
                self.places.what
            ))));
        }
        place.key = Some((self.held.clone(), key));
        Ok(place)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Some(in_use) = &self.in_use {
            in_use.fetch_sub(1, Ordering::AcqRel);
        }
        if let Some((held, key)) = self.key.take() {
            held.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
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

    #[test]
    fn a_key_holds_one_place_at_most() {
        let places = KeyedPlaces::new(3, "email flows");
        let first = places.take("a@example.com".into()).unwrap();
        assert!(places.take("a@example.com".into()).is_err());
        let _other = places.take("b@example.com".into()).unwrap();
        drop(first);
        let _again = places.take("a@example.com".into()).unwrap();
        // A refused key gave its place back: two are held, one is free.
        let _third = places.take("c@example.com".into()).unwrap();
        assert!(places.take("d@example.com".into()).is_err());
    }
}
