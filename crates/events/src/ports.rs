use sesame_kernel::{Page, Timestamp, UserId};

use crate::{Attendee, Event, EventChanges, EventError, EventFilter, EventId, NewEvent};

/// Where events and their attendances are kept. Titles are unique ignoring
/// case and attendance respects capacity: the store itself enforces both, so
/// two racing writers cannot both win. Deleting an event, or the account of
/// its organizer or of an attendee, leaves no rows behind.
pub trait EventRepository: Send + Sync {
    /// Stores a new event and returns it with its id (and no attendees).
    ///
    /// # Errors
    /// [`EventError::TitleTaken`] when another event has the title (ignoring
    /// case); [`EventError::Storage`] on failure (an unknown organizer included).
    fn insert(&self, event: &NewEvent) -> Result<Event, EventError>;

    /// The event with this id.
    ///
    /// # Errors
    /// [`EventError::Storage`] on failure.
    fn find(&self, id: EventId) -> Result<Option<Event>, EventError>;

    /// The events that pass `filter`, by date then id.
    ///
    /// # Errors
    /// [`EventError::Storage`] on failure.
    fn list(&self, page: Page, filter: &EventFilter) -> Result<Vec<Event>, EventError>;

    /// Applies `changes` and returns the event as it now is.
    ///
    /// # Errors
    /// [`EventError::NotFound`], [`EventError::TitleTaken`], [`EventError::Storage`].
    fn update(&self, id: EventId, changes: &EventChanges) -> Result<Event, EventError>;

    /// Deletes the event and its attendances.
    ///
    /// # Errors
    /// [`EventError::NotFound`], [`EventError::Storage`].
    fn delete(&self, id: EventId) -> Result<(), EventError>;

    /// Records that `user` attends (from `at`) and returns the event as it
    /// now is. Attending twice changes nothing, even when the event is full.
    ///
    /// # Errors
    /// [`EventError::NotFound`]; [`EventError::Full`] when the event has a
    /// capacity and that many people already attend (checked atomically with
    /// the write); [`EventError::Storage`].
    fn attend(&self, id: EventId, user: UserId, at: Timestamp) -> Result<Event, EventError>;

    /// Records that `user` no longer attends (nothing changes if they did not).
    ///
    /// # Errors
    /// [`EventError::NotFound`], [`EventError::Storage`].
    fn leave(&self, id: EventId, user: UserId) -> Result<(), EventError>;

    /// The people who attend, in the order they joined.
    ///
    /// # Errors
    /// [`EventError::NotFound`], [`EventError::Storage`].
    fn attendees(&self, id: EventId, page: Page) -> Result<Vec<Attendee>, EventError>;
}
