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

impl StorageError {
    /// The same kind of error, for each of several callers that one failed
    /// query answers; a database error's cause is kept as text.
    pub fn copy(&self) -> Self {
        let text = |e: &sqlx::Error| sqlx::Error::Protocol(e.to_string());
        match self {
            StorageError::NotFound => StorageError::NotFound,
            StorageError::Conflict => StorageError::Conflict,
            StorageError::LimitReached => StorageError::LimitReached,
            StorageError::UnsupportedUrl => StorageError::UnsupportedUrl,
            StorageError::Unavailable(e) => StorageError::Unavailable(text(e)),
            StorageError::Corrupt(what) => StorageError::Corrupt(what.clone()),
            StorageError::Migration(e) => StorageError::Corrupt(e.to_string()),
            StorageError::Database(e) => StorageError::Database(text(e)),
        }
    }
}

impl From<sqlx::Error> for StorageError {
    fn from(err: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match &err {
            sqlx::Error::RowNotFound => StorageError::NotFound,
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation => StorageError::Conflict,
                ErrorKind::ForeignKeyViolation => StorageError::NotFound,
                _ if db.code().is_some_and(|code| server_unavailable(&code)) => {
                    StorageError::Unavailable(err)
                }
                _ if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
                    && db.code().is_some_and(|code| sqlite_locked(&code)) =>
                {
                    StorageError::Unavailable(err)
                }
                _ => StorageError::Database(err),
            },
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StorageError::Unavailable(err),
            _ => StorageError::Database(err),
        }
    }
}

/// PostgreSQL codes of a server going away or refusing connections: class
/// 08 (connection exception), 53300 (too many connections) and 57P01–57P03
/// (shut down, crashed, cannot connect now).
fn server_unavailable(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "53300" | "57P01" | "57P02" | "57P03")
}

/// SQLite's SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended
/// codes: a lock held past the busy timeout, which a retry may get.
fn sqlite_locked(code: &str) -> bool {
    code.parse::<i32>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 6))
}
