//! `OneTimeValueStore` for both backends. SQLite keeps a value's digest as
//! the text it is given; PostgreSQL keeps the first 16 bytes of that text's
//! SHA-256 as a uuid (see the migration `…_one_time_value_uuid_digest`).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_lc_rs::digest;
use uuid::Uuid;

use super::postgres::PostgresStore;
use super::sqlite::SqliteStore;
use super::{OneTimeValueStore, StorageError};

// Keyed by expiry and digest: a value past its expiry is refused before it
// gets here, so one that is found is a replay.
const ON_CONFLICT: &str =
    "ON CONFLICT (expires_at, value_digest) DO NOTHING RETURNING value_digest";

/// One statement whatever the batch's size, so it is prepared once.
const POSTGRES_USE_ONCE: &str = "INSERT INTO used_one_time_values (expires_at, value_digest) \
     SELECT * FROM UNNEST($1::bigint[], $2::uuid[]) \
     ON CONFLICT (expires_at, value_digest) DO NOTHING RETURNING value_digest";

#[async_trait]
impl OneTimeValueStore for SqliteStore {
    async fn use_once(&self, values: &[(String, i64)]) -> Result<Vec<String>, StorageError> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let rows = super::rows::value_rows("sqlite", values.len(), 2);
        let sql =
            format!("INSERT INTO used_one_time_values (expires_at, value_digest) VALUES {rows} {ON_CONFLICT}");
        let query = || {
            let mut query = sqlx::query_scalar(&sql);
            for (digest, expires_at) in values {
                query = query.bind(*expires_at).bind(digest);
            }
            query
        };
        Ok(self.fetch_one_time(query).await?)
    }
}

#[async_trait]
impl OneTimeValueStore for PostgresStore {
    async fn use_once(&self, values: &[(String, i64)]) -> Result<Vec<String>, StorageError> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let mut expiries = Vec::with_capacity(values.len());
        let mut uuids = Vec::with_capacity(values.len());
        let mut digests = HashMap::with_capacity(values.len());
        for (digest, expires_at) in values {
            let uuid = as_uuid(digest);
            expiries.push(*expires_at);
            uuids.push(uuid);
            digests.insert(uuid, digest);
        }
        let query = || {
            sqlx::query_scalar(POSTGRES_USE_ONCE)
                .bind(&expiries)
                .bind(&uuids)
        };
        let fresh: Vec<Uuid> = self.fetch_one_time(query).await?;
        Ok(fresh
            .iter()
            .filter_map(|uuid| digests.get(uuid).map(|digest| (*digest).clone()))
            .collect())
    }
}

/// The first 16 bytes of the SHA-256 of `digest`.
fn as_uuid(digest: &str) -> Uuid {
    let hash = digest::digest(&digest::SHA256, digest.as_bytes());
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&hash.as_ref()[..16]);
    Uuid::from_bytes(bytes)
}
