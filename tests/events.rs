//! Seed 001 (surface `events_messages`, FastAPI style), its event rows
//! walked in the document's order, then the events rows of API.md: changes
//! by the organizer or an admin, attendance and capacity, listing by date
//! with bounds and search, paging past 1,000 events. Black-box over HTTP, on
//! both backends.

mod common;

use std::thread;

use common::{Body, Reply, TestApp, PASSWORD};
use serde_json::{json, Value};

/// Registers through seed 001's `/register` and logs in through `/login`;
/// returns (user id, access token).
fn seed_user(app: &TestApp, username: &str) -> (i64, String) {
    let email = format!("{username}@example.com");
    let reply = app.post(
        "/register",
        None,
        json!({"username": username, "email": email, "password": PASSWORD}),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let id = reply.json["id"].as_i64().expect("an integer id");
    let login = app.post(
        "/login",
        None,
        json!({"email": email, "password": PASSWORD}),
    );
    assert_eq!(login.status, 200, "{}", login.text);
    (id, login.str("access_token"))
}

/// A valid event body.
fn event_body(title: &str, date: &str) -> Value {
    json!({
        "title": title,
        "description": format!("About {title}"),
        "date": date,
        "location": "Lyon",
    })
}

/// Creates an event; panics unless it answers 200.
fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let reply = app.post("/events/", Some(token), body);
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json
}

fn id_of(event: &Value) -> i64 {
    event["id"].as_i64().expect("an integer id")
}

fn list(reply: &Reply) -> &Vec<Value> {
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
        .json
        .as_array()
        .unwrap_or_else(|| panic!("a list: {}", reply.text))
}

fn titles(reply: &Reply) -> Vec<String> {
    list(reply)
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_owned())
        .collect()
}

