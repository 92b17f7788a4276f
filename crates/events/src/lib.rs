//! Events: what people organise and attend. An [`Event`] has a title unique
//! regardless of case, a description, a date (kept in UTC), a location, its
//! organizer, an optional capacity and its attendees. The [`EventService`]
//! holds the rules; [`EventRepository`] is the port to storage.

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
