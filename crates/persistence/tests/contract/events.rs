//! `EventRepository` on both backends: titles unique ignoring case (even
//! under racing writers), listing by date with bounds and search, capacity
//! under racing attendances, and no rows left behind by deletions.

use std::sync::Barrier;
use std::thread;

use chrono::{Duration, TimeZone, Utc};
use sesame_events::{
    Event, EventChanges, EventError, EventFilter, EventId, EventRepository, NewEvent, Title,
};
use sesame_kernel::{Page, Timestamp, UserId};
use sesame_persistence::Database;
use sesame_users::UserRepository;

use crate::support::{insert_user, now, precise_time, UNKNOWN_USER};

const RACERS: usize = 20;
const UNKNOWN_EVENT: EventId = EventId(987_654_321);

/// Runs `work(i)` on `threads` threads released at the same moment, and
/// returns the results in thread order.
fn race<T: Send>(threads: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let start = Barrier::new(threads);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (start, work) = (&start, &work);
                scope.spawn(move || {
                    start.wait();
                    work(i)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a racing thread panicked"))
            .collect()
    })
}

fn june(day: u32, hour: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2024, 6, day, hour, 0, 0).unwrap()
}

fn new_event(title: &str, organizer: UserId, date: Timestamp) -> NewEvent {
    NewEvent {
        title: Title::parse(title).expect("a valid title"),
        description: format!("About {title}"),
        date,
        location: "Lyon".to_owned(),
        organizer_id: organizer,
        capacity: None,
    }
}

fn insert_event(db: &Database, title: &str, organizer: UserId, date: Timestamp) -> Event {
    EventRepository::insert(db, &new_event(title, organizer, date))
        .unwrap_or_else(|e| panic!("insert {title}: {e}"))
}

fn titles(events: Vec<Event>) -> Vec<String> {
    events.into_iter().map(|e| e.title).collect()
}

fn listed(db: &Database, page: Page, filter: &EventFilter) -> Vec<String> {
    titles(EventRepository::list(db, page, filter).unwrap())
}

fn get(db: &Database, id: EventId) -> Option<Event> {
    EventRepository::find(db, id).unwrap()
}

