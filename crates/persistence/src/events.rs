use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use sesame_events::{
    Attendee, Event, EventChanges, EventError, EventFilter, EventId, EventRepository, NewEvent,
};
use sesame_kernel::{Page, StorageError, Timestamp, UserId};

use crate::database::Returned;
use crate::error::unique_violation;
use crate::schema::{event_attendees, events, users};
use crate::time::{from_db, to_db};
use crate::{Backend, Database, PersistenceError};

/// How many people attend the event of the row the outer query is on
/// (served by the primary key of `event_attendees`, which starts with `event_id`).
const ATTENDEES_COUNT: &str =
    "(SELECT COUNT(*) FROM event_attendees WHERE event_attendees.event_id = events.id)";

/// Pages that skip fewer events than this are read in one pass over the
/// `(date, id)` index; deeper ones choose their ids first (see `list`). Measured
/// on PostgreSQL with 10,000 events, the one pass is faster up to about 200.
const DIRECT_SKIP: i64 = 200;

fn attendees_count() -> diesel::expression::SqlLiteral<BigInt> {
    sql::<BigInt>(ATTENDEES_COUNT)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = events)]
struct EventRow {
    id: i64,
    title: String,
    description: String,
    date: chrono::NaiveDateTime,
    location: String,
    organizer_id: i64,
    capacity: Option<i64>,
}

impl EventRow {
    fn into_event(self, attendees_count: i64) -> Event {
        Event {
            id: EventId(self.id),
            title: self.title,
            description: self.description,
            date: from_db(self.date),
            location: self.location,
            organizer_id: UserId(self.organizer_id),
            capacity: self.capacity,
            attendees_count,
        }
    }
}

fn counted((row, count): (EventRow, i64)) -> Event {
    row.into_event(count)
}

#[derive(Insertable)]
#[diesel(table_name = events)]
struct NewEventRow<'a> {
    title: &'a str,
    title_key: String,
    description: &'a str,
    date: chrono::NaiveDateTime,
    location: &'a str,
    organizer_id: i64,
    capacity: Option<i64>,
}

#[derive(AsChangeset)]
#[diesel(table_name = events)]
struct EventChangeset<'a> {
    title: Option<&'a str>,
    title_key: Option<String>,
    description: Option<&'a str>,
    date: Option<chrono::NaiveDateTime>,
    location: Option<&'a str>,
    capacity: Option<Option<i64>>,
}

#[derive(Insertable)]
#[diesel(table_name = event_attendees)]
struct AttendanceRow {
    event_id: i64,
    user_id: i64,
    joined_at: chrono::NaiveDateTime,
}

/// What an attendance attempt found, inside its transaction.
enum Attendance {
    Unknown,
    Full,
    Attending((EventRow, i64)),
}

/// Maps a failed write: the only unique index of `events` is the title's.
fn write_error(error: PersistenceError) -> EventError {
    match unique_violation(&error) {
        Some(_) => EventError::TitleTaken,
        None => read_error(error),
    }
}

fn read_error(error: PersistenceError) -> EventError {
    EventError::Storage(StorageError::from(error))
}

fn found(rows_changed: usize) -> Result<(), EventError> {
    if rows_changed == 0 {
        Err(EventError::NotFound)
    } else {
        Ok(())
    }
}

/// Whether the title key contains a text, in each backend's words: the SQL
/// is `{this}` `text` `) > 0`. Not `LIKE '%text%'`, which both databases
/// match character by character from every position of the title: a search
/// of a few hundred characters over titles made to nearly match it cost
/// their product on every row (200 ms for 10,000 rows), and the search
/// takes no credentials. `instr` compares bytes with `memcmp` at each
/// position and `strpos` searches as Boyer-Moore-Horspool does, hundreds
/// of times faster on those titles.
fn title_key_position(backend: &Backend) -> &'static str {
    match backend {
        Backend::Sqlite(_) => "instr(events.title_key, ",
        Backend::Postgres(_) => "strpos(events.title_key, ",
    }
}

impl EventRepository for Database {
    fn insert(&self, event: &NewEvent) -> Result<Event, EventError> {
        let row = NewEventRow {
            title: event.title.as_str(),
            title_key: event.title.key(),
            description: &event.description,
            date: to_db(event.date),
            location: &event.location,
            organizer_id: event.organizer_id.0,
            capacity: event.capacity,
        };
        with_connection!(self, |conn| diesel::insert_into(events::table)
            .values(&row)
            .returning(EventRow::as_returning())
            .get_returned(conn))
        .map(|row| row.into_event(0))
        .map_err(write_error)
    }

    fn find(&self, id: EventId) -> Result<Option<Event>, EventError> {
        with_connection!(self, |conn| events::table
            .find(id.0)
            .select((EventRow::as_select(), attendees_count()))
            .first::<(EventRow, i64)>(conn)
            .optional())
        .map(|row| row.map(counted))
        .map_err(read_error)
    }

