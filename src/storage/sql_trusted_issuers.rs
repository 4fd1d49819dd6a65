//! `TrustedIssuerStore` for both backends.

macro_rules! impl_trusted_issuer_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::TrustedIssuerStore for $store {
            async fn insert_trusted_issuer(
                &self,
                issuer: &$crate::domain::TrustedIssuer,
            ) -> Result<(), $crate::storage::StorageError> {
                let (jwks_uri, jwks) = $crate::storage::rows::issuer_key_columns(&issuer.keys);
                sqlx::query(
                    "INSERT INTO trusted_issuers (id, issuer, jwks_uri, jwks, audience, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&issuer.id)
                .bind(&issuer.issuer)
                .bind(jwks_uri)
                .bind(jwks)
                .bind(issuer.audience.as_deref())
                .bind(issuer.created_at)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn trusted_issuers(
                &self,
            ) -> Result<Vec<$crate::domain::TrustedIssuer>, $crate::storage::StorageError> {
                sqlx::query_as::<_, $crate::storage::rows::TrustedIssuerRow>(
                    "SELECT id, issuer, jwks_uri, jwks, audience, created_at \
                     FROM trusted_issuers ORDER BY created_at, id",
                )
                .fetch_all(self.background_pool())
                .await?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            async fn delete_trusted_issuer(
                &self,
                id: &str,
            ) -> Result<bool, $crate::storage::StorageError> {
                let deleted = sqlx::query("DELETE FROM trusted_issuers WHERE id = $1")
                    .bind(id)
                    .execute(self.pool())
                    .await?;
                Ok(deleted.rows_affected() == 1)
            }
        }
    };
}

pub(super) use impl_trusted_issuer_store;
