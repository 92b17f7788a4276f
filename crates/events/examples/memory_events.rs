//! Events in memory: `sesame-events` over storage of your own.
//!
//! `MemoryEvents` implements every method of the `EventRepository` port:
//! titles unique ignoring case, capacity checked in the same step as the
//! write, attendance that survives nothing of a deleted event. It knows the
//! program's people by id and name only: the events crate does not need
//! `sesame-users`.
//!
//! Run it with `cargo run -p sesame-events --example memory_events`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use sesame_events::{
    Actor, Attendee, Event, EventChanges, EventDraft, EventError, EventFilter, EventId, EventPatch,
    EventRepository, EventService, NewEvent,
};
use sesame_kernel::{Page, StorageError, SystemClock, Timestamp, UserId};

/// Events and who attends them, in memory.
struct MemoryEvents {
    /// The program's people, by id: attendee lists show their names.
    people: HashMap<UserId, String>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next_id: i64,
    events: Vec<Event>,
    /// Who attends what, in the order they joined.
    attendance: Vec<(EventId, UserId, Timestamp)>,
}

impl MemoryEvents {
    fn new(people: &[(UserId, &str)]) -> Self {
        MemoryEvents {
            people: people
                .iter()
                .map(|(id, name)| (*id, (*name).to_owned()))
                .collect(),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

impl State {
    fn event_mut(&mut self, id: EventId) -> Result<&mut Event, EventError> {
        self.events
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or(EventError::NotFound)
    }

    fn title_taken(&self, key: &str, except: Option<EventId>) -> bool {
        self.events
            .iter()
            .any(|e| Some(e.id) != except && e.title.to_lowercase() == key)
    }

    fn attends(&self, id: EventId, user: UserId) -> bool {
        self.attendance
            .iter()
            .any(|(event, who, _)| *event == id && *who == user)
    }
}

fn window<T>(items: impl Iterator<Item = T>, page: Page) -> Vec<T> {
    let skip = usize::try_from(page.skip).unwrap_or(0);
    let limit = usize::try_from(page.limit).unwrap_or(0);
    items.skip(skip).take(limit).collect()
}

impl EventRepository for MemoryEvents {
    fn insert(&self, new: &NewEvent) -> Result<Event, EventError> {
        if !self.people.contains_key(&new.organizer_id) {
            return Err(EventError::Storage(StorageError(
                "unknown organizer".into(),
            )));
        }
        let mut state = self.state();
        if state.title_taken(&new.title.key(), None) {
            return Err(EventError::TitleTaken);
        }
        state.next_id += 1;
        let event = Event {
            id: EventId(state.next_id),
            title: new.title.as_str().to_owned(),
            description: new.description.clone(),
            date: new.date,
            location: new.location.clone(),
            organizer_id: new.organizer_id,
            capacity: new.capacity,
            attendees_count: 0,
        };
        state.events.push(event.clone());
        Ok(event)
    }

    fn find(&self, id: EventId) -> Result<Option<Event>, EventError> {
        Ok(self.state().events.iter().find(|e| e.id == id).cloned())
    }

    fn list(&self, page: Page, filter: &EventFilter) -> Result<Vec<Event>, EventError> {
        let mut found: Vec<Event> = self
            .state()
            .events
            .iter()
            .filter(|e| filter.from.is_none_or(|from| e.date >= from))
            .filter(|e| filter.to.is_none_or(|to| e.date <= to))
            .filter(|e| {
                let text = filter.title_contains.as_deref().unwrap_or_default();
                e.title.to_lowercase().contains(text)
            })
            .cloned()
            .collect();
        found.sort_by_key(|e| (e.date, e.id));
        Ok(window(found.into_iter(), page))
    }

    fn update(&self, id: EventId, changes: &EventChanges) -> Result<Event, EventError> {
        let mut state = self.state();
        if let Some(title) = &changes.title {
            if state.title_taken(&title.key(), Some(id)) {
                return Err(EventError::TitleTaken);
            }
        }
        let event = state.event_mut(id)?;
        if let Some(title) = &changes.title {
            event.title = title.as_str().to_owned();
        }
        if let Some(description) = &changes.description {
            event.description.clone_from(description);
        }
        if let Some(date) = changes.date {
            event.date = date;
        }
        if let Some(location) = &changes.location {
            event.location.clone_from(location);
        }
        if let Some(capacity) = changes.capacity {
            event.capacity = capacity;
        }
        Ok(event.clone())
    }

    fn delete(&self, id: EventId) -> Result<(), EventError> {
        let mut state = self.state();
        state.event_mut(id)?;
        state.events.retain(|e| e.id != id);
        state.attendance.retain(|(event, _, _)| *event != id);
        Ok(())
    }

    fn attend(&self, id: EventId, user: UserId, at: Timestamp) -> Result<Event, EventError> {
        // One lock around the check and the write: two people cannot both
        // take the last place.
        let mut state = self.state();
        let already = state.attends(id, user);
        let event = state.event_mut(id)?;
        if !already {
            if event.capacity.is_some_and(|c| event.attendees_count >= c) {
                return Err(EventError::Full);
            }
            event.attendees_count += 1;
        }
        let event = event.clone();
        if !already {
            state.attendance.push((id, user, at));
        }
        Ok(event)
    }

    fn leave(&self, id: EventId, user: UserId) -> Result<(), EventError> {
        let mut state = self.state();
        let attended = state.attends(id, user);
        let event = state.event_mut(id)?;
        if attended {
            event.attendees_count -= 1;
            state
                .attendance
                .retain(|(event, who, _)| !(*event == id && *who == user));
        }
        Ok(())
    }

    fn attendees(&self, id: EventId, page: Page) -> Result<Vec<Attendee>, EventError> {
        let mut state = self.state();
        state.event_mut(id)?;
        let attendees = state
            .attendance
            .iter()
            .filter(|(event, _, _)| *event == id)
            .map(|(_, user, _)| Attendee {
                user_id: *user,
                username: self.people.get(user).cloned().unwrap_or_default(),
            });
        Ok(window(attendees, page))
    }
}

fn person(id: i64, is_admin: bool) -> Actor {
    Actor {
        user_id: UserId(id),
        is_admin,
    }
}

fn main() -> Result<(), EventError> {
    let (alice, bob, carol, dave, admin) = (
        person(1, false),
        person(2, false),
        person(3, false),
        person(4, false),
        person(5, true),
    );
    let store = MemoryEvents::new(&[
        (alice.user_id, "alice"),
        (bob.user_id, "bob"),
        (carol.user_id, "carol"),
        (dave.user_id, "dave"),
        (admin.user_id, "admin"),
    ]);
    let events = EventService::new(Arc::new(store), Arc::new(SystemClock));

    let meetup = events.create(
        alice,
        EventDraft {
            title: "Rust meetup".into(),
            description: "Lightning talks, then pizza.".into(),
            date: "2030-05-14T18:30:00+02:00".into(),
            location: "Room 4".into(),
            capacity: Some(2),
        },
    )?;
    println!(
        "alice created #{} {:?} on {} (UTC), {} places",
        meetup.id,
        meetup.title,
        meetup.date.format("%Y-%m-%d %H:%M"),
        meetup.capacity.unwrap_or_default()
    );
    let picnic = EventDraft {
        title: "Picnic".into(),
        date: "2030-06-01".into(),
        ..EventDraft::default()
    };
    events.create(bob, picnic)?;

    let copy = EventDraft {
        title: "RUST MEETUP".into(),
        date: "2030-07-01".into(),
        ..EventDraft::default()
    };
    if let Err(e) = events.create(bob, copy) {
        println!("bob's \"RUST MEETUP\": {e}");
    }

    events.attend(bob, meetup.id)?;
    events.attend(carol, meetup.id)?;
    let again = events.attend(bob, meetup.id)?;
    println!(
        "bob and carol attend (bob twice): {} attendees",
        again.attendees_count
    );
    if let Err(e) = events.attend(dave, meetup.id) {
        println!("dave: {e}");
    }
    if let Err(e) = events.update(carol, meetup.id, EventPatch::default()) {
        println!("carol tries to edit it: {e}");
    }
    let bigger = EventPatch {
        capacity: Some(Some(3)),
        ..EventPatch::default()
    };
    events.update(alice, meetup.id, bigger)?;
    events.attend(dave, meetup.id)?;
    let names: Vec<String> = events
        .attendees(meetup.id, Page::default())?
        .into_iter()
        .map(|a| a.username)
        .collect();
    println!("alice adds a place; dave is in: {}", names.join(", "));

    let in_may = EventFilter::new(
        sesame_events::parse_date("2030-05-01"),
        sesame_events::parse_date("2030-05-31T23:59:59"),
        None,
    );
    let titles = |filter: &EventFilter| -> Result<Vec<String>, EventError> {
        let found = events.list(Page::default(), filter)?;
        Ok(found.into_iter().map(|e| e.title).collect())
    };
    println!("in May 2030: {:?}", titles(&in_may)?);
    println!("everything: {:?}", titles(&EventFilter::default())?);

    events.delete(admin, meetup.id)?;
    println!(
        "the admin deleted the meetup; left: {:?}",
        titles(&EventFilter::default())?
    );
    Ok(())
}
