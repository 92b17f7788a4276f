use std::sync::Arc;

use sesame_kernel::{Clock, Page, Timestamp};

use crate::event::{MAX_DESCRIPTION_CHARS, MAX_LOCATION_CHARS};
use crate::{
    parse_date, Actor, Attendee, Event, EventChanges, EventDraft, EventError, EventFilter, EventId,
    EventPatch, EventRepository, FieldError, NewEvent, Title,
};

/// Event use-cases: create, list, read, change and delete events, attend them.
#[derive(Clone)]
pub struct EventService {
    events: Arc<dyn EventRepository>,
    clock: Arc<dyn Clock>,
}

impl EventService {
    /// A service over these ports.
    pub fn new(events: Arc<dyn EventRepository>, clock: Arc<dyn Clock>) -> Self {
        EventService { events, clock }
    }

    /// Creates an event organized by `actor`.
    ///
    /// # Errors
    /// [`EventError::Invalid`] listing every bad field,
    /// [`EventError::TitleTaken`], [`EventError::Storage`].
    pub fn create(&self, actor: Actor, draft: EventDraft) -> Result<Event, EventError> {
        let mut errors = Vec::new();
        let title = Title::parse(&draft.title).map_err(|e| errors.push(e)).ok();
        check_length(
            &draft.description,
            "description",
            MAX_DESCRIPTION_CHARS,
            &mut errors,
        );
        let date = check_date(&draft.date, &mut errors);
        check_length(&draft.location, "location", MAX_LOCATION_CHARS, &mut errors);
        check_capacity(draft.capacity, &mut errors);
        let (Some(title), Some(date), true) = (title, date, errors.is_empty()) else {
            return Err(EventError::Invalid(errors));
        };
        self.events.insert(&NewEvent {
            title,
            description: draft.description,
            date,
            location: draft.location,
            organizer_id: actor.user_id,
            capacity: draft.capacity,
        })
    }

    /// Events that pass `filter`, by date then id.
    ///
    /// # Errors
    /// [`EventError::Storage`].
    pub fn list(&self, page: Page, filter: &EventFilter) -> Result<Vec<Event>, EventError> {
        if matches!((filter.from, filter.to), (Some(from), Some(to)) if from > to) {
            return Ok(Vec::new());
        }
        // Lower-casing at most doubles a title (`İ` is `i̇`): a longer search
        // matches none, and is not asked of storage.
        let longest_title = 2 * Title::MAX_CHARS;
        if (filter.title_contains.as_ref()).is_some_and(|q| q.chars().count() > longest_title) {
            return Ok(Vec::new());
        }
        self.events.list(page, filter)
    }

    /// The event with this id.
    ///
    /// # Errors
    /// [`EventError::NotFound`], [`EventError::Storage`].
    pub fn get(&self, id: EventId) -> Result<Event, EventError> {
        self.events.find(id)?.ok_or(EventError::NotFound)
    }

    /// Replaces every field of an event (PUT): a capacity left out becomes unlimited.
    ///
    /// # Errors
    /// As [`EventService::update`].
    pub fn replace(
        &self,
        actor: Actor,
        id: EventId,
        draft: EventDraft,
    ) -> Result<Event, EventError> {
        self.update(actor, id, EventPatch::from(draft))
    }

    /// Changes the fields of an event that `patch` gives (PATCH). Only its
    /// organizer or an admin may.
    ///
    /// # Errors
    /// [`EventError::Invalid`] listing every bad field, [`EventError::NotFound`],
    /// [`EventError::Forbidden`], [`EventError::TitleTaken`], [`EventError::Storage`].
    pub fn update(
        &self,
        actor: Actor,
        id: EventId,
        patch: EventPatch,
    ) -> Result<Event, EventError> {
        let mut errors = Vec::new();
        let changes = EventChanges {
            title: patch
                .title
                .as_deref()
                .and_then(|raw| Title::parse(raw).map_err(|e| errors.push(e)).ok()),
            description: patch.description.inspect(|text| {
                check_length(text, "description", MAX_DESCRIPTION_CHARS, &mut errors)
            }),
            date: patch
                .date
                .as_deref()
                .and_then(|raw| check_date(raw, &mut errors)),
            location: patch
                .location
                .inspect(|text| check_length(text, "location", MAX_LOCATION_CHARS, &mut errors)),
            capacity: patch.capacity.inspect(|c| check_capacity(*c, &mut errors)),
        };
        if !errors.is_empty() {
            return Err(EventError::Invalid(errors));
        }
        let event = self.changeable(actor, id)?;
        if changes.is_empty() {
            return Ok(event);
        }
        self.events.update(id, &changes)
    }

    /// Deletes an event and its attendances. Only its organizer or an admin may.
    ///
    /// # Errors
    /// [`EventError::NotFound`], [`EventError::Forbidden`], [`EventError::Storage`].
    pub fn delete(&self, actor: Actor, id: EventId) -> Result<(), EventError> {
        self.changeable(actor, id)?;
        self.events.delete(id)
    }

    /// `actor` attends the event; attending again changes nothing.
    ///
    /// # Errors
    /// [`EventError::NotFound`], [`EventError::Full`], [`EventError::Storage`].
    pub fn attend(&self, actor: Actor, id: EventId) -> Result<Event, EventError> {
        self.events.attend(id, actor.user_id, self.clock.now())
    }

    /// `actor` no longer attends the event; leaving again changes nothing.
    ///
    /// # Errors
    /// [`EventError::NotFound`], [`EventError::Storage`].
    pub fn leave(&self, actor: Actor, id: EventId) -> Result<(), EventError> {
        self.events.leave(id, actor.user_id)
    }

    /// The people who attend the event, in the order they joined.
    ///
    /// # Errors
    /// [`EventError::NotFound`], [`EventError::Storage`].
    pub fn attendees(&self, id: EventId, page: Page) -> Result<Vec<Attendee>, EventError> {
        self.events.attendees(id, page)
    }

    /// The event, if `actor` may change it.
    fn changeable(&self, actor: Actor, id: EventId) -> Result<Event, EventError> {
        let event = self.get(id)?;
        if event.may_be_changed_by(actor) {
            Ok(event)
        } else {
            Err(EventError::Forbidden)
        }
    }
}

fn check_length(text: &str, field: &str, max: usize, errors: &mut Vec<FieldError>) {
    if text.chars().count() > max {
        errors.push(
            FieldError::new(
                field,
                format!("The {field} may have at most {max} characters."),
            )
            .coded("max_length")
            .param("max", max),
        );
    }
}

fn check_date(raw: &str, errors: &mut Vec<FieldError>) -> Option<Timestamp> {
    let date = parse_date(raw);
    if date.is_none() {
        errors.push(FieldError::new(
            "date",
            "The date must be in ISO 8601: 2024-03-14T12:00:00 (taken as UTC) or with an offset, 2024-03-14T12:00:00+01:00.",
        )
        .coded("invalid_date"));
    }
    date
}

/// The fewest places an event with a capacity has.
const MIN_CAPACITY: i64 = 1;

fn check_capacity(capacity: Option<i64>, errors: &mut Vec<FieldError>) {
    if capacity.is_some_and(|c| c < MIN_CAPACITY) {
        errors.push(
            FieldError::new(
                "capacity",
                "The capacity must be at least 1 (or null for unlimited).",
            )
            .coded("min_value")
            .param("min", MIN_CAPACITY),
        );
    }
}
