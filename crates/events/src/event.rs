use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SubsecRound, Timelike, Utc};
use sesame_kernel::{is_storable, Timestamp, UserId};

use crate::FieldError;

/// The numeric identifier of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub i64);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its id.
    pub id: EventId,
    /// Its title, as the organizer wrote it.
    pub title: String,
    /// What it is about (may be empty).
    pub description: String,
    /// When it takes place.
    pub date: Timestamp,
    /// Where it takes place (may be empty).
    pub location: String,
    /// The account that created it.
    pub organizer_id: UserId,
    /// How many people may attend; `None` is unlimited.
    pub capacity: Option<i64>,
    /// How many people attend.
    pub attendees_count: i64,
}

impl Event {
    /// Whether `actor` may change or delete this event.
    pub fn may_be_changed_by(&self, actor: Actor) -> bool {
        actor.is_admin || actor.user_id == self.organizer_id
    }
}

/// Someone who attends an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    /// Their account id.
    pub user_id: UserId,
    /// Their username.
    pub username: String,
}

/// Who is asking: an authenticated account and whether it is an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// The caller's account.
    pub user_id: UserId,
    /// Whether the caller is an administrator (may change any event).
    pub is_admin: bool,
}

/// An event title: 1..=[`Title::MAX_CHARS`] characters once surrounding
/// whitespace is trimmed, not all invisible. Two titles that differ only in
/// case are the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    /// The longest title accepted.
    pub const MAX_CHARS: usize = 200;

    /// Checks `raw` against the title rules.
    ///
    /// # Errors
    /// A [`FieldError`] on `title` saying what is wrong.
    pub fn parse(raw: &str) -> Result<Title, FieldError> {
        let title = raw.trim();
        if sesame_kernel::is_blank(title) {
            return Err(FieldError::new("title", "The title may not be blank.").coded("blank"));
        }
        if title.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::new(
                "title",
                format!("The title may have at most {} characters.", Self::MAX_CHARS),
            )
            .coded("max_length")
            .param("max", Self::MAX_CHARS));
        }
        Ok(Title(title.to_owned()))
    }

    /// The title as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that uniqueness is decided on.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// An event about to be stored, already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Its title.
    pub title: Title,
    /// Its description.
    pub description: String,
    /// Its date.
    pub date: Timestamp,
    /// Its location.
    pub location: String,
    /// Its organizer.
    pub organizer_id: UserId,
    /// Its capacity (`None`: unlimited).
    pub capacity: Option<i64>,
}

/// Checked changes to an event; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventChanges {
    /// New title.
    pub title: Option<Title>,
    /// New description.
    pub description: Option<String>,
    /// New date.
    pub date: Option<Timestamp>,
    /// New location.
    pub location: Option<String>,
    /// New capacity (`Some(None)`: unlimited).
    pub capacity: Option<Option<i64>>,
}

impl EventChanges {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.date.is_none()
            && self.location.is_none()
            && self.capacity.is_none()
    }
}

/// A whole event as a client sends it (create, or replace with PUT).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventDraft {
    /// Wanted title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Date in ISO 8601 (see [`parse_date`]).
    pub date: String,
    /// Location.
    pub location: String,
    /// Capacity (`None`: unlimited).
    pub capacity: Option<i64>,
}

/// Some fields of an event as a client sends them (PATCH); `None` leaves a
/// field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventPatch {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New date in ISO 8601.
    pub date: Option<String>,
    /// New location.
    pub location: Option<String>,
    /// New capacity (`Some(None)`: unlimited).
    pub capacity: Option<Option<i64>>,
}

impl From<EventDraft> for EventPatch {
    fn from(draft: EventDraft) -> Self {
        EventPatch {
            title: Some(draft.title),
            description: Some(draft.description),
            date: Some(draft.date),
            location: Some(draft.location),
            capacity: Some(draft.capacity),
        }
    }
}

/// Which events a listing shows: dates within the bounds (both inclusive)
/// and titles containing a text, ignoring case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Earliest date shown.
    pub from: Option<Timestamp>,
    /// Latest date shown.
    pub to: Option<Timestamp>,
    /// Lower-cased text the title must contain.
    pub title_contains: Option<String>,
}

impl EventFilter {
    /// A filter from optional bounds and a search text (blank: no search).
    pub fn new(from: Option<Timestamp>, to: Option<Timestamp>, q: Option<&str>) -> Self {
        EventFilter {
            from,
            to,
            title_contains: q
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(str::to_lowercase),
        }
    }
}

