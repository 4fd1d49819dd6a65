//! `UsageStore` for both backends (see sql.rs for why this is a macro).

pub(super) const ROWS_PER_STATEMENT: usize = 64;

/// The uses in `chunk` of API keys (`api_keys`) or of clients, summed per
/// credential: a flush can hold one credential in two minutes, and an
/// `UPDATE … FROM` whose source has two rows for one target applies only one.
pub(super) fn uses_by_credential(
    chunk: &[crate::storage::UsageCount],
    api_keys: bool,
) -> Vec<(&str, i64, i64)> {
    let mut uses: std::collections::BTreeMap<&str, (i64, i64)> = Default::default();
    for usage in chunk.iter().filter(|u| u.count > 0) {
        if usage.credential_id.starts_with("ak_") != api_keys {
            continue;
        }
        let (count, at) = uses.entry(usage.credential_id.as_str()).or_default();
        *count += usage.count;
        *at = (*at).max(usage.last_used_at);
    }
    uses.into_iter()
        .map(|(id, (count, at))| (id, count, at))
        .collect()
}

macro_rules! impl_usage_store {
    ($store:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::storage::UsageStore for $store {
            async fn record_usage(
                &self,
                batch: &[$crate::storage::UsageCount],
            ) -> Result<(), $crate::storage::StorageError> {
                // Multi-row statements: a flush with thousands of distinct
                // credentials is a few statements, not two per credential.
                let mut tx = self.background_pool().begin().await?;
                for chunk in batch.chunks($crate::storage::sql_usage::ROWS_PER_STATEMENT) {
                    let sql = format!(
                        "INSERT INTO usage_minutes (credential_id, minute, count, rate_limited_count) \
                         VALUES {} ON CONFLICT (credential_id, minute) DO UPDATE SET \
                         count = usage_minutes.count + excluded.count, \
                         rate_limited_count = usage_minutes.rate_limited_count + excluded.rate_limited_count",
                        $crate::storage::rows::value_rows($backend, chunk.len(), 4)
                    );
                    let mut insert = sqlx::query(&sql);
                    for usage in chunk {
                        insert = insert
                            .bind(&usage.credential_id)
                            .bind(usage.minute)
                            .bind(usage.count)
                            .bind(usage.rate_limited);
                    }
                    insert.execute(&mut *tx).await?;
                    for table in ["api_keys", "oauth_clients"] {
                        let used = $crate::storage::sql_usage::uses_by_credential(
                            chunk,
                            table == "api_keys",
                        );
                        if used.is_empty() {
                            continue;
                        }
                        let sql = format!(
                            "WITH used (id, n, at) AS (VALUES {}) \
                             UPDATE {table} SET request_count = request_count + used.n, \
                             last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < used.at \
                             THEN used.at ELSE last_used_at END FROM used WHERE {table}.id = used.id",
                            $crate::storage::rows::value_rows($backend, used.len(), 3)
                        );
                        let mut update = sqlx::query(&sql);
                        for (id, count, last_used_at) in used {
                            update = update.bind(id).bind(count).bind(last_used_at);
                        }
                        update.execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn usage_series(
                &self,
                credential_id: &str,
                from_minute: i64,
                to_minute: i64,
                bucket_minutes: i64,
            ) -> Result<Vec<$crate::storage::UsageBucket>, $crate::storage::StorageError> {
                Ok(sqlx::query_as::<_, (i64, i64, i64)>(
                    "SELECT (minute / $4) * $4 AS bucket, CAST(SUM(count) AS BIGINT), \
                     CAST(SUM(rate_limited_count) AS BIGINT) FROM usage_minutes \
                     WHERE credential_id = $1 AND minute >= $2 AND minute < $3 \
                     GROUP BY bucket ORDER BY bucket",
                )
                .bind(credential_id)
                .bind(from_minute)
                .bind(to_minute)
                .bind(bucket_minutes)
                .fetch_all(self.pool())
                .await?
                .into_iter()
                .map(|(bucket, count, rate_limited)| $crate::storage::UsageBucket {
                    minute: bucket,
                    count,
                    rate_limited,
                })
                .collect())
            }
        }
    };
}

pub(super) use impl_usage_store;
