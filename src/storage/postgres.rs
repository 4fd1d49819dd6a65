use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, Postgres};
use sqlx::query::QueryScalar;

use super::postgres_statistics;
use super::sole_connection::SoleConnection;
use super::sql::impl_sql_store;
use super::{InstantCredentialReads, InstantOneTimeValues, StorageError};
use crate::metrics::Counters;

pub struct PostgresStore {
    pool: PgPool,
    /// One-time values' writes: commits that do not wait for the WAL flush.
    one_time: SoleConnection,
    counters: Arc<Counters>,
    /// None: every read is a round trip anyway.
    instant_reads: Option<Arc<dyn InstantCredentialReads>>,
    instant_one_time: Option<Arc<dyn InstantOneTimeValues>>,
}

impl PostgresStore {
    pub async fn connect(url: &str, counters: Arc<Counters>) -> Result<Self, StorageError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await?;
        // A used jti lost to a crash of the database machine could be used
        // once more while its assertion lives (at most 6 minutes); waiting
        // for the flush instead would cost every assertion a disk write.
        let one_time = SoleConnection::new(options.options([("synchronous_commit", "off")]));
        Ok(Self {
            pool,
            one_time,
            counters,
            instant_reads: None,
            instant_one_time: None,
        })
    }

    /// Before serving: planner statistics where the credential reads need them.
    async fn warm_up(&self) -> Result<(), StorageError> {
        Ok(postgres_statistics::analyze_stale(&self.pool).await?)
    }

    /// Nothing beyond the migrations.
    async fn after_migrations(&self) -> Result<(), StorageError> {
        Ok(())
    }

    /// Every query goes through here, so the counter sees every round trip.
    fn pool(&self) -> &PgPool {
        Counters::bump(&self.counters.sql_queries);
        &self.pool
    }

    /// Writes of one-time values (see `one_time`).
    pub(super) async fn fetch_one_time<'q, O>(
        &self,
        query: impl Fn() -> QueryScalar<'q, Postgres, O, PgArguments>,
    ) -> Result<Vec<O>, sqlx::Error>
    where
        O: Send + Unpin,
        (O,): for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        Counters::bump(&self.counters.sql_queries);
        self.one_time.fetch_all(query).await
    }

    /// The purge of used one-time values: in the database itself.
    fn one_time_background_pool(&self) -> &PgPool {
        self.background_pool()
    }

    /// Background work (the change-log poller, purges): counted apart, so
    /// that the request counter shows only what requests do.
    fn background_pool(&self) -> &PgPool {
        Counters::bump(&self.counters.background_sql_queries);
        &self.pool
    }
}

impl_sql_store!(PostgresStore, "postgres", "./migrations/postgres");
