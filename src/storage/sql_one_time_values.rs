//! `OneTimeValueStore` for both backends.

macro_rules! impl_one_time_value_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::OneTimeValueStore for $store {
            async fn use_once(
                &self,
                values: &[(String, i64)],
                now: i64,
            ) -> Result<Vec<String>, $crate::storage::StorageError> {
                if values.is_empty() {
                    return Ok(Vec::new());
                }
                let rows = (0..values.len())
                    .map(|i| format!("(${}, ${})", 2 * i + 2, 2 * i + 3))
                    .collect::<Vec<_>>()
                    .join(", ");
                // A value whose entry has expired but is not purged yet is
                // taken over, which counts as its first use.
                let sql = format!(
                    "INSERT INTO used_one_time_values (value_digest, expires_at) VALUES {rows} \
                     ON CONFLICT (value_digest) DO UPDATE SET expires_at = excluded.expires_at \
                     WHERE used_one_time_values.expires_at <= $1 RETURNING value_digest"
                );
                let mut query = sqlx::query_scalar::<_, String>(&sql).bind(now);
                for (digest, expires_at) in values {
                    query = query.bind(digest).bind(*expires_at);
                }
                Ok(query.fetch_all(self.one_time_pool()).await?)
            }
        }
    };
}

pub(super) use impl_one_time_value_store;