    fn list(&self, page: Page, filter: &EventFilter) -> Result<Vec<Event>, EventError> {
        let from = filter.from.map(to_db);
        let to = filter.to.map(to_db);
        let search = filter.title_contains.as_deref();
        // `query` with the filter's conditions.
        macro_rules! filtered {
            ($query:expr) => {{
                let mut query = $query;
                if let Some(from) = from {
                    query = query.filter(events::date.ge(from));
                }
                if let Some(to) = to {
                    query = query.filter(events::date.le(to));
                }
                if let Some(text) = search {
                    let contains = sql::<Bool>(title_key_position(&self.backend))
                        .bind::<Text, _>(text.to_owned())
                        .sql(") > 0");
                    query = query.filter(contains);
                }
                query
            }};
        }
        with_connection!(self, |conn| if page.skip < DIRECT_SKIP {
            // Shallow pages: rows straight off the `(date, id)` index.
            filtered!(events::table
                .select((EventRow::as_select(), attendees_count()))
                .order((events::date.asc(), events::id.asc()))
                .offset(page.skip)
                .limit(page.limit)
                .into_boxed())
            .load::<(EventRow, i64)>(conn)
        } else {
            // Deep pages: the ids are chosen by a subquery that reads only
            // the `(date, id)` index (index-only when no search text needs
            // the titles), so the skipped events are index entries, not rows
            // whose attendees are counted (PostgreSQL would rather sort the
            // whole table).
            let page_ids = filtered!(events::table
                .select(events::id)
                .order((events::date.asc(), events::id.asc()))
                .offset(page.skip)
                .limit(page.limit)
                .into_boxed());
            events::table
                .filter(events::id.eq_any(page_ids))
                .select((EventRow::as_select(), attendees_count()))
                .order((events::date.asc(), events::id.asc()))
                .load::<(EventRow, i64)>(conn)
        })
        .map(|rows| rows.into_iter().map(counted).collect())
        .map_err(read_error)
    }

    fn update(&self, id: EventId, changes: &EventChanges) -> Result<Event, EventError> {
        if changes.is_empty() {
            return self.find(id)?.ok_or(EventError::NotFound);
        }
        let changeset = EventChangeset {
            title: changes.title.as_ref().map(|t| t.as_str()),
            title_key: changes.title.as_ref().map(|t| t.key()),
            description: changes.description.as_deref(),
            date: changes.date.map(to_db),
            location: changes.location.as_deref(),
            capacity: changes.capacity,
        };
        in_transaction!(self, |conn| {
            let changed = diesel::update(events::table.find(id.0))
                .set(&changeset)
                .execute(conn)?;
            if changed == 0 {
                return Ok(None);
            }
            events::table
                .find(id.0)
                .select((EventRow::as_select(), attendees_count()))
                .first::<(EventRow, i64)>(conn)
                .optional()
        })
        .map_err(write_error)?
        .map(counted)
        .ok_or(EventError::NotFound)
    }

    fn delete(&self, id: EventId) -> Result<(), EventError> {
        in_transaction!(self, |conn| {
            diesel::delete(event_attendees::table.filter(event_attendees::event_id.eq(id.0)))
                .execute(conn)?;
            diesel::delete(events::table.find(id.0)).execute(conn)
        })
        .map_err(read_error)
        .and_then(found)
    }

    fn attend(&self, id: EventId, user: UserId, at: Timestamp) -> Result<Event, EventError> {
        let row = AttendanceRow {
            event_id: id.0,
            user_id: user.0,
            joined_at: to_db(at),
        };
        let outcome = in_transaction!(self, |conn| {
            // A no-op write locks the event's row until commit (SQLite's
            // immediate transaction already holds the write lock), so that
            // racing attendances count one after the other.
            let locked = diesel::update(events::table.find(id.0))
                .set(events::capacity.eq(events::capacity))
                .execute(conn)?;
            if locked == 0 {
                return Ok(Attendance::Unknown);
            }
            let already = event_attendees::table
                .find((id.0, user.0))
                .count()
                .get_result::<i64>(conn)?
                > 0;
            if !already {
                let capacity = events::table
                    .find(id.0)
                    .select(events::capacity)
                    .first::<Option<i64>>(conn)?;
                let attending = event_attendees::table
                    .filter(event_attendees::event_id.eq(id.0))
                    .count()
                    .get_result::<i64>(conn)?;
                if capacity.is_some_and(|capacity| attending >= capacity) {
                    return Ok(Attendance::Full);
                }
                diesel::insert_into(event_attendees::table)
                    .values(&row)
                    .execute(conn)?;
            }
            events::table
                .find(id.0)
                .select((EventRow::as_select(), attendees_count()))
                .first::<(EventRow, i64)>(conn)
                .map(Attendance::Attending)
        })
        .map_err(read_error)?;
        match outcome {
            Attendance::Unknown => Err(EventError::NotFound),
            Attendance::Full => Err(EventError::Full),
            Attendance::Attending(row) => Ok(counted(row)),
        }
    }

    fn leave(&self, id: EventId, user: UserId) -> Result<(), EventError> {
        let exists = in_transaction!(self, |conn| {
            diesel::delete(event_attendees::table.find((id.0, user.0))).execute(conn)?;
            events::table.find(id.0).count().get_result::<i64>(conn)
        })
        .map_err(read_error)?;
        found(usize::from(exists > 0))
    }

    fn attendees(&self, id: EventId, page: Page) -> Result<Vec<Attendee>, EventError> {
        // Both statements run on one connection; the macro's body is an
        // expression, so `?` would leave the function: chain instead.
        let rows = with_connection!(self, |conn| events::table
            .find(id.0)
            .count()
            .get_result::<i64>(conn)
            .and_then(|exists| {
                if exists == 0 {
                    return Ok(None);
                }
                event_attendees::table
                    .inner_join(users::table)
                    .filter(event_attendees::event_id.eq(id.0))
                    .order((event_attendees::joined_at.asc(), users::id.asc()))
                    .offset(page.skip)
                    .limit(page.limit)
                    .select((users::id, users::username))
                    .load::<(i64, String)>(conn)
                    .map(Some)
            }))
        .map_err(read_error)?
        .ok_or(EventError::NotFound)?;
        Ok(rows
            .into_iter()
            .map(|(user_id, username)| Attendee {
                user_id: UserId(user_id),
                username,
            })
            .collect())
    }
}
