//! `OneTimeValueStore` for both backends. A value's digest is the base64url
//! text of its SHA-256; SQLite keeps that text, PostgreSQL the first 16
//! bytes as a uuid (see the migration `…_one_time_value_uuid_digest`).

use std::collections::HashMap;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
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
            let uuid = as_uuid(digest)?;
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

/// The first 16 bytes of a digest made by `one_time_values`.
fn as_uuid(digest: &str) -> Result<Uuid, StorageError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(digest)
        .ok()
        .and_then(|bytes| Uuid::from_slice(bytes.get(..16)?).ok());
    bytes.ok_or_else(|| {
        StorageError::Corrupt("a one-time value's digest is not a base64url SHA-256".into())
    })
}