/// The `(loc, type)` of each item of a FastAPI 422 answer.
fn validation(reply: &Reply) -> Vec<(Value, String)> {
    assert_eq!(reply.status, 422, "{}", reply.text);
    reply.json["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("a list of errors: {}", reply.text))
        .iter()
        .map(|item| {
            assert!(item["msg"].is_string(), "{item}");
            (
                item["loc"].clone(),
                item["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn detail(reply: &Reply) -> (u16, Value) {
    (reply.status, reply.json["detail"].clone())
}

backend_tests! {
    fn seed_001_event_walk(backend) {
        let app = TestApp::spawn(&backend);
        let (organizer, token) = seed_user(&app, "string");

        // Créer un événement: 200 with the event and its organizer.
        let body = json!({
            "title": "Conférence Rust",
            "description": "Une soirée de présentations",
            "date": "2024-03-14T18:00:00",
            "location": "Lyon",
        });
        let reply = app.post("/events/", Some(&token), body.clone());
        assert_eq!(reply.status, 200, "{}", reply.text);
        let id = id_of(&reply.json);
        assert_eq!(reply.json, json!({
            "id": id,
            "title": "Conférence Rust",
            "description": "Une soirée de présentations",
            "date": "2024-03-14T18:00:00Z",
            "location": "Lyon",
            "organizer_id": organizer,
            "capacity": null,
            "attendees_count": 0,
        }));
        let created = reply.json;

        // ... 400: an event with this title exists (in any case).
        for title in ["Conférence Rust", "CONFÉRENCE RUST"] {
            let taken = app.post("/events/", Some(&token), json!({
                "title": title, "description": "", "date": "2024-05-01T10:00:00", "location": "",
            }));
            assert_eq!(
                (taken.status, taken.json.clone()),
                (400, json!({"detail": "An event with this title already exists"})),
                "{title}"
            );
        }

        // ... 401: a missing or invalid JWT.
        let anonymous = app.post("/events/", None, body.clone());
        assert_eq!(detail(&anonymous), (401, json!("Not authenticated")));
        assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
        let forged = app.post("/events/", Some("not.a.token"), body.clone());
        assert_eq!(detail(&forged), (401, json!("Could not validate credentials")));

        // Récupérer tous les événements: public.
        let all = app.get("/events/", None);
        assert_eq!(list(&all), &vec![created.clone()]);

        // Récupérer un événement par ID: public; 404 when unknown.
        let one = app.get(&format!("/events/{id}"), None);
        assert_eq!((one.status, one.json.clone()), (200, created));
        let unknown = app.get("/events/987654", None);
        assert_eq!(detail(&unknown), (404, json!("Event not found")));

        // A token that was logged out no longer creates events.
        let logout = app.post("/auth/logout", Some(&token), json!({}));
        assert_eq!(logout.status, 200, "{}", logout.text);
        let revoked = app.post("/events/", Some(&token), event_body("After logout", "2024-05-01T10:00:00"));
        assert_eq!(revoked.status, 401, "{}", revoked.text);
    }

    fn bad_bodies_and_dates_get_fastapi_422(backend) {
        let app = TestApp::spawn(&backend);
        let (_, token) = seed_user(&app, "organizer");
        let post = |body: Value| app.post("/events/", Some(&token), body);

        let missing = post(json!({"description": "d", "location": "l"}));
        assert_eq!(validation(&missing), [
            (json!(["body", "title"]), "missing".to_owned()),
            (json!(["body", "date"]), "missing".to_owned()),
        ]);
        let bad_date = post(event_body("Bad date", "14/03/2024 18h"));
        assert_eq!(validation(&bad_date), [(json!(["body", "date"]), "value_error".to_owned())]);
        // A second 60 too: SQLite would keep it as written, PostgreSQL as the next minute.
        for impossible in ["2024-02-30T10:00:00", "2024-03-14T12:34:60Z"] {
            let impossible = post(event_body("Bad date", impossible));
            assert_eq!(validation(&impossible), [(json!(["body", "date"]), "value_error".to_owned())]);
        }
        let wrong_types = post(json!({"title": 12, "date": true, "capacity": "many"}));
        assert_eq!(validation(&wrong_types), [
            (json!(["body", "title"]), "string_type".to_owned()),
            (json!(["body", "date"]), "string_type".to_owned()),
            (json!(["body", "capacity"]), "int_type".to_owned()),
        ]);
        let too_long = post(json!({
            "title": "t".repeat(201),
            "description": "d".repeat(5001),
            "date": "2024-03-14T18:00:00",
            "location": "l".repeat(301),
            "capacity": 0,
        }));
        let fields: Vec<Value> = validation(&too_long).into_iter().map(|(loc, _)| loc).collect();
        assert_eq!(fields, [
            json!(["body", "title"]), json!(["body", "description"]),
            json!(["body", "location"]), json!(["body", "capacity"]),
        ]);
        assert_eq!(validation(&post(event_body("   ", "2024-03-14"))), [(json!(["body", "title"]), "value_error".to_owned())]);

        let malformed = app.request("POST", "/events/", Some(&token), Body::Raw("application/json", "{\"title\": ".into()));
        assert_eq!(validation(&malformed), [(json!(["body", 0]), "json_invalid".to_owned())]);
        let not_object = app.request("POST", "/events/", Some(&token), Body::Raw("application/json", "[1]".into()));
        assert_eq!(validation(&not_object), [(json!(["body"]), "model_attributes_type".to_owned())]);
        let huge = post(event_body(&"x".repeat(100), &"9".repeat(200_000)));
        assert_eq!(huge.status, 413, "{}", huge.text);

        // Limits are inclusive; dates with an offset are kept in UTC; description
        // and location may be left out; capacity may be a numeric string.
        let at_limits = create(&app, &token, json!({
            "title": "é".repeat(200),
            "description": "é".repeat(5000),
            "date": "2024-03-14T20:00:00+02:00",
            "location": "é".repeat(300),
            "capacity": 1,
        }));
        assert_eq!(at_limits["date"], "2024-03-14T18:00:00Z");
        let bare = create(&app, &token, json!({"title": "Bare", "date": "2024-03-14", "capacity": "12"}));
        assert_eq!((bare["description"].clone(), bare["location"].clone()), (json!(""), json!("")));
        assert_eq!((bare["date"].clone(), bare["capacity"].clone()), (json!("2024-03-14T00:00:00Z"), json!(12)));
        // Surrounding whitespace is not part of a title.
        let trimmed = create(&app, &token, event_body("  Padded  ", "2024-03-14T18:00:00.250Z"));
        assert_eq!(trimmed["title"], "Padded");
        assert_eq!(trimmed["date"], "2024-03-14T18:00:00.250Z");

        // Ids in the path are integers.
        let not_an_id = app.get("/events/abc", None);
        assert_eq!(validation(&not_an_id), [(json!(["path", "event_id"]), "int_parsing".to_owned())]);
        assert_eq!(app.get("/events/abc/attendees", None).status, 422);
    }

    fn only_the_organizer_or_an_admin_changes_or_deletes(backend) {
        let app = TestApp::spawn(&backend);
        let (organizer, owner) = seed_user(&app, "owner");
        let (_, other) = seed_user(&app, "other");
        let admin = app.admin_token("root");
        let mut body = event_body("Rust Meetup", "2024-06-01T18:00:00");
        body["capacity"] = json!(10);
        let event = create(&app, &owner, body);
        let path = format!("/events/{}", id_of(&event));

        // No token: 401. Someone else: 403, and nothing changed.
        for reply in [
            app.put(&path, None, event_body("Mine", "2024-06-01T18:00:00")),
            app.patch(&path, None, json!({"title": "Mine"})),
            app.delete(&path, None, json!({})),
        ] {
            assert_eq!(detail(&reply), (401, json!("Not authenticated")));
        }
        for reply in [
            app.put(&path, Some(&other), event_body("Mine", "2024-06-01T18:00:00")),
            app.patch(&path, Some(&other), json!({"title": "Mine"})),
            app.delete(&path, Some(&other), json!({})),
        ] {
            assert_eq!(reply.status, 403, "{}", reply.text);
            assert!(reply.json["detail"].is_string(), "{}", reply.text);
        }
        assert_eq!(app.get(&path, None).json, event);

        // PATCH by the organizer: only what is given.
        let patched = app.patch(&path, Some(&owner), json!({"location": "Paris", "date": "2024-07-01T09:30:00+02:00"}));
        assert_eq!(patched.status, 200, "{}", patched.text);
        let mut expected = event.clone();
        expected["location"] = json!("Paris");
        expected["date"] = json!("2024-07-01T07:30:00Z");
        assert_eq!(patched.json, expected);
        let unchanged = app.patch(&path, Some(&owner), json!({}));
        assert_eq!((unchanged.status, unchanged.json.clone()), (200, expected.clone()));
        let bad = app.patch(&path, Some(&owner), json!({"date": "soon", "capacity": -1}));
        assert_eq!(validation(&bad).len(), 2);

        // PUT by an admin replaces everything (capacity left out: unlimited);
        // the organizer stays.
        let replaced = app.put(&path, Some(&admin), json!({
            "title": "Rust Night", "description": "", "date": "2025-01-01T00:00:00", "location": "Online",
        }));
        assert_eq!(replaced.status, 200, "{}", replaced.text);
        assert_eq!(replaced.json, json!({
            "id": event["id"], "title": "Rust Night", "description": "", "date": "2025-01-01T00:00:00Z",
            "location": "Online", "organizer_id": organizer, "capacity": null, "attendees_count": 0,
        }));
        let incomplete = app.put(&path, Some(&owner), json!({"title": "No date"}));
        assert_eq!(validation(&incomplete), [(json!(["body", "date"]), "missing".to_owned())]);

        // A taken title is a 400, also on change; changing one's own case is fine.
        create(&app, &other, event_body("Go Meetup", "2024-06-02T18:00:00"));
        let taken = app.patch(&path, Some(&owner), json!({"title": "GO MEETUP"}));
        assert_eq!(detail(&taken), (400, json!("An event with this title already exists")));
        let recased = app.patch(&path, Some(&owner), json!({"title": "RUST NIGHT"}));
        assert_eq!(recased.json["title"], "RUST NIGHT");

        // Unknown events: 404 for those who may otherwise act.
        for reply in [
            app.put("/events/987654", Some(&admin), event_body("x", "2024-01-01")),
            app.patch("/events/987654", Some(&owner), json!({"title": "x"})),
            app.delete("/events/987654", Some(&owner), json!({})),
        ] {
            assert_eq!(detail(&reply), (404, json!("Event not found")));
        }

        // DELETE: 204 with no body, then 404.
        let deleted = app.delete(&path, Some(&owner), json!({}));
        assert_eq!((deleted.status, deleted.text.as_str()), (204, ""));
        assert_eq!(app.get(&path, None).status, 404);
        assert_eq!(app.delete(&path, Some(&owner), json!({})).status, 404);
        let by_admin = create(&app, &other, event_body("Admin deletes", "2024-06-03T18:00:00"));
        let gone = app.delete(&format!("/events/{}", id_of(&by_admin)), Some(&admin), json!({}));
        assert_eq!(gone.status, 204, "{}", gone.text);
    }

    fn attendance_is_idempotent_and_a_full_event_answers_409(backend) {
        let app = TestApp::spawn(&backend);
        let (ann_id, ann) = seed_user(&app, "ann");
        let (bob_id, bob) = seed_user(&app, "bob");
        let (_, cid) = seed_user(&app, "cid");
        let mut body = event_body("Small dinner", "2024-06-01T19:00:00");
        body["capacity"] = json!(2);
        let event = create(&app, &ann, body);
        let attendance = format!("/events/{}/attendance", id_of(&event));
        let attendees = format!("/events/{}/attendees", id_of(&event));

        let joined = app.post(&attendance, Some(&bob), json!({}));
        assert_eq!(joined.status, 200, "{}", joined.text);
        assert_eq!(joined.json["attendees_count"], 1);
        assert_eq!(joined.json["capacity"], 2);
        let again = app.request("POST", &attendance, Some(&bob), Body::None);
        assert_eq!((again.status, again.json["attendees_count"].clone()), (200, json!(1)));
        assert_eq!(app.post(&attendance, Some(&ann), json!({})).json["attendees_count"], 2);

        // Full: 409 for newcomers, 200 for those already in.
        let full = app.post(&attendance, Some(&cid), json!({}));
        assert_eq!(detail(&full), (409, json!("Event is full")));
        assert_eq!(app.post(&attendance, Some(&ann), json!({})).status, 200);

        // Attendees: public, in the order they joined, paged.
        let listed = app.get(&attendees, None);
        assert_eq!(list(&listed), &vec![
            json!({"id": bob_id, "username": "bob"}),
            json!({"id": ann_id, "username": "ann"}),
        ]);
        assert_eq!(list(&app.get(&format!("{attendees}?skip=1&limit=1"), None)), &vec![json!({"id": ann_id, "username": "ann"})]);
        assert_eq!(app.get(&format!("/events/{}", id_of(&event)), None).json["attendees_count"], 2);
        assert_eq!(app.get("/events/", None).json[0]["attendees_count"], 2);

        // Leaving: 204, twice; the freed place can be taken.
        let left = app.request("DELETE", &attendance, Some(&bob), Body::None);
        assert_eq!((left.status, left.text.as_str()), (204, ""));
        assert_eq!(app.request("DELETE", &attendance, Some(&bob), Body::None).status, 204);
        assert_eq!(app.post(&attendance, Some(&cid), json!({})).json["attendees_count"], 2);

        // A PATCH lifting the capacity lets everyone in.
        app.patch(&format!("/events/{}", id_of(&event)), Some(&ann), json!({"capacity": null}));
        assert_eq!(app.post(&attendance, Some(&bob), json!({})).json["attendees_count"], 3);

        // 401 without a token; 404 for unknown events.
        assert_eq!(app.post(&attendance, None, json!({})).status, 401);
        assert_eq!(app.request("DELETE", &attendance, None, Body::None).status, 401);
        for reply in [
            app.post("/events/987654/attendance", Some(&bob), json!({})),
            app.request("DELETE", "/events/987654/attendance", Some(&bob), Body::None),
            app.get("/events/987654/attendees", None),
        ] {
            assert_eq!(detail(&reply), (404, json!("Event not found")));
        }
    }

    fn deleting_a_user_or_an_event_leaves_nothing_behind(backend) {
        let app = TestApp::spawn(&backend);
        let (_, ann) = seed_user(&app, "ann");
        let (bob_id, bob) = seed_user(&app, "bob");
        let anns = create(&app, &ann, event_body("Ann's party", "2024-06-01T19:00:00"));
        let bobs = create(&app, &bob, event_body("Bob's talk", "2024-06-02T19:00:00"));
        for (event, token) in [(&anns, &bob), (&bobs, &ann), (&bobs, &bob)] {
            let reply = app.post(&format!("/events/{}/attendance", id_of(event)), Some(token), json!({}));
            assert_eq!(reply.status, 200, "{}", reply.text);
        }

        // Ann deletes her account (primary surface): her event goes, and
        // she no longer attends Bob's.
        let deleted = app.delete("/auth/users/me/", Some(&ann), json!({"current_password": PASSWORD}));
        assert_eq!(deleted.status, 204, "{}", deleted.text);
        assert_eq!(app.get(&format!("/events/{}", id_of(&anns)), None).status, 404);
        assert_eq!(titles(&app.get("/events/", None)), ["Bob's talk"]);
        let attendees = app.get(&format!("/events/{}/attendees", id_of(&bobs)), None);
        assert_eq!(list(&attendees), &vec![json!({"id": bob_id, "username": "bob"})]);
        assert_eq!(app.get(&format!("/events/{}", id_of(&bobs)), None).json["attendees_count"], 1);

        // Bob deletes his event; a new one with its title starts empty.
        let path = format!("/events/{}", id_of(&bobs));
        assert_eq!(app.delete(&path, Some(&bob), json!({})).status, 204);
        let again = create(&app, &bob, event_body("Bob's talk", "2024-06-02T19:00:00"));
        assert_eq!(again["attendees_count"], 0);
        let attendees = app.get(&format!("/events/{}/attendees", id_of(&again)), None);
        assert!(list(&attendees).is_empty());
    }

    fn listing_by_date_with_bounds_search_and_limits(backend) {
        let app = TestApp::spawn(&backend);
        let (_, token) = seed_user(&app, "organizer");
        for (title, date) in [
            ("Rust late", "2024-09-01T10:00:00"),
            ("Go early", "2024-01-01T10:00:00"),
            ("RUST middle", "2024-05-01T10:00:00"),
            ("Python middle", "2024-05-01T10:00:00"),
            ("100% Trust_fall", "2024-07-01T12:00:00+02:00"),
        ] {
            create(&app, &token, event_body(title, date));
        }
        let get = |query: &str| app.get(&format!("/events/{query}"), None);

        assert_eq!(titles(&get("")), ["Go early", "RUST middle", "Python middle", "100% Trust_fall", "Rust late"]);
        assert_eq!(titles(&get("?skip=1&limit=2")), ["RUST middle", "Python middle"]);
        assert!(titles(&get("?skip=5")).is_empty());
        // Bounds are inclusive and may be naive, carry an offset, or be a day.
        assert_eq!(titles(&get("?from=2024-05-01T10:00:00&to=2024-07-01T10:00:00Z")), ["RUST middle", "Python middle", "100% Trust_fall"]);
        assert_eq!(titles(&get("?from=2024-05-01T12:00:01%2B02:00")), ["100% Trust_fall", "Rust late"]);
        assert_eq!(titles(&get("?to=2024-05-01")), ["Go early"]);
        assert!(titles(&get("?from=2024-09-02&to=2024-01-01")).is_empty());
        // Search: title contains, ignoring case; wildcards are plain.
        assert_eq!(titles(&get("?q=rust")), ["RUST middle", "100% Trust_fall", "Rust late"]);
        assert_eq!(titles(&get("?q=MIDDLE&from=2024-05-01T10:00:00&limit=1")), ["RUST middle"]);
        assert_eq!(titles(&get("?q=0%25%20t")), ["100% Trust_fall"]);
        assert!(titles(&get("?q=r_st")).is_empty());
        assert_eq!(titles(&get("?q=")).len(), 5);
        // Longer than any title: nothing, on both backends (SQLite's LIKE
        // refuses a pattern of 50,000 bytes).
        let long = get(&format!("?q={}", "a".repeat(50_000)));
        assert_eq!(long.status, 200, "{}", long.text);
        assert!(titles(&long).is_empty());

        // Bad query values: FastAPI's 422, located in the query.
        assert_eq!(validation(&get("?from=yesterday")), [(json!(["query", "from"]), "value_error".to_owned())]);
        assert_eq!(validation(&get("?to=2024-13-01")), [(json!(["query", "to"]), "value_error".to_owned())]);
        assert_eq!(validation(&get("?skip=abc"))[0].0, json!(["query", "skip"]));
        assert_eq!(validation(&get("?limit=-1"))[0].0, json!(["query", "limit"]));
        // Every bad parameter at once, as FastAPI reports them.
        let locations: Vec<Value> = validation(&get("?skip=abc&from=yesterday")).into_iter().map(|(location, _)| location).collect();
        assert_eq!(locations, [json!(["query", "skip"]), json!(["query", "from"])]);
    }

    fn paging_stays_correct_past_1000_events(backend) {
        const EVENTS: usize = 1_050;
        const THREADS: usize = 6;
        let app = TestApp::spawn(&backend);
        let (_, token) = seed_user(&app, "organizer");

        // Dates run backwards against creation order, and every tenth
        // event shares its date with the one before (then id decides).
        let date_of = |i: usize| {
            let hours = EVENTS - i + usize::from(i % 10 == 9);
            let day = hours / 24;
            format!("2030-{:02}-{:02}T{:02}:00:00", 1 + day / 28, 1 + day % 28, hours % 24)
        };
        thread::scope(|scope| {
            for t in 0..THREADS {
                let (app, token, date_of) = (&app, &token, &date_of);
                scope.spawn(move || {
                    // One connection per thread, always busy: a connection
                    // shared through a pool can sit idle past the server's
                    // keep-alive on a loaded machine, and be reset when reused.
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    let url = format!("{}/events/", app.base);
                    for i in (t..EVENTS).step_by(THREADS) {
                        let body = event_body(&format!("Event {i:04}"), &date_of(i));
                        let mut reply = agent
                            .post(&url)
                            .header("Authorization", &format!("Bearer {token}"))
                            .content_type("application/json")
                            .send(body.to_string())
                            .expect("Sesame answers");
                        let text = reply.body_mut().read_to_string().unwrap_or_default();
                        assert_eq!(reply.status().as_u16(), 200, "{text}");
                    }
                });
            }
        });

        // Every page of 100, in order: each event once, sorted by (date, id).
        let mut seen: Vec<(String, i64)> = Vec::new();
        loop {
            let page = app.get(&format!("/events/?skip={}&limit=100", seen.len()), None);
            let events = list(&page);
            assert!(events.len() <= 100);
            if events.is_empty() {
                break;
            }
            seen.extend(events.iter().map(|e| (e["date"].as_str().unwrap().to_owned(), id_of(e))));
        }
        assert_eq!(seen.len(), EVENTS);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "sorted by (date, id), no repeats");

        // A limit above 100 gives 100; past the end, the rest.
        assert_eq!(list(&app.get("/events/?limit=1000", None)).len(), 100);
        assert_eq!(list(&app.get("/events/?skip=1000", None)).len(), EVENTS - 1000);
        assert_eq!(list(&app.get("/events/?skip=1000&limit=100", None)).len(), 50);
        assert_eq!(list(&app.get(&format!("/events/?skip={EVENTS}"), None)).len(), 0);

        // Bounds over the large set: exactly the events between them, paged.
        let (from, to) = (&seen[200].0, &seen[1_019].0);
        let expected: Vec<&(String, i64)> = seen.iter().filter(|(d, _)| d >= from && d <= to).collect();
        let mut bounded = Vec::new();
        loop {
            let page = app.get(&format!("/events/?from={from}&to={to}&skip={}", bounded.len()), None);
            let events = list(&page);
            if events.is_empty() {
                break;
            }
            bounded.extend(events.iter().map(|e| (e["date"].as_str().unwrap().to_owned(), id_of(e))));
        }
        assert_eq!(bounded.iter().collect::<Vec<_>>(), expected);
        assert!(bounded.len() > 800);

        // Search over the large set.
        let search = app.get("/events/?q=event%2010", None);
        assert_eq!(list(&search).len(), 50, "Event 1000 to Event 1049");
    }
}
