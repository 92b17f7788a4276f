use sesame_kernel::StorageError;

/// What can go wrong setting up or using the database.
#[derive(Debug, thiserror::Error)]
pub enum PersistenceError {
    /// The URL is neither `sqlite://PATH` nor `postgres://...`.
    #[error("unsupported database URL {0:?}: expected sqlite://PATH or postgres://...")]
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
