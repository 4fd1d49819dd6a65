#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    Conflict,
    #[error("the organisation's plan allows no more of these")]
    LimitReached,
    #[error("the database URL must start with sqlite: or postgres:")]
    UnsupportedUrl,
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("a stored row is malformed: {0}")]
    Corrupt(String),
    #[error("migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StorageError {
    fn from(err: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match &err {
            sqlx::Error::RowNotFound => StorageError::NotFound,
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation => StorageError::Conflict,
                ErrorKind::ForeignKeyViolation => StorageError::NotFound,
                _ => StorageError::Database(err),
            },
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StorageError::Unavailable(err),
            _ => StorageError::Database(err),
        }
    }
}
