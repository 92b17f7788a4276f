/// A window into a list: `skip` items are passed over, at most `limit` are returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// How many items to pass over.
    pub skip: i64,
    /// How many items to return at most (1..=[`Page::MAX_LIMIT`]).
    pub limit: i64,
}

impl Page {
    /// The largest page a caller may ask for.
    pub const MAX_LIMIT: i64 = 100;

    /// A page from raw query values: missing values take their defaults
    /// (skip 0, limit 100), negative skips become 0 and limits are clamped to 1..=100.
    pub fn new(skip: Option<i64>, limit: Option<i64>) -> Self {
        Page {
            skip: skip.unwrap_or(0).max(0),
            limit: limit.unwrap_or(Self::MAX_LIMIT).clamp(1, Self::MAX_LIMIT),
        }
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::new(None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(
            Page::default(),
            Page {
                skip: 0,
                limit: 100
            }
        );
        assert_eq!(
            Page::new(Some(-5), Some(1000)),
            Page {
                skip: 0,
                limit: 100
            }
        );
        assert_eq!(Page::new(Some(7), Some(0)), Page { skip: 7, limit: 1 });
        assert_eq!(Page::new(Some(3), Some(20)), Page { skip: 3, limit: 20 });
    }
}