/// The longest description accepted, in characters.
pub(crate) const MAX_DESCRIPTION_CHARS: usize = 5000;
/// The longest location accepted, in characters.
pub(crate) const MAX_LOCATION_CHARS: usize = 300;

/// Reads a date in ISO 8601: with an offset (`2024-03-14T12:00:00+01:00`,
/// `...Z`), or naive and taken as UTC (`2024-03-14T12:00:00`, `2024-03-14T12:00`,
/// `2024-03-14`). A space may stand for the `T`; fractions of a second are
/// kept to the microsecond. Years 1 to 9999 only.
pub fn parse_date(raw: &str) -> Option<Timestamp> {
    const WITH_OFFSET: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z"];
    const NAIVE: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"];
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 64 {
        return None;
    }
    let mut text = raw.replacen(' ', "T", 1);
    if text.ends_with(['Z', 'z']) {
        text.truncate(text.len() - 1);
        text.push_str("+00:00");
    }
    let date = WITH_OFFSET
        .iter()
        .find_map(|format| DateTime::parse_from_str(&text, format).ok())
        .map(|date| date.with_timezone(&Utc))
        .or_else(|| {
            NAIVE
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(&text, format).ok())
                .map(|naive| naive.and_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .ok()
                .and_then(|day| day.and_hms_opt(0, 0, 0))
                .map(|naive| naive.and_utc())
        })?;
    // chrono reads a second 60 (a leap second) at any minute; the databases
    // would store it apart (SQLite as written, PostgreSQL as the next minute).
    let leap_second = date.nanosecond() >= 1_000_000_000;
    (is_storable(date) && !leap_second).then(|| date.trunc_subsecs(6))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Timestamp {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn dates_naive_or_with_an_offset() {
        let noon = utc(2024, 3, 14, 12, 0, 0);
        for raw in [
            "2024-03-14T12:00:00",
            "2024-03-14T12:00",
            "2024-03-14 12:00:00",
            " 2024-03-14T12:00:00 ",
            "2024-03-14T12:00:00Z",
            "2024-03-14T12:00Z",
            "2024-03-14T12:00:00z",
            "2024-03-14T12:00:00+00:00",
            "2024-03-14T13:00:00+01:00",
            "2024-03-14T13:00:00+0100",
            "2024-03-14T13:00+01:00",
            "2024-03-14T07:30:00-04:30",
            "2024-03-14T12:00:00.000",
        ] {
            assert_eq!(parse_date(raw), Some(noon), "{raw}");
        }
        assert_eq!(parse_date("2024-03-14"), Some(utc(2024, 3, 14, 0, 0, 0)));
        assert_eq!(
            parse_date("2024-03-14T12:00:00.1234567Z"),
            Some(noon + chrono::Duration::microseconds(123_456))
        );
    }

    #[test]
    fn bad_dates() {
        for raw in [
            "",
            "   ",
            "tomorrow",
            "2024-13-01T00:00:00",
            "2024-02-30T00:00:00",
            "2024-03-14T12:34:60Z",
            "2024-03-14T12:34:60",
            "2024-03-14T12:34:60.5+01:00",
            "9999-12-31T23:59:60Z",
            "2024-03-14T25:00:00",
            "14/03/2024",
            "2024-03-14T12:00:00+25:00",
            "0000-01-01T00:00:00",
            "2024-03-14T12:00:00 extra",
            "1710417600",
        ] {
            assert_eq!(parse_date(raw), None, "{raw}");
        }
        assert_eq!(parse_date(&"9".repeat(100)), None);
    }

    #[test]
    fn titles() {
        assert_eq!(Title::parse("  Fête  ").unwrap().as_str(), "Fête");
        assert_eq!(Title::parse("Fête DU Code").unwrap().key(), "fête du code");
        assert!(Title::parse("   ").is_err());
        assert!(
            Title::parse("\u{200B}\u{2060}").is_err(),
            "a title that shows nothing"
        );
        assert!(Title::parse(&"é".repeat(200)).is_ok());
        assert!(Title::parse(&"é".repeat(201)).is_err());
    }

    #[test]
    fn filters_fold_the_search_text() {
        let filter = EventFilter::new(None, None, Some("  RUST Meetup "));
        assert_eq!(filter.title_contains.as_deref(), Some("rust meetup"));
        assert_eq!(
            EventFilter::new(None, None, Some("  ")).title_contains,
            None
        );
    }
}
