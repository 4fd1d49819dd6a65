//! One PostgreSQL connection kept for a caller that runs one statement at a
//! time: the group commit of one-time values. A query through sqlx's pool
//! pings its connection when it takes it and again when it gives it back,
//! so a statement costs three round trips there and one here.

use std::time::Duration;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgRow, Postgres};
use sqlx::query::QueryScalar;
use sqlx::{Connection, FromRow};
use tokio::sync::Mutex;

/// As long as the pools wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct SoleConnection {
    options: PgConnectOptions,
    connection: Mutex<Option<PgConnection>>,
}

impl SoleConnection {
    /// Opens nothing until the first statement.
    pub fn new(options: PgConnectOptions) -> Self {
        Self {
            options,
            connection: Mutex::new(None),
        }
    }

    /// The rows of the statement that `query` makes. A connection that fails
    /// is closed. One that ran statements before may have been closed by the
    /// database (a restart) since, so the statement runs once more on a new
    /// connection; a repeat of one that had committed finds its values used,
    /// which refuses a request rather than letting a value through twice.
    pub async fn fetch_all<'q, O>(
        &self,
        query: impl Fn() -> QueryScalar<'q, Postgres, O, PgArguments>,
    ) -> Result<Vec<O>, sqlx::Error>
    where
        O: Send + Unpin,
        (O,): for<'r> FromRow<'r, PgRow>,
    {
        let mut held = self.connection.lock().await;
        if let Some(connection) = held.as_mut() {
            match query().fetch_all(&mut *connection).await {
                Ok(rows) => return Ok(rows),
                Err(error) => {
                    tracing::debug!(%error, "a one-time value statement failed; retrying on a new connection");
                    *held = None;
                }
            }
        }
        let opened =
            tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&self.options))
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)??;
        let connection = held.insert(opened);
        let rows = query().fetch_all(&mut *connection).await;
        if rows.is_err() {
            *held = None;
        }
        rows
    }
}
