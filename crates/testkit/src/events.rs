use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use sesame_events::{
    Attendee, Event, EventChanges, EventError, EventFilter, EventId, EventRepository, NewEvent,
};
use sesame_kernel::{Page, StorageError, Timestamp, UserId};

/// Events and attendances in memory, with the same rules as the real
/// database: titles unique ignoring case, capacity respected, and rows of a
/// removed user or event gone with it. Accounts are known by
/// [`InMemoryEvents::add_user`], as foreign keys would demand.
#[derive(Debug, Default)]
pub struct InMemoryEvents {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    users: BTreeMap<UserId, String>,
    events: Vec<Event>,
    attendances: Vec<Attendance>,
    next_id: i64,
}

#[derive(Debug, Clone)]
struct Attendance {
    event: EventId,
    user: UserId,
    joined_at: Timestamp,
}

impl InMemoryEvents {
    /// An empty store that knows no account.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes an account known, as the users table would.
    pub fn add_user(&self, id: UserId, username: &str) {
        self.state().users.insert(id, username.to_owned());
    }

    /// Removes an account with its events and attendances, as the database's
    /// cascading foreign keys do.
    pub fn remove_user(&self, id: UserId) {
        let mut state = self.state();
        state.users.remove(&id);
        let gone: Vec<EventId> = state
            .events
            .iter()
            .filter(|e| e.organizer_id == id)
            .map(|e| e.id)
            .collect();
        state.events.retain(|e| e.organizer_id != id);
        state
            .attendances
            .retain(|a| a.user != id && !gone.contains(&a.event));
    }

    /// How many attendance rows are stored, for every event.
    pub fn attendance_rows(&self) -> usize {
        self.state().attendances.len()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

impl State {
    fn title_taken(&self, key: &str, except: Option<EventId>) -> bool {
        self.events
            .iter()
            .any(|e| e.title.to_lowercase() == key && Some(e.id) != except)
    }

    fn count(&self, id: EventId) -> i64 {
        self.attendances.iter().filter(|a| a.event == id).count() as i64
    }

    fn with_count(&self, event: &Event) -> Event {
        Event {
            attendees_count: self.count(event.id),
            ..event.clone()
        }
    }

    fn event(&self, id: EventId) -> Result<Event, EventError> {
        self.events
            .iter()
            .find(|e| e.id == id)
            .map(|e| self.with_count(e))
            .ok_or(EventError::NotFound)
    }
}

fn unknown_user(id: UserId) -> EventError {
    EventError::Storage(StorageError(format!(
        "FOREIGN KEY constraint failed: no user {id}"
    )))
}

fn window<T>(items: impl Iterator<Item = T>, page: Page) -> Vec<T> {
    items
        .skip(usize::try_from(page.skip).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(0))
        .collect()
}

impl EventRepository for InMemoryEvents {
    fn insert(&self, event: &NewEvent) -> Result<Event, EventError> {
        let mut state = self.state();
        if !state.users.contains_key(&event.organizer_id) {
            return Err(unknown_user(event.organizer_id));
        }
        if state.title_taken(&event.title.key(), None) {
            return Err(EventError::TitleTaken);
        }
        state.next_id += 1;
        let stored = Event {
            id: EventId(state.next_id),
            title: event.title.as_str().to_owned(),
            description: event.description.clone(),
            date: event.date,
            location: event.location.clone(),
            organizer_id: event.organizer_id,
            capacity: event.capacity,
            attendees_count: 0,
        };
        state.events.push(stored.clone());
        Ok(stored)
    }

    fn find(&self, id: EventId) -> Result<Option<Event>, EventError> {
        Ok(self.state().event(id).ok())
    }

    fn list(&self, page: Page, filter: &EventFilter) -> Result<Vec<Event>, EventError> {
        let state = self.state();
        let mut shown: Vec<&Event> = state
            .events
            .iter()
            .filter(|e| filter.from.is_none_or(|from| e.date >= from))
            .filter(|e| filter.to.is_none_or(|to| e.date <= to))
            .filter(|e| {
                filter
                    .title_contains
                    .as_deref()
                    .is_none_or(|q| e.title.to_lowercase().contains(q))
            })
            .collect();
        shown.sort_by_key(|e| (e.date, e.id));
        Ok(window(shown.into_iter().map(|e| state.with_count(e)), page))
    }

    fn update(&self, id: EventId, changes: &EventChanges) -> Result<Event, EventError> {
        let mut state = self.state();
        state.event(id)?;
        if let Some(title) = &changes.title {
            if state.title_taken(&title.key(), Some(id)) {
                return Err(EventError::TitleTaken);
            }
        }
        let stored = state
            .events
            .iter_mut()
            .find(|e| e.id == id)
            .expect("checked above");
        if let Some(title) = &changes.title {
            stored.title = title.as_str().to_owned();
        }
        if let Some(description) = &changes.description {
            stored.description.clone_from(description);
        }
        if let Some(date) = changes.date {
            stored.date = date;
        }
        if let Some(location) = &changes.location {
            stored.location.clone_from(location);
        }
        if let Some(capacity) = changes.capacity {
            stored.capacity = capacity;
        }
        state.event(id)
    }

    fn delete(&self, id: EventId) -> Result<(), EventError> {
        let mut state = self.state();
        state.event(id)?;
        state.events.retain(|e| e.id != id);
        state.attendances.retain(|a| a.event != id);
        Ok(())
    }

    fn attend(&self, id: EventId, user: UserId, at: Timestamp) -> Result<Event, EventError> {
        let mut state = self.state();
        let event = state.event(id)?;
        if state
            .attendances
            .iter()
            .any(|a| a.event == id && a.user == user)
        {
            return Ok(event);
        }
        if event.capacity.is_some_and(|c| event.attendees_count >= c) {
            return Err(EventError::Full);
        }
        if !state.users.contains_key(&user) {
            return Err(unknown_user(user));
        }
        state.attendances.push(Attendance {
            event: id,
            user,
            joined_at: at,
        });
        state.event(id)
    }

    fn leave(&self, id: EventId, user: UserId) -> Result<(), EventError> {
        let mut state = self.state();
        state.event(id)?;
        state
            .attendances
            .retain(|a| !(a.event == id && a.user == user));
        Ok(())
    }

    fn attendees(&self, id: EventId, page: Page) -> Result<Vec<Attendee>, EventError> {
        let state = self.state();
        state.event(id)?;
        let mut rows: Vec<&Attendance> =
            state.attendances.iter().filter(|a| a.event == id).collect();
        rows.sort_by_key(|a| (a.joined_at, a.user));
        Ok(window(
            rows.into_iter().map(|a| Attendee {
                user_id: a.user,
                username: state.users.get(&a.user).cloned().unwrap_or_default(),
            }),
            page,
        ))
    }
}
