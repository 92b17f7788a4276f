//! Event rules, checked through `EventService` over the in-memory store and
//! a clock moved by hand.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use sesame_events::{
    Actor, EventDraft, EventError, EventFilter, EventId, EventPatch, EventService,
};
use sesame_kernel::{Page, Timestamp, UserId};
use sesame_testkit::{FakeClock, InMemoryEvents};

const ORGANIZER: Actor = Actor {
    user_id: UserId(1),
    is_admin: false,
};
const OTHER: Actor = Actor {
    user_id: UserId(2),
    is_admin: false,
};
const ADMIN: Actor = Actor {
    user_id: UserId(3),
    is_admin: true,
};
const UNKNOWN: EventId = EventId(999);

struct Fixture {
    store: Arc<InMemoryEvents>,
    clock: Arc<FakeClock>,
    events: EventService,
}

impl Fixture {
    fn new() -> Self {
        let store = Arc::new(InMemoryEvents::new());
        for (actor, name) in [(ORGANIZER, "organizer"), (OTHER, "other"), (ADMIN, "admin")] {
            store.add_user(actor.user_id, name);
        }
        let clock = Arc::new(FakeClock::new());
        let events = EventService::new(store.clone(), clock.clone());
        Fixture {
            store,
            clock,
            events,
        }
    }

    /// Creates `title` on 2024-06-01T18:00:00Z as [`ORGANIZER`].
    fn event(&self, title: &str) -> sesame_events::Event {
        self.events
            .create(ORGANIZER, draft(title))
            .expect("a valid event")
    }
}

