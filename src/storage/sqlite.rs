use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::query::QueryScalar;
use sqlx::sqlite::{
    Sqlite, SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteSynchronous,
};

use super::sql::impl_sql_store;
use super::sqlite_one_time::SqliteOneTimeWrites;
use super::sqlite_one_time_file;
use super::sqlite_reads::SqliteReads;
use super::{InstantCredentialReads, InstantOneTimeValues, StorageError};
use crate::metrics::Counters;

pub struct SqliteStore {
    pool: SqlitePool,
    /// The used values' file (`sqlite_one_time_file`; in memory, the
    /// database itself): writes when the instant way cannot take them, on
    /// one connection whose commits do not wait for the disk, and the purge.
    one_time_pool: SqlitePool,
    /// The database file, when it is one (not in memory).
    file: Option<PathBuf>,
    counters: Arc<Counters>,
    instant_reads: Option<Arc<dyn InstantCredentialReads>>,
    instant_one_time: Option<Arc<dyn InstantOneTimeValues>>,
}

impl SqliteStore {
    pub async fn connect(url: &str, counters: Arc<Counters>) -> Result<Self, StorageError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL (SQLite's usual default, stated so a build option cannot
            // change it): a commit the API acknowledged survives a crash of
            // the process and of the machine.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        if let Some(dir) = Path::new(options.get_filename()).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StorageError::Unavailable(sqlx::Error::Io(e)))?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await?;
        let instant_reads = SqliteReads::of_file(options.get_filename(), counters.clone())
            .map(|reads| Arc::new(reads) as Arc<dyn InstantCredentialReads>);
        let is_file = instant_reads.is_some();
        let file = is_file.then(|| options.get_filename().to_owned());
        let once_file = file.as_deref().map(sqlite_one_time_file::path_beside);
        // NORMAL in WAL mode: a commit is safe from a crash of the process,
        // and one lost to a crash of the machine is a used jti that could be
        // used once more while its assertion lives (at most 6 minutes);
        // waiting for the disk instead would cost every assertion an fsync.
        // (A database in memory is one per connection pool: it keeps one.)
        let one_time_pool = match &once_file {
            Some(once_file) => {
                let once = SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(
                        options
                            .clone()
                            .filename(once_file)
                            .synchronous(SqliteSynchronous::Normal),
                    )
                    .await?;
                sqlite_one_time_file::create_table(&once).await?;
                once
            }
            None => pool.clone(),
        };
        let instant_one_time = once_file.map(|once_file| {
            let writes = SqliteOneTimeWrites::new(&once_file, counters.clone());
            Arc::new(writes) as Arc<dyn InstantOneTimeValues>
        });
        Ok(Self {
            pool,
            one_time_pool,
            file,
            counters,
            instant_reads,
            instant_one_time,
        })
    }

    /// Nothing to get ready: SQLite's planner takes the indexes without statistics.
    async fn warm_up(&self) -> Result<(), StorageError> {
        Ok(())
    }

    /// Values recorded in the main file before they had one of their own.
    async fn after_migrations(&self) -> Result<(), StorageError> {
        if let Some(file) = &self.file {
            sqlite_one_time_file::move_from_main(&self.one_time_pool, file).await?;
        }
        Ok(())
    }

    /// Every query goes through here, so the counter sees every round trip.
    fn pool(&self) -> &SqlitePool {
        Counters::bump(&self.counters.sql_queries);
        &self.pool
    }

    /// Writes of one-time values (see `one_time_pool`).
    pub(super) async fn fetch_one_time<'q>(
        &self,
        query: impl Fn() -> QueryScalar<'q, Sqlite, String, SqliteArguments<'q>>,
    ) -> Result<Vec<String>, sqlx::Error> {
        Counters::bump(&self.counters.sql_queries);
        query().fetch_all(&self.one_time_pool).await
    }

    /// The purge of used one-time values.
    fn one_time_background_pool(&self) -> &SqlitePool {
        Counters::bump(&self.counters.background_sql_queries);
        &self.one_time_pool
    }

    /// Background work (the change-log poller, purges): counted apart, so
    /// that the request counter shows only what requests do.
    fn background_pool(&self) -> &SqlitePool {
        Counters::bump(&self.counters.background_sql_queries);
        &self.pool
    }
}

impl_sql_store!(SqliteStore, "sqlite", "./migrations/sqlite");
