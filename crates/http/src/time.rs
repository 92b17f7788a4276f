use chrono::SecondsFormat;
use sesame_kernel::Timestamp;

/// RFC 3339 in UTC with a `Z`, to the second: `2024-03-14T12:00:00Z`.
pub(crate) fn rfc3339(at: Timestamp) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}
