//! `SecretHashStore` for both backends (see sql.rs for why this is a macro).

macro_rules! impl_secret_hash_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::SecretHashStore for $store {
            async fn replace_client_secret_hash(
                &self,
                client: &$crate::domain::ClientId,
                old: &str,
                new: &str,
            ) -> Result<bool, $crate::storage::StorageError> {
                let replaced = sqlx::query(
                    "UPDATE client_secrets SET hash = $1 WHERE client_id = $2 AND hash = $3",
                )
                .bind(new)
                .bind(client.as_str())
                .bind(old)
                .execute(self.pool())
                .await?;
                Ok(replaced.rows_affected() > 0)
            }

            async fn replace_api_key_hash(
                &self,
                key: &$crate::domain::ApiKeyId,
                old: &str,
                new: &str,
            ) -> Result<bool, $crate::storage::StorageError> {
                let replaced =
                    sqlx::query("UPDATE api_keys SET hash = $1 WHERE id = $2 AND hash = $3")
                        .bind(new)
                        .bind(key.as_str())
                        .bind(old)
                        .execute(self.pool())
                        .await?;
                Ok(replaced.rows_affected() > 0)
            }

            async fn digest_key_ids(
                &self,
            ) -> Result<Vec<(String, i64)>, $crate::storage::StorageError> {
                // The key id is characters 16 to 23 of `$hmac-sha256$k=<id>$<tag>`.
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT kid, COUNT(*) FROM ( \
                       SELECT substr(hash, 16, 8) AS kid FROM client_secrets \
                       WHERE hash LIKE '$hmac-sha256$k=%' \
                       UNION ALL \
                       SELECT substr(hash, 16, 8) AS kid FROM api_keys \
                       WHERE hash LIKE '$hmac-sha256$k=%' \
                     ) AS digests GROUP BY kid ORDER BY kid",
                )
                .fetch_all(self.background_pool())
                .await?;
                Ok(rows)
            }
        }
    };
}

pub(super) use impl_secret_hash_store;