contract_tests! {
    fn insert_returns_the_stored_event(db: &Database) {
        let organizer = insert_user(db, "organizer", None).id;
        let mut event = new_event("Fête du Code", organizer, precise_time());
        event.capacity = Some(30);
        event.description = "é".repeat(5000);

        let stored = EventRepository::insert(db, &event).unwrap();

        assert!(stored.id.0 > 0);
        assert_eq!(stored.title, "Fête du Code");
        assert_eq!(stored.description, "é".repeat(5000));
        assert_eq!(stored.date, precise_time());
        assert_eq!(stored.location, "Lyon");
        assert_eq!(stored.organizer_id, organizer);
        assert_eq!(stored.capacity, Some(30));
        assert_eq!(stored.attendees_count, 0);
        assert_eq!(get(db, stored.id), Some(stored));
        assert_eq!(get(db, UNKNOWN_EVENT), None);
    }

    fn an_event_needs_an_existing_organizer(db: &Database) {
        let result = EventRepository::insert(db, &new_event("Orphan", UNKNOWN_USER, june(1, 18)));
        assert!(matches!(result, Err(EventError::Storage(_))), "{result:?}");
    }

    fn titles_are_unique_ignoring_case(db: &Database) {
        let organizer = insert_user(db, "organizer", None).id;
        let fete = insert_event(db, "Fête du Code", organizer, june(1, 18));
        let other = insert_event(db, "Rust Meetup", organizer, june(2, 18));

        for taken in ["Fête du Code", "FÊTE DU CODE", "fête du code"] {
            let result = EventRepository::insert(db, &new_event(taken, organizer, june(3, 18)));
            assert!(matches!(result, Err(EventError::TitleTaken)), "{taken}: {result:?}");
        }
        let rename = |title: &str| EventChanges {
            title: Some(Title::parse(title).unwrap()),
            ..EventChanges::default()
        };
        let result = EventRepository::update(db, other.id, &rename("FÊTE du code"));
        assert!(matches!(result, Err(EventError::TitleTaken)), "{result:?}");
        assert_eq!(get(db, other.id).unwrap().title, "Rust Meetup");

        // An event may change the case of its own title.
        let recased = EventRepository::update(db, fete.id, &rename("FÊTE DU CODE")).unwrap();
        assert_eq!(recased.title, "FÊTE DU CODE");
    }

    fn one_of_many_racing_creations_of_a_title_wins(db: &Database) {
        let organizer = insert_user(db, "organizer", None).id;
        let spellings: Vec<String> = (0..RACERS)
            .map(|i| {
                "rust meetup"
                    .chars()
                    .enumerate()
                    .map(|(j, c)| if (i >> (j % 5)) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                    .collect()
            })
            .collect();
        let results = race(RACERS, |i| {
            EventRepository::insert(db, &new_event(&spellings[i], organizer, june(1, 18)))
        });

        let winners: Vec<&Event> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        let taken = results
            .iter()
            .filter(|r| matches!(r, Err(EventError::TitleTaken)))
            .count();
        assert_eq!(taken, RACERS - 1, "{results:?}");
        let all = EventRepository::list(db, Page::default(), &EventFilter::default()).unwrap();
        assert_eq!(all, vec![winners[0].clone()]);
    }

    fn update_changes_only_what_is_given(db: &Database) {
        let organizer = insert_user(db, "organizer", None).id;
        let mut event = new_event("Rust Meetup", organizer, june(1, 18));
        event.capacity = Some(10);
        let stored = EventRepository::insert(db, &event).unwrap();

        let moved = EventRepository::update(db, stored.id, &EventChanges {
            date: Some(precise_time()),
            location: Some("Paris".to_owned()),
            ..EventChanges::default()
        })
        .unwrap();
        assert_eq!(moved.date, precise_time());
        assert_eq!(moved.location, "Paris");
        assert_eq!(moved.title, "Rust Meetup");
        assert_eq!(moved.description, stored.description);
        assert_eq!(moved.capacity, Some(10));

        let unlimited = EventRepository::update(db, stored.id, &EventChanges {
            capacity: Some(None),
            description: Some(String::new()),
            ..EventChanges::default()
        })
        .unwrap();
        assert_eq!((unlimited.capacity, unlimited.description.as_str()), (None, ""));
        assert_eq!(get(db, stored.id), Some(unlimited.clone()));
        assert_eq!(
            EventRepository::update(db, stored.id, &EventChanges::default()).unwrap(),
            unlimited
        );

        for changes in [EventChanges::default(), EventChanges { location: Some("x".into()), ..EventChanges::default() }] {
            let result = EventRepository::update(db, UNKNOWN_EVENT, &changes);
            assert!(matches!(result, Err(EventError::NotFound)), "{result:?}");
        }
    }

    fn list_is_by_date_then_id_with_bounds_and_search(db: &Database) {
        let organizer = insert_user(db, "organizer", None).id;
        // Inserted out of date order; two share a date (then id decides).
        for (title, date) in [
            ("Rust late", june(30, 9)),
            ("Go early", june(1, 9)),
            ("RUST middle", june(15, 9)),
            ("Python middle", june(15, 9)),
            ("100% Trust_fall", june(20, 9) + Duration::microseconds(1)),
        ] {
            insert_event(db, title, organizer, date);
        }
        let all = EventFilter::default();
        assert_eq!(
            listed(db, Page::default(), &all),
            ["Go early", "RUST middle", "Python middle", "100% Trust_fall", "Rust late"]
        );
        assert_eq!(listed(db, Page::new(Some(1), Some(2)), &all), ["RUST middle", "Python middle"]);
        assert!(listed(db, Page::new(Some(5), None), &all).is_empty());

        // Bounds are inclusive, to the microsecond.
        let bounded = EventFilter::new(Some(june(15, 9)), Some(june(20, 9)), None);
        assert_eq!(listed(db, Page::default(), &bounded), ["RUST middle", "Python middle"]);
        let bounded = EventFilter::new(
            Some(june(15, 9) + Duration::microseconds(1)),
            Some(june(20, 9) + Duration::microseconds(1)),
            None,
        );
        assert_eq!(listed(db, Page::default(), &bounded), ["100% Trust_fall"]);
        assert_eq!(
            listed(db, Page::default(), &EventFilter::new(Some(june(30, 9)), None, None)),
            ["Rust late"]
        );

        // Search: contains, ignoring case; wildcards are plain characters.
        let search = |q: &str| listed(db, Page::default(), &EventFilter::new(None, None, Some(q)));
        assert_eq!(search("rust"), ["RUST middle", "100% Trust_fall", "Rust late"]);
        assert_eq!(search("MIDDLE"), ["RUST middle", "Python middle"]);
        assert_eq!(search("0% t"), ["100% Trust_fall"]);
        assert_eq!(search("t_f"), ["100% Trust_fall"]);
        assert!(search("%").len() == 1 && search("_").len() == 1);
        assert!(search("r_st").is_empty());
        assert!(search("nothing").is_empty());
        assert_eq!(
            listed(db, Page::default(), &EventFilter::new(None, Some(june(29, 0)), Some("RUST"))),
            ["RUST middle", "100% Trust_fall"]
        );
    }

    fn deep_pages_agree_with_the_date_order(db: &Database) {
        // Past the skip where listing changes strategy: dates scrambled
        // against ids, each date shared by two events (then id decides).
        const EVENTS: usize = 260;
        let organizer = insert_user(db, "organizer", None).id;
        let base = june(1, 0);
        let mut expected: Vec<(Timestamp, i64, String)> = (0..EVENTS)
            .map(|i| {
                let date = base + Duration::minutes(((i * 37) % 130) as i64);
                let event = insert_event(db, &format!("Event {i:03}"), organizer, date);
                (event.date, event.id.0, event.title)
            })
            .collect();
        expected.sort();
        let page_of = |skip: usize, filter: &EventFilter| -> Vec<(Timestamp, i64, String)> {
            EventRepository::list(db, Page::new(Some(skip as i64), None), filter)
                .unwrap()
                .into_iter()
                .map(|e| (e.date, e.id.0, e.title))
                .collect()
        };
        let all = EventFilter::default();
        for skip in [0, 100, 160, 199, 200, 201, 250, 259, 260] {
            let end = (skip + 100).min(EVENTS);
            assert_eq!(page_of(skip, &all), expected[skip..end], "skip {skip}");
        }

        let from = base + Duration::minutes(10);
        let bounded = EventFilter::new(Some(from), None, Some("EVENT"));
        let matching: Vec<_> = expected.iter().filter(|(d, _, _)| *d >= from).cloned().collect();
        assert_eq!(matching.len(), EVENTS - 20);
        for skip in [100, 199, 200, 230] {
            let end = (skip + 100).min(matching.len());
            assert_eq!(page_of(skip, &bounded), matching[skip..end], "bounded, skip {skip}");
        }
        let searched = EventFilter::new(None, None, Some("event 2"));
        assert_eq!(page_of(0, &searched).len(), 60);
        assert!(page_of(200, &searched).is_empty());
    }

    fn attendance_is_idempotent_counted_and_ordered(db: &Database) {
        let organizer = insert_user(db, "organizer", None).id;
        let ann = insert_user(db, "Ann", None).id;
        let bob = insert_user(db, "Bob", None).id;
        let event = insert_event(db, "Rust Meetup", organizer, june(1, 18));
        let at = now();

        assert_eq!(EventRepository::attend(db, event.id, bob, at).unwrap().attendees_count, 1);
        assert_eq!(EventRepository::attend(db, event.id, bob, at).unwrap().attendees_count, 1);
        let both = EventRepository::attend(db, event.id, ann, at + Duration::seconds(1)).unwrap();
        assert_eq!(both.attendees_count, 2);
        assert_eq!(get(db, event.id).unwrap().attendees_count, 2);
        assert_eq!(
            EventRepository::list(db, Page::default(), &EventFilter::default()).unwrap()[0].attendees_count,
            2
        );

        let attendees = EventRepository::attendees(db, event.id, Page::default()).unwrap();
        let names: Vec<(UserId, &str)> =
            attendees.iter().map(|a| (a.user_id, a.username.as_str())).collect();
        assert_eq!(names, [(bob, "Bob"), (ann, "Ann")]);
        let second = EventRepository::attendees(db, event.id, Page::new(Some(1), Some(1))).unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].user_id, ann);

        EventRepository::leave(db, event.id, bob).unwrap();
        EventRepository::leave(db, event.id, bob).unwrap();
        EventRepository::leave(db, event.id, organizer).unwrap();
        assert_eq!(get(db, event.id).unwrap().attendees_count, 1);

        let not_found = |r: Result<(), EventError>| matches!(r, Err(EventError::NotFound));
        assert!(not_found(EventRepository::attend(db, UNKNOWN_EVENT, bob, at).map(drop)));
        assert!(not_found(EventRepository::leave(db, UNKNOWN_EVENT, bob)));
        assert!(not_found(EventRepository::attendees(db, UNKNOWN_EVENT, Page::default()).map(drop)));
    }

    fn a_full_event_refuses_newcomers(db: &Database) {
        let organizer = insert_user(db, "organizer", None).id;
        let ann = insert_user(db, "ann", None).id;
        let bob = insert_user(db, "bob", None).id;
        let mut event = new_event("Small dinner", organizer, june(1, 18));
        event.capacity = Some(2);
        let event = EventRepository::insert(db, &event).unwrap();

        EventRepository::attend(db, event.id, organizer, now()).unwrap();
        EventRepository::attend(db, event.id, ann, now()).unwrap();
        let result = EventRepository::attend(db, event.id, bob, now());
        assert!(matches!(result, Err(EventError::Full)), "{result:?}");
        // Those already in may say so again.
        assert_eq!(EventRepository::attend(db, event.id, ann, now()).unwrap().attendees_count, 2);
        EventRepository::leave(db, event.id, ann).unwrap();
        assert_eq!(EventRepository::attend(db, event.id, bob, now()).unwrap().attendees_count, 2);
    }

    fn racing_attendances_never_exceed_the_capacity(db: &Database) {
        const CAPACITY: usize = 5;
        let organizer = insert_user(db, "organizer", None).id;
        let people: Vec<UserId> =
            (0..RACERS).map(|i| insert_user(db, &format!("person{i}"), None).id).collect();
        let mut event = new_event("Popular", organizer, june(1, 18));
        event.capacity = Some(CAPACITY as i64);
        let event = EventRepository::insert(db, &event).unwrap();

        let results = race(RACERS, |i| EventRepository::attend(db, event.id, people[i], now()));

        let admitted = results.iter().filter(|r| r.is_ok()).count();
        let full = results.iter().filter(|r| matches!(r, Err(EventError::Full))).count();
        assert_eq!((admitted, full), (CAPACITY, RACERS - CAPACITY), "{results:?}");
        assert_eq!(get(db, event.id).unwrap().attendees_count, CAPACITY as i64);
        assert_eq!(EventRepository::attendees(db, event.id, Page::default()).unwrap().len(), CAPACITY);
    }

    fn deleting_an_event_removes_its_attendances(db: &Database) {
        let organizer = insert_user(db, "organizer", None).id;
        let ann = insert_user(db, "ann", None).id;
        let gone = insert_event(db, "Gone", organizer, june(1, 18));
        let kept = insert_event(db, "Kept", organizer, june(2, 18));
        for event in [gone.id, kept.id] {
            EventRepository::attend(db, event, ann, now()).unwrap();
        }

        EventRepository::delete(db, gone.id).unwrap();

        assert_eq!(get(db, gone.id), None);
        assert!(matches!(EventRepository::delete(db, gone.id), Err(EventError::NotFound)));
        assert!(matches!(
            EventRepository::attendees(db, gone.id, Page::default()),
            Err(EventError::NotFound)
        ));
        assert_eq!(get(db, kept.id).unwrap().attendees_count, 1);
        // A new event never inherits the old one's attendances.
        let fresh = insert_event(db, "Gone", organizer, june(1, 18));
        assert_eq!(fresh.attendees_count, 0);
        assert!(EventRepository::attendees(db, fresh.id, Page::default()).unwrap().is_empty());
    }

    fn deleting_a_user_removes_their_events_and_attendances(db: &Database) {
        let organizer = insert_user(db, "organizer", None).id;
        let ann = insert_user(db, "ann", None).id;
        let bob = insert_user(db, "bob", None).id;
        let anns = insert_event(db, "Ann's party", ann, june(1, 18));
        let other = insert_event(db, "Meetup", organizer, june(2, 18));
        for user in [ann, bob] {
            EventRepository::attend(db, anns.id, user, now()).unwrap();
            EventRepository::attend(db, other.id, user, now()).unwrap();
        }

        UserRepository::delete(db, ann).unwrap();

        assert_eq!(get(db, anns.id), None);
        assert_eq!(
            listed(db, Page::default(), &EventFilter::default()),
            ["Meetup"]
        );
        let left = EventRepository::attendees(db, other.id, Page::default()).unwrap();
        assert_eq!(left.iter().map(|a| a.user_id).collect::<Vec<_>>(), [bob]);
        assert_eq!(get(db, other.id).unwrap().attendees_count, 1);
        // Ann's title is free again.
        insert_event(db, "ANN'S PARTY", bob, june(3, 18));
    }
}
