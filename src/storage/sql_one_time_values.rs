//! `OneTimeValueStore` for both backends.

macro_rules! impl_one_time_value_store {
    ($store:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::storage::OneTimeValueStore for $store {
            async fn use_once(
                &self,
                values: &[(String, i64)],
            ) -> Result<Vec<String>, $crate::storage::StorageError> {
                if values.is_empty() {
                    return Ok(Vec::new());
                }
                let rows = $crate::storage::rows::value_rows($backend, values.len(), 2);
                // Keyed by expiry and digest: a value past its expiry is
                // refused before it gets here, so one that is found is a replay.
                let sql = format!(
                    "INSERT INTO used_one_time_values (expires_at, value_digest) VALUES {rows} \
                     ON CONFLICT (expires_at, value_digest) DO NOTHING RETURNING value_digest"
                );
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
    };
}

pub(super) use impl_one_time_value_store;
