//! `ApiKeyStore` for both backends (see sql.rs for why this is a macro).

/// Columns of `ApiKeyRow`, in its order.
macro_rules! api_key_columns {
    () => {
        "k.id, k.org_id, k.name, k.scopes, k.status, k.created_at, k.updated_at, \
         k.expires_at, k.rate_limit_per_minute, k.ip_allowlist, k.metadata, \
         k.last_used_at, k.request_count"
    };
}

pub(super) use api_key_columns;

macro_rules! impl_api_key_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::ApiKeyStore for $store {
            async fn insert_api_key(
                &self,
                key: &$crate::domain::ApiKey,
                phc: &str,
                max_keys: Option<u32>,
            ) -> Result<(), $crate::storage::StorageError> {
                let mut tx = self.pool().begin().await?;
                $crate::storage::sql_api_keys::require_room!(
                    tx, key.org_id.as_str(), "", key.created_at, max_keys
                );
                $crate::storage::sql_api_keys::insert_api_key_row!(tx, key, phc)?;
                tx.commit().await?;
                Ok(())
            }

            async fn api_keys_credentials(
                &self,
                ids: &[$crate::domain::ApiKeyId],
            ) -> Result<Vec<$crate::domain::ApiKeyCredentials>, $crate::storage::StorageError>
            {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let padded = $crate::storage::rows::padded_len(ids.len());
                let sql = $crate::storage::credential_queries::api_keys(padded);
                let mut query =
                    sqlx::query_as::<_, $crate::storage::rows::ApiKeyCredentialsRow>(&sql);
                let last = ids[ids.len() - 1].as_str();
                for id in ids.iter().map(|id| id.as_str()).chain(std::iter::repeat(last)).take(padded) {
                    query = query.bind(id);
                }
                let rows = query.fetch_all(self.pool()).await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn get_api_key(
                &self,
                org: &$crate::domain::OrgId,
                id: &$crate::domain::ApiKeyId,
            ) -> Result<$crate::domain::ApiKey, $crate::storage::StorageError> {
                sqlx::query_as::<_, $crate::storage::rows::ApiKeyRow>(concat!(
                    "SELECT ",
                    $crate::storage::sql_api_keys::api_key_columns!(),
                    " FROM api_keys k WHERE k.id = $1 AND k.org_id = $2"
                ))
                .bind(id.as_str())
                .bind(org.as_str())
                .fetch_one(self.pool())
                .await?
                .try_into()
            }

            async fn list_api_keys(
                &self,
                org: &$crate::domain::OrgId,
                query: &$crate::storage::ApiKeyQuery,
            ) -> Result<Vec<$crate::domain::ApiKey>, $crate::storage::StorageError> {
                let (after_created, after_id) = query.page.after_or_start();
                sqlx::query_as::<_, $crate::storage::rows::ApiKeyRow>(concat!(
                    "SELECT ",
                    $crate::storage::sql_api_keys::api_key_columns!(),
                    " FROM api_keys k WHERE k.org_id = $1 \
                     AND (k.created_at > $2 OR (k.created_at = $2 AND k.id > $3)) \
                     AND ($4 = '' \
                          OR ($4 = 'active' AND k.status = 'active' \
                              AND (k.expires_at IS NULL OR k.expires_at > $5)) \
                          OR ($4 = 'expired' AND k.status = 'active' AND k.expires_at <= $5) \
                          OR ($4 = 'deactivated' AND k.status = 'deactivated')) \
                     AND ($6 < 0 OR (k.expires_at > $5 AND k.expires_at <= $5 + $6)) \
                     ORDER BY k.created_at, k.id LIMIT $7"
                ))
                .bind(org.as_str())
                .bind(after_created)
                .bind(after_id)
                .bind(query.status.unwrap_or(""))
                .bind(query.now)
                .bind(query.expiring_within.unwrap_or(-1))
                .bind(query.page.limit)
                .fetch_all(self.pool())
                .await?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            async fn update_api_key(
                &self,
                key: &$crate::domain::ApiKey,
                room_under: Option<u32>,
            ) -> Result<(), $crate::storage::StorageError> {
                let mut tx = self.pool().begin().await?;
                if room_under.is_some() {
                    $crate::storage::sql_api_keys::require_room!(
                        tx, key.org_id.as_str(), key.id.as_str(), key.updated_at, room_under
                    );
                }
                let updated = sqlx::query(
                    "UPDATE api_keys SET name = $1, scopes = $2, status = $3, updated_at = $4, \
                     expires_at = $5, rate_limit_per_minute = $6, ip_allowlist = $7, \
                     metadata = $8 WHERE id = $9 AND org_id = $10",
                )
                .bind(key.name.as_str())
                .bind(key.scopes.to_string())
                .bind(key.status.as_str())
                .bind(key.updated_at)
                .bind(key.expires_at)
                .bind(key.rate_limit_per_minute.map(i64::from))
                .bind(key.ip_allowlist.to_string())
                .bind(serde_json::Value::Object(key.metadata.clone()).to_string())
                .bind(key.id.as_str())
                .bind(key.org_id.as_str())
                .execute(&mut *tx)
                .await?;
                let change = $crate::domain::Change::ApiKey(key.id.clone());
                $crate::storage::sql::finish_change!(tx, updated, &change, key.updated_at)
            }

            async fn roll_api_key(
                &self,
                old: &$crate::domain::ApiKey,
                new: &$crate::domain::ApiKey,
                phc: &str,
                room_under: Option<u32>,
            ) -> Result<(), $crate::storage::StorageError> {
                let mut tx = self.pool().begin().await?;
                $crate::storage::sql_api_keys::require_room!(
                    tx, old.org_id.as_str(), "", new.created_at, room_under
                );
                $crate::storage::sql_api_keys::insert_api_key_row!(tx, new, phc)?;
                let updated = sqlx::query(
                    "UPDATE api_keys SET expires_at = $1, updated_at = $2 WHERE id = $3 AND org_id = $4",
                )
                .bind(old.expires_at)
                .bind(old.updated_at)
                .bind(old.id.as_str())
                .bind(old.org_id.as_str())
                .execute(&mut *tx)
                .await?;
                let change = $crate::domain::Change::ApiKey(old.id.clone());
                $crate::storage::sql::finish_change!(tx, updated, &change, old.updated_at)
            }

            async fn delete_api_key(
                &self,
                org: &$crate::domain::OrgId,
                id: &$crate::domain::ApiKeyId,
                now: i64,
            ) -> Result<(), $crate::storage::StorageError> {
                let mut tx = self.pool().begin().await?;
                let deleted = sqlx::query("DELETE FROM api_keys WHERE id = $1 AND org_id = $2")
                    .bind(id.as_str())
                    .bind(org.as_str())
                    .execute(&mut *tx)
                    .await?;
                let change = $crate::domain::Change::ApiKey(id.clone());
                $crate::storage::sql::finish_change!(tx, deleted, &change, now)
            }
        }
    };
}

