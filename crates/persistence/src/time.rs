use chrono::NaiveDateTime;
use sesame_kernel::Timestamp;

/// Both backends keep `TIMESTAMP` without a zone: Sesame stores UTC.
pub(crate) fn to_db(at: Timestamp) -> NaiveDateTime {
    at.naive_utc()
}

pub(crate) fn from_db(at: NaiveDateTime) -> Timestamp {
    at.and_utc()
}
