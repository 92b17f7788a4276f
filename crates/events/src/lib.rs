//! Events that people organise and attend, for programs that bring their own
//! storage.
//!
//! An [`Event`] has a title unique regardless of case, a description, a date
//! (kept in UTC), a location, its organizer, an optional capacity and its
//! attendees. Only its organizer or an administrator may change or delete
//! it; anyone may attend until it is full.
//!
//! # What is in it
//!
//! - **The service**: [`EventService`]: create, list (by date, filtered by
//!   [`EventFilter`]), read, replace, patch and delete events, attend and
//!   leave them. Each call says who asks with an [`Actor`].
//! - **Value types**: [`Title`] (checks itself), [`EventDraft`] and
//!   [`EventPatch`] (what a client sends, as raw strings: the service checks
//!   them and reports every bad field), [`NewEvent`] and [`EventChanges`]
//!   (what the service hands to storage, already checked), [`Event`],
//!   [`EventId`], [`Attendee`]; [`parse_date`] reads the ISO 8601 forms
//!   accepted.
//! - **Ports** to implement: [`EventRepository`] (titles unique ignoring case
//!   and capacity respected by the store itself, so racing writers cannot both
//!   win), and the `sesame-kernel` [`Clock`](sesame_kernel::Clock).
//! - **Errors**: every fallible call returns [`EventError`]
//!   ([`EventError::TitleTaken`], [`EventError::Full`],
//!   [`EventError::Invalid`] with one [`FieldError`] per bad field, ...).
//!
//! The crate knows users only by [`UserId`](sesame_kernel::UserId): it does
//! not depend on `sesame-users`.
//!
//! # Example: create an event
//!
//! Events live in a vector here; the adapter implements what creating and
//! listing use and refuses the rest. The `memory_events` example of this
//! crate (`cargo run -p sesame-events --example memory_events`) implements
//! every method, attendance and capacity included.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! use sesame_events::{
//!     Actor, Attendee, Event, EventChanges, EventDraft, EventError, EventFilter, EventId,
//!     EventRepository, EventService, NewEvent,
//! };
//! use sesame_kernel::{Page, StorageError, SystemClock, Timestamp, UserId};
//!
//! /// Events in memory: the storage this program brings.
//! #[derive(Default)]
//! struct MemoryEvents(Mutex<Vec<Event>>);
//!
//! fn unsupported() -> EventError {
//!     EventError::Storage(StorageError("not supported by this store".into()))
//! }
//!
//! impl EventRepository for MemoryEvents {
//!     fn insert(&self, new: &NewEvent) -> Result<Event, EventError> {
//!         let mut events = self.0.lock().unwrap();
//!         // The store itself refuses a second title, ignoring case.
//!         if events.iter().any(|e| e.title.to_lowercase() == new.title.key()) {
//!             return Err(EventError::TitleTaken);
//!         }
//!         let event = Event {
//!             id: EventId(events.len() as i64 + 1),
//!             title: new.title.as_str().to_owned(),
//!             description: new.description.clone(),
//!             date: new.date,
//!             location: new.location.clone(),
//!             organizer_id: new.organizer_id,
//!             capacity: new.capacity,
//!             attendees_count: 0,
//!         };
//!         events.push(event.clone());
//!         Ok(event)
//!     }
//!
//!     fn find(&self, id: EventId) -> Result<Option<Event>, EventError> {
//!         Ok(self.0.lock().unwrap().iter().find(|e| e.id == id).cloned())
//!     }
//!
//!     fn list(&self, page: Page, filter: &EventFilter) -> Result<Vec<Event>, EventError> {
//!         let mut found: Vec<Event> = self
//!             .0
//!             .lock()
//!             .unwrap()
//!             .iter()
//!             .filter(|e| filter.from.is_none_or(|from| e.date >= from))
//!             .filter(|e| filter.to.is_none_or(|to| e.date <= to))
//!             .filter(|e| {
//!                 let text = filter.title_contains.as_deref().unwrap_or_default();
//!                 e.title.to_lowercase().contains(text)
//!             })
//!             .cloned()
//!             .collect();
//!         found.sort_by_key(|e| (e.date, e.id));
//!         Ok(found.into_iter().skip(page.skip as usize).take(page.limit as usize).collect())
//!     }
//!
//!     // Not used to create and list events.
//!     fn update(&self, _: EventId, _: &EventChanges) -> Result<Event, EventError> {
//!         Err(unsupported())
//!     }
//!     fn delete(&self, _: EventId) -> Result<(), EventError> {
//!         Err(unsupported())
//!     }
//!     fn attend(&self, _: EventId, _: UserId, _: Timestamp) -> Result<Event, EventError> {
//!         Err(unsupported())
//!     }
//!     fn leave(&self, _: EventId, _: UserId) -> Result<(), EventError> {
//!         Err(unsupported())
//!     }
//!     fn attendees(&self, _: EventId, _: Page) -> Result<Vec<Attendee>, EventError> {
//!         Err(unsupported())
//!     }
//! }
//!
//! # fn main() -> Result<(), EventError> {
//! let events = EventService::new(Arc::new(MemoryEvents::default()), Arc::new(SystemClock));
//! // Who asks: an account of your own user system, and whether it is an admin.
//! let organizer = Actor {
//!     user_id: UserId(1),
//!     is_admin: false,
//! };
//!
//! let meetup = events.create(
//!     organizer,
//!     EventDraft {
//!         title: "  Rust meetup ".into(),
//!         date: "2030-05-14T18:30:00+02:00".into(),
//!         location: "Room 4".into(),
//!         capacity: Some(30),
//!         ..EventDraft::default()
//!     },
//! )?;
//! assert_eq!(meetup.title, "Rust meetup");
//! assert_eq!(meetup.date.to_rfc3339(), "2030-05-14T16:30:00+00:00");
//! assert_eq!(events.get(meetup.id)?, meetup);
//!
//! // Titles are unique ignoring case; bad input is reported field by field.
//! let again = EventDraft {
//!     title: "RUST MEETUP".into(),
//!     date: "2030-06-01".into(),
//!     ..EventDraft::default()
//! };
//! assert!(matches!(events.create(organizer, again), Err(EventError::TitleTaken)));
//! let bad = EventDraft {
//!     title: " ".into(),
//!     date: "next Tuesday".into(),
//!     ..EventDraft::default()
//! };
//! let Err(EventError::Invalid(problems)) = events.create(organizer, bad) else {
//!     panic!("a blank title was accepted");
//! };
//! let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
//! assert_eq!(fields, ["title", "date"]);
//!
//! let found = events.list(Page::default(), &EventFilter::new(None, None, Some("meetup")))?;
//! assert_eq!(found, [meetup]);
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod error;
mod event;
mod ports;
mod service;

pub use error::{EventError, FieldError};
pub use event::{
    parse_date, Actor, Attendee, Event, EventChanges, EventDraft, EventFilter, EventId, EventPatch,
    NewEvent, Title,
};
pub use ports::EventRepository;
pub use service::EventService;
