use sesame_kernel::StorageError;

/// What can go wrong setting up or using the database.
#[derive(Debug, thiserror::Error)]
pub enum PersistenceError {
    /// The URL is neither `sqlite://PATH` nor `postgres://...`: what it
    /// starts with (never its password), or what else is unsupported.
    #[error("unsupported database URL ({0}): expected sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// The database could not be reached or opened.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// No connection could be had from the pool.
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
}

impl PersistenceError {
    /// [`PersistenceError::UnsupportedUrl`] for `url`, naming only its
    /// scheme: a URL's password must not reach a log.
    pub(crate) fn unsupported_url(url: &str) -> Self {
        let scheme: String = url
            .split(':')
            .next()
            .unwrap_or_default()
            .chars()
            .take(32)
            .collect();
        PersistenceError::UnsupportedUrl(format!("scheme {scheme:?}"))
    }
}

impl From<PersistenceError> for StorageError {
    fn from(error: PersistenceError) -> Self {
        StorageError(error.to_string())
    }
}

/// Which unique index a write ran into, if that is why it failed.
pub(crate) fn unique_violation(error: &PersistenceError) -> Option<String> {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        PersistenceError::Query(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
            Some(format!(
                "{} {}",
                info.constraint_name().unwrap_or_default(),
                info.message()
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::Database;

    #[test]
    fn an_unsupported_url_is_named_by_its_scheme_only() {
        let error = Database::check_url("mysql://root:hunter2@db/sesame").unwrap_err();
        let said = error.to_string();
        assert!(!said.contains("hunter2"), "{said}");
        assert!(said.contains("\"mysql\""), "{said}");
    }
}