fn draft(title: &str) -> EventDraft {
    EventDraft {
        title: title.to_owned(),
        description: "An evening of talks".to_owned(),
        date: "2024-06-01T18:00:00".to_owned(),
        location: "Lyon".to_owned(),
        capacity: None,
    }
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Timestamp {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn invalid_fields(error: EventError) -> Vec<String> {
    match error {
        EventError::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn creates_an_event_organized_by_the_caller() {
    let f = Fixture::new();
    let event = f.event("Rust Meetup");
    assert_eq!(event.title, "Rust Meetup");
    assert_eq!(event.description, "An evening of talks");
    assert_eq!(event.date, utc(2024, 6, 1, 18, 0, 0));
    assert_eq!(event.location, "Lyon");
    assert_eq!(event.organizer_id, ORGANIZER.user_id);
    assert_eq!(event.capacity, None);
    assert_eq!(event.attendees_count, 0);
    assert_eq!(f.events.get(event.id).unwrap(), event);
}

#[test]
fn dates_are_naive_utc_or_carry_an_offset() {
    let f = Fixture::new();
    let with_offset = f
        .events
        .create(
            ORGANIZER,
            EventDraft {
                date: "2024-06-01T20:00:00+02:00".to_owned(),
                ..draft("With offset")
            },
        )
        .unwrap();
    assert_eq!(with_offset.date, utc(2024, 6, 1, 18, 0, 0));
    for bad in ["", "soon", "2024-06-31T18:00:00", "01/06/2024 18:00"] {
        let error = f
            .events
            .create(
                ORGANIZER,
                EventDraft {
                    date: bad.to_owned(),
                    ..draft("Bad date")
                },
            )
            .unwrap_err();
        assert_eq!(invalid_fields(error), ["date"], "{bad:?}");
    }
}

#[test]
fn titles_are_unique_ignoring_case() {
    let f = Fixture::new();
    f.event("Rust Meetup");
    for title in ["Rust Meetup", "RUST MEETUP", "  rust meetup  "] {
        let error = f.events.create(OTHER, draft(title)).unwrap_err();
        assert!(
            matches!(error, EventError::TitleTaken),
            "{title}: {error:?}"
        );
    }
    f.event("Rust Meetup 2");
}

#[test]
fn every_bad_field_is_reported_at_once() {
    let f = Fixture::new();
    let error = f
        .events
        .create(
            ORGANIZER,
            EventDraft {
                title: " ".to_owned(),
                description: "d".repeat(5001),
                date: "never".to_owned(),
                location: "l".repeat(301),
                capacity: Some(0),
            },
        )
        .unwrap_err();
    let coded: Vec<_> = error
        .field_errors()
        .iter()
        .map(|e| (e.field.as_str(), e.code, e.params.clone()))
        .collect();
    let max = |n: &str| vec![("max", n.to_owned())];
    assert_eq!(
        coded,
        [
            ("title", "blank", vec![]),
            ("description", "max_length", max("5000")),
            ("date", "invalid_date", vec![]),
            ("location", "max_length", max("300")),
            ("capacity", "min_value", vec![("min", "1".to_owned())]),
        ]
    );
    // The English defaults stay as they were.
    let messages: Vec<_> = error.field_errors().iter().map(|e| &e.message).collect();
    assert_eq!(messages[0], "The title may not be blank.");
    assert_eq!(
        messages[1],
        "The description may have at most 5000 characters."
    );
    assert_eq!(
        messages[4],
        "The capacity must be at least 1 (or null for unlimited)."
    );
    assert_eq!(
        invalid_fields(error),
        ["title", "description", "date", "location", "capacity"]
    );
}

#[test]
fn lengths_are_counted_in_characters_at_their_limits() {
    let f = Fixture::new();
    let event = f
        .events
        .create(
            ORGANIZER,
            EventDraft {
                title: "é".repeat(200),
                description: "é".repeat(5000),
                location: "é".repeat(300),
                capacity: Some(1),
                ..draft("")
            },
        )
        .unwrap();
    assert_eq!(event.title.chars().count(), 200);
    let too_long = f
        .events
        .create(ORGANIZER, draft(&"x".repeat(201)))
        .unwrap_err();
    let title = &too_long.field_errors()[0];
    assert_eq!(
        (title.code, title.params.clone()),
        ("max_length", vec![("max", "200".to_owned())])
    );
    assert_eq!(title.message, "The title may have at most 200 characters.");
    assert_eq!(invalid_fields(too_long), ["title"]);
    let negative = f
        .events
        .create(
            ORGANIZER,
            EventDraft {
                capacity: Some(-3),
                ..draft("Negative")
            },
        )
        .unwrap_err();
    assert_eq!(invalid_fields(negative), ["capacity"]);
}

#[test]
fn only_the_organizer_or_an_admin_may_change_or_delete() {
    let f = Fixture::new();
    let event = f.event("Rust Meetup");
    let rename = |title: &str| EventPatch {
        title: Some(title.to_owned()),
        ..EventPatch::default()
    };

    let error = f
        .events
        .update(OTHER, event.id, rename("Mine now"))
        .unwrap_err();
    assert!(matches!(error, EventError::Forbidden), "{error:?}");
    let error = f
        .events
        .replace(OTHER, event.id, draft("Mine now"))
        .unwrap_err();
    assert!(matches!(error, EventError::Forbidden), "{error:?}");
    let error = f.events.delete(OTHER, event.id).unwrap_err();
    assert!(matches!(error, EventError::Forbidden), "{error:?}");
    assert_eq!(f.events.get(event.id).unwrap(), event);

    let renamed = f
        .events
        .update(ORGANIZER, event.id, rename("Rust Night"))
        .unwrap();
    assert_eq!(renamed.title, "Rust Night");
    let by_admin = f
        .events
        .update(ADMIN, event.id, rename("Rust Day"))
        .unwrap();
    assert_eq!(by_admin.title, "Rust Day");
    assert_eq!(by_admin.organizer_id, ORGANIZER.user_id);

    f.events.delete(ADMIN, event.id).unwrap();
    assert!(matches!(f.events.get(event.id), Err(EventError::NotFound)));
}

#[test]
fn unknown_events_are_not_found() {
    let f = Fixture::new();
    let not_found = |r: Result<_, EventError>| matches!(r, Err(EventError::NotFound));
    assert!(not_found(f.events.get(UNKNOWN).map(drop)));
    assert!(not_found(
        f.events
            .update(ADMIN, UNKNOWN, EventPatch::default())
            .map(drop)
    ));
    assert!(not_found(
        f.events.replace(ADMIN, UNKNOWN, draft("x")).map(drop)
    ));
    assert!(not_found(f.events.delete(ADMIN, UNKNOWN)));
    assert!(not_found(f.events.attend(OTHER, UNKNOWN).map(drop)));
    assert!(not_found(f.events.leave(OTHER, UNKNOWN)));
    assert!(not_found(
        f.events.attendees(UNKNOWN, Page::default()).map(drop)
    ));
}

#[test]
fn patch_changes_only_what_it_gives_and_put_replaces_everything() {
    let f = Fixture::new();
    let event = f
        .events
        .create(
            ORGANIZER,
            EventDraft {
                capacity: Some(10),
                ..draft("Rust Meetup")
            },
        )
        .unwrap();

    let patched = f
        .events
        .update(
            ORGANIZER,
            event.id,
            EventPatch {
                location: Some("Paris".to_owned()),
                date: Some("2024-07-01T09:30:00Z".to_owned()),
                ..EventPatch::default()
            },
        )
        .unwrap();
    assert_eq!(patched.location, "Paris");
    assert_eq!(patched.date, utc(2024, 7, 1, 9, 30, 0));
    assert_eq!(patched.title, "Rust Meetup");
    assert_eq!(patched.description, event.description);
    assert_eq!(patched.capacity, Some(10));

    // An empty patch changes nothing; an explicit null capacity lifts the limit.
    let unchanged = f
        .events
        .update(ORGANIZER, event.id, EventPatch::default())
        .unwrap();
    assert_eq!(unchanged, patched);
    let unlimited = f
        .events
        .update(
            ORGANIZER,
            event.id,
            EventPatch {
                capacity: Some(None),
                ..EventPatch::default()
            },
        )
        .unwrap();
    assert_eq!(unlimited.capacity, None);

    // A title may change case; another event's title is taken.
    let recased = f
        .events
        .update(
            ORGANIZER,
            event.id,
            EventPatch {
                title: Some("RUST MEETUP".to_owned()),
                ..EventPatch::default()
            },
        )
        .unwrap();
    assert_eq!(recased.title, "RUST MEETUP");
    f.event("Go Meetup");
    let error = f
        .events
        .replace(ORGANIZER, event.id, draft("go meetup"))
        .unwrap_err();
    assert!(matches!(error, EventError::TitleTaken), "{error:?}");

    let replaced = f
        .events
        .replace(
            ORGANIZER,
            event.id,
            EventDraft {
                title: "Rust Conf".to_owned(),
                description: String::new(),
                date: "2025-01-01T00:00:00".to_owned(),
                location: String::new(),
                capacity: Some(2),
            },
        )
        .unwrap();
    assert_eq!(
        (
            replaced.title.as_str(),
            replaced.description.as_str(),
            replaced.date,
            replaced.location.as_str(),
            replaced.capacity
        ),
        ("Rust Conf", "", utc(2025, 1, 1, 0, 0, 0), "", Some(2))
    );

    // Bad fields are refused before anything else is looked at.
    let error = f
        .events
        .update(
            OTHER,
            event.id,
            EventPatch {
                date: Some("later".to_owned()),
                capacity: Some(Some(0)),
                ..EventPatch::default()
            },
        )
        .unwrap_err();
    assert_eq!(invalid_fields(error), ["date", "capacity"]);
}

#[test]
fn attendance_is_idempotent_and_counted() {
    let f = Fixture::new();
    let event = f.event("Rust Meetup");

    let attended = f.events.attend(OTHER, event.id).unwrap();
    assert_eq!(attended.attendees_count, 1);
    let again = f.events.attend(OTHER, event.id).unwrap();
    assert_eq!(again.attendees_count, 1);
    f.clock.advance(Duration::minutes(1));
    assert_eq!(
        f.events
            .attend(ORGANIZER, event.id)
            .unwrap()
            .attendees_count,
        2
    );
    assert_eq!(f.events.get(event.id).unwrap().attendees_count, 2);

    // In the order they joined.
    let names: Vec<String> = f
        .events
        .attendees(event.id, Page::default())
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(names, ["other", "organizer"]);
    let second = f
        .events
        .attendees(event.id, Page::new(Some(1), Some(1)))
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].user_id, ORGANIZER.user_id);

    f.events.leave(OTHER, event.id).unwrap();
    f.events.leave(OTHER, event.id).unwrap();
    assert_eq!(f.events.get(event.id).unwrap().attendees_count, 1);
    f.events.leave(ADMIN, event.id).unwrap();
    assert_eq!(f.events.get(event.id).unwrap().attendees_count, 1);
}

#[test]
fn a_full_event_refuses_newcomers_but_not_those_already_in() {
    let f = Fixture::new();
    let event = f
        .events
        .create(
            ORGANIZER,
            EventDraft {
                capacity: Some(2),
                ..draft("Small dinner")
            },
        )
        .unwrap();
    f.events.attend(ORGANIZER, event.id).unwrap();
    f.events.attend(OTHER, event.id).unwrap();

    let error = f.events.attend(ADMIN, event.id).unwrap_err();
    assert!(matches!(error, EventError::Full), "{error:?}");
    assert_eq!(f.events.attend(OTHER, event.id).unwrap().attendees_count, 2);

    // A place that frees up can be taken.
    f.events.leave(OTHER, event.id).unwrap();
    assert_eq!(f.events.attend(ADMIN, event.id).unwrap().attendees_count, 2);

    // Lowering the capacity below the count keeps who is in, lets nobody new in.
    f.events
        .update(
            ORGANIZER,
            event.id,
            EventPatch {
                capacity: Some(Some(1)),
                ..EventPatch::default()
            },
        )
        .unwrap();
    assert_eq!(f.events.get(event.id).unwrap().attendees_count, 2);
    assert!(matches!(
        f.events.attend(OTHER, event.id),
        Err(EventError::Full)
    ));
}

#[test]
fn deleting_an_event_or_a_user_leaves_no_attendance_behind() {
    let f = Fixture::new();
    let first = f.event("First");
    let second = f.events.create(OTHER, draft("Second")).unwrap();
    for actor in [ORGANIZER, OTHER, ADMIN] {
        f.events.attend(actor, first.id).unwrap();
        f.events.attend(actor, second.id).unwrap();
    }
    assert_eq!(f.store.attendance_rows(), 6);

    f.events.delete(ORGANIZER, first.id).unwrap();
    assert_eq!(f.store.attendance_rows(), 3);

    f.store.remove_user(ADMIN.user_id);
    assert_eq!(f.events.get(second.id).unwrap().attendees_count, 2);
    f.store.remove_user(OTHER.user_id);
    assert!(matches!(f.events.get(second.id), Err(EventError::NotFound)));
    assert_eq!(f.store.attendance_rows(), 0);
}

#[test]
fn listing_is_by_date_with_bounds_search_and_pages() {
    let f = Fixture::new();
    // Created out of date order; two share a date.
    for (title, date) in [
        ("Rust late", "2024-09-01T10:00:00"),
        ("Go early", "2024-01-01T10:00:00"),
        ("RUST middle", "2024-05-01T10:00:00"),
        ("Python middle", "2024-05-01T10:00:00"),
        ("Trust fall", "2024-07-01T10:00:00+02:00"),
    ] {
        f.events
            .create(
                ORGANIZER,
                EventDraft {
                    date: date.to_owned(),
                    ..draft(title)
                },
            )
            .unwrap();
    }
    let titles = |page: Page, filter: EventFilter| -> Vec<String> {
        f.events
            .list(page, &filter)
            .unwrap()
            .into_iter()
            .map(|e| e.title)
            .collect()
    };
    let all = EventFilter::default();
    assert_eq!(
        titles(Page::default(), all.clone()),
        [
            "Go early",
            "RUST middle",
            "Python middle",
            "Trust fall",
            "Rust late"
        ]
    );
    assert_eq!(
        titles(Page::new(Some(1), Some(2)), all.clone()),
        ["RUST middle", "Python middle"]
    );
    assert!(titles(Page::new(Some(5), None), all).is_empty());

    let may = utc(2024, 5, 1, 10, 0, 0);
    let july = utc(2024, 7, 1, 8, 0, 0);
    assert_eq!(
        titles(
            Page::default(),
            EventFilter::new(Some(may), Some(july), None)
        ),
        ["RUST middle", "Python middle", "Trust fall"]
    );
    assert_eq!(
        titles(
            Page::default(),
            EventFilter::new(Some(may + Duration::seconds(1)), None, None)
        ),
        ["Trust fall", "Rust late"]
    );
    assert!(titles(
        Page::default(),
        EventFilter::new(Some(july), Some(may), None)
    )
    .is_empty());
    assert_eq!(
        titles(Page::default(), EventFilter::new(None, None, Some("rust"))),
        ["RUST middle", "Trust fall", "Rust late"]
    );
    assert_eq!(
        titles(
            Page::default(),
            EventFilter::new(None, Some(july), Some("RUST"))
        ),
        ["RUST middle", "Trust fall"]
    );
}
