//! `UsageStore` for both backends (see sql.rs for why this is a macro).

macro_rules! impl_usage_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::UsageStore for $store {
            async fn record_usage(
                &self,
                batch: &[$crate::storage::UsageCount],
            ) -> Result<(), $crate::storage::StorageError> {
                let mut tx = self.background_pool().begin().await?;
                for usage in batch {
                    sqlx::query(
                        "INSERT INTO usage_minutes (credential_id, minute, count, rate_limited_count) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (credential_id, minute) DO UPDATE SET \
                         count = usage_minutes.count + excluded.count, \
                         rate_limited_count = usage_minutes.rate_limited_count + excluded.rate_limited_count",
                    )
                    .bind(&usage.credential_id)
                    .bind(usage.minute)
                    .bind(usage.count)
                    .bind(usage.rate_limited)
                    .execute(&mut *tx)
                    .await?;
                    if usage.count == 0 {
                        continue;
                    }
                    let table = if usage.credential_id.starts_with("ak_") {
                        "api_keys"
                    } else {
                        "oauth_clients"
                    };
                    sqlx::query(&format!(
                        "UPDATE {table} SET request_count = request_count + $1, \
                         last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < $2 \
                         THEN $2 ELSE last_used_at END WHERE id = $3"
                    ))
                    .bind(usage.count)
                    .bind(usage.last_used_at)
                    .bind(&usage.credential_id)
                    .execute(&mut *tx)
                    .await?;
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
