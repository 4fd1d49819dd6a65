//! `OneTimeValueStore` for both backends. SQLite keeps a value's digest as
//! the text it is given; PostgreSQL keeps the first 16 bytes of that text's
//! SHA-256 as a uuid (see the migration `…_one_time_value_uuid_digest`).

use std::collections::HashSet;

use async_trait::async_trait;
use aws_lc_rs::digest;
use uuid::Uuid;

use super::postgres::PostgresStore;
use super::sqlite::SqliteStore;
use super::{OneTimeValueStore, StorageError};

/// The statement that records the values `$rows` gives. Keyed by expiry
/// and digest: a value past its expiry is refused before it gets here, so
/// one that is found is a replay.
macro_rules! use_once_sql {
    ($rows:literal) => {
        concat!(
            "INSERT INTO used_one_time_values (expires_at, value_digest) ",
            $rows,
            " ON CONFLICT (expires_at, value_digest) DO NOTHING RETURNING value_digest"
        )
    };
}

/// One statement whatever the batch's size, so it is prepared once.
const POSTGRES_USE_ONCE: &str = use_once_sql!("SELECT * FROM UNNEST($1::bigint[], $2::uuid[])");

#[async_trait]
impl OneTimeValueStore for SqliteStore {
    async fn use_once(&self, values: &[(String, i64)]) -> Result<Vec<bool>, StorageError> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let rows = super::rows::value_rows("sqlite", values.len(), 2);
        let sql = format!(use_once_sql!("VALUES {}"), rows);
        let query = || {
            let mut query = sqlx::query_scalar(&sql);
            for (digest, expires_at) in values {
                query = query.bind(*expires_at).bind(digest);
            }
            query
        };
        let fresh: HashSet<String> = self.fetch_one_time(query).await?.into_iter().collect();
        Ok(values
            .iter()
            .map(|(digest, _)| fresh.contains(digest))
            .collect())
    }
}

#[async_trait]
impl OneTimeValueStore for PostgresStore {
    async fn use_once(&self, values: &[(String, i64)]) -> Result<Vec<bool>, StorageError> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let expiries: Vec<i64> = values.iter().map(|(_, expires_at)| *expires_at).collect();
        let uuids: Vec<Uuid> = values.iter().map(|(digest, _)| as_uuid(digest)).collect();
        let query = || {
            sqlx::query_scalar(POSTGRES_USE_ONCE)
                .bind(&expiries)
                .bind(&uuids)
        };
        let fresh: HashSet<Uuid> = self.fetch_one_time(query).await?.into_iter().collect();
        Ok(uuids.iter().map(|uuid| fresh.contains(uuid)).collect())
    }
}

/// The first 16 bytes of the SHA-256 of `digest`.
fn as_uuid(digest: &str) -> Uuid {
    let hash = digest::digest(&digest::SHA256, digest.as_bytes());
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&hash.as_ref()[..16]);
    Uuid::from_bytes(bytes)
}