pub(super) use impl_api_key_store;

/// Inside the transaction `tx`: fails with `NotFound` without the
/// organisation `$org`, and with `LimitReached` when its usable (unexpired)
/// keys other than `$except` number `$room_under` or more. The
/// organisation's row lock (PostgreSQL) or the write lock (SQLite) is taken
/// first, so concurrent changes count in turn.
macro_rules! require_room {
    ($tx:ident, $org:expr, $except:expr, $now:expr, $room_under:expr) => {{
        let org: &str = $org;
        let locked = sqlx::query("UPDATE organisations SET name = name WHERE id = $1")
            .bind(org)
            .execute(&mut *$tx)
            .await?;
        if locked.rows_affected() == 0 {
            return Err($crate::storage::StorageError::NotFound);
        }
        if let Some(max) = $room_under {
            let (count,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM api_keys \
                 WHERE org_id = $1 AND id <> $2 AND (expires_at IS NULL OR expires_at > $3)",
            )
            .bind(org)
            .bind($except)
            .bind($now)
            .fetch_one(&mut *$tx)
            .await?;
            if count >= i64::from(max) {
                return Err($crate::storage::StorageError::LimitReached);
            }
        }
    }};
}

pub(super) use require_room;

/// Inserts one API key row with its hash inside the transaction `tx`.
macro_rules! insert_api_key_row {
    ($tx:ident, $key:expr, $phc:expr) => {{
        let key: &$crate::domain::ApiKey = $key;
        sqlx::query(
            "INSERT INTO api_keys (id, org_id, name, hash, scopes, status, created_at, \
                     updated_at, expires_at, rate_limit_per_minute, ip_allowlist, metadata) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(key.id.as_str())
        .bind(key.org_id.as_str())
        .bind(key.name.as_str())
        .bind($phc)
        .bind(key.scopes.to_string())
        .bind(key.status.as_str())
        .bind(key.created_at)
        .bind(key.updated_at)
        .bind(key.expires_at)
        .bind(key.rate_limit_per_minute.map(i64::from))
        .bind(key.ip_allowlist.to_string())
        .bind(serde_json::Value::Object(key.metadata.clone()).to_string())
        .execute(&mut *$tx)
        .await
    }};
}

pub(super) use insert_api_key_row;
