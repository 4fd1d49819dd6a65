//! `ClientStore` for both backends (see sql.rs for why this is a macro).

/// A client's columns (of `oauth_clients c`), in `ClientRow`'s order.
macro_rules! client_columns {
    () => {
        "c.id, c.org_id, c.name, c.scopes, c.audiences, c.status, c.resource_server, \
         c.created_at, c.updated_at, c.expires_at, c.ip_allowlist, c.rate_limit_per_minute, \
         c.last_used_at, c.request_count, c.token_endpoint_auth_method, c.public_keys, \
         c.jwks_uri, c.dpop_bound_access_tokens, c.federated_subjects"
    };
}

pub(super) use client_columns;

macro_rules! impl_client_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::ClientStore for $store {
            async fn insert_client(
                &self,
                client: &$crate::domain::Client,
                secret: &$crate::domain::SecretHash,
            ) -> Result<(), $crate::storage::StorageError> {
                let mut tx = self.pool().begin().await?;
                sqlx::query(
                    "INSERT INTO oauth_clients (id, org_id, name, scopes, audiences, status, \
                     resource_server, created_at, updated_at, expires_at, ip_allowlist, \
                     rate_limit_per_minute, token_endpoint_auth_method, public_keys, jwks_uri, \
                     dpop_bound_access_tokens, federated_subjects) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                     $17)",
                )
                .bind(client.id.as_str())
                .bind(client.org_id.as_str())
                .bind(client.name.as_str())
                .bind(client.scopes.to_string())
                .bind($crate::storage::rows::join_audiences(&client.audiences))
                .bind(client.status.as_str())
                .bind(client.resource_server)
                .bind(client.created_at)
                .bind(client.updated_at)
                .bind(client.expires_at)
                .bind(client.ip_allowlist.to_string())
                .bind(client.rate_limit_per_minute.map(i64::from))
                .bind(client.auth_method.map(|m| m.as_str()))
                .bind(client.public_keys.to_stored())
                .bind(client.jwks_uri.as_deref())
                .bind(client.dpop_bound_access_tokens)
                .bind(client.federated_subjects.to_stored())
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO client_secrets (id, client_id, hash, origin, created_at, \
                     expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(client.id.as_str())
                .bind(&secret.phc)
                .bind(secret.origin.as_str())
                .bind(client.created_at)
                .bind(secret.expires_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn clients_credentials(
                &self,
                ids: &[$crate::domain::ClientId],
                now: i64,
            ) -> Result<Vec<$crate::domain::ClientCredentials>, $crate::storage::StorageError>
            {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let padded = $crate::storage::rows::padded_len(ids.len());
                let sql = $crate::storage::credential_queries::clients(padded);
                let mut query =
                    sqlx::query_as::<_, $crate::storage::rows::ClientSecretsRow>(&sql).bind(now);
                let last = ids[ids.len() - 1].as_str();
                for id in ids.iter().map(|id| id.as_str()).chain(std::iter::repeat(last)).take(padded) {
                    query = query.bind(id);
                }
                let rows = query.fetch_all(self.pool()).await?;
                $crate::storage::rows::clients_credentials(rows)
            }

            async fn list_clients(
                &self,
                org: Option<&$crate::domain::OrgId>,
                page: &$crate::storage::PageRequest,
            ) -> Result<Vec<$crate::domain::Client>, $crate::storage::StorageError> {
                let (after_created, after_id) = page.after_or_start();
                sqlx::query_as::<_, $crate::storage::rows::ClientRow>(
                    concat!(
                        "SELECT ",
                        $crate::storage::sql_clients::client_columns!(),
                        " FROM oauth_clients c WHERE ($1 IS NULL OR c.org_id = $1) \
                         AND (c.created_at > $2 OR (c.created_at = $2 AND c.id > $3)) \
                         ORDER BY c.created_at, c.id LIMIT $4"
                    ),
                )
                .bind(org.map(|o| o.as_str()))
                .bind(after_created)
                .bind(after_id)
                .bind(page.limit)
                .fetch_all(self.pool())
                .await?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            async fn get_client(
                &self,
                org: &$crate::domain::OrgId,
                id: &$crate::domain::ClientId,
            ) -> Result<$crate::domain::Client, $crate::storage::StorageError> {
                sqlx::query_as::<_, $crate::storage::rows::ClientRow>(
                    concat!(
                        "SELECT ",
                        $crate::storage::sql_clients::client_columns!(),
                        " FROM oauth_clients c WHERE c.id = $1 AND c.org_id = $2"
                    ),
                )
                .bind(id.as_str())
                .bind(org.as_str())
                .fetch_one(self.pool())
                .await?
                .try_into()
            }

            async fn update_client(
                &self,
                client: &$crate::domain::Client,
            ) -> Result<(), $crate::storage::StorageError> {
                let mut tx = self.pool().begin().await?;
                let updated = sqlx::query(
                    "UPDATE oauth_clients SET name = $1, scopes = $2, audiences = $3, \
                     resource_server = $4, expires_at = $5, ip_allowlist = $6, \
                     rate_limit_per_minute = $7, updated_at = $8, token_endpoint_auth_method = $9, \
                     public_keys = $10, jwks_uri = $11, dpop_bound_access_tokens = $12, \
                     federated_subjects = $13 WHERE id = $14 AND org_id = $15",
                )
                .bind(client.name.as_str())
                .bind(client.scopes.to_string())
                .bind($crate::storage::rows::join_audiences(&client.audiences))
                .bind(client.resource_server)
                .bind(client.expires_at)
                .bind(client.ip_allowlist.to_string())
                .bind(client.rate_limit_per_minute.map(i64::from))
                .bind(client.updated_at)
                .bind(client.auth_method.map(|m| m.as_str()))
                .bind(client.public_keys.to_stored())
                .bind(client.jwks_uri.as_deref())
                .bind(client.dpop_bound_access_tokens)
                .bind(client.federated_subjects.to_stored())
                .bind(client.id.as_str())
                .bind(client.org_id.as_str())
                .execute(&mut *tx)
                .await?;
                let change = $crate::domain::Change::Client(client.id.clone());
                $crate::storage::sql::finish_change!(tx, updated, &change, client.updated_at)
            }

            async fn rotate_client_secret(
                &self,
                id: &$crate::domain::ClientId,
                secret: &$crate::domain::SecretHash,
                old_until: i64,
                now: i64,
            ) -> Result<(), $crate::storage::StorageError> {
                let mut tx = self.pool().begin().await?;
                let touched = sqlx::query("UPDATE oauth_clients SET updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                if touched.rows_affected() == 0 {
                    return Err($crate::storage::StorageError::NotFound);
                }
                sqlx::query(
                    "UPDATE client_secrets SET expires_at = $1 \
                     WHERE client_id = $2 AND (expires_at IS NULL OR expires_at > $1)",
                )
                .bind(old_until)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
                let inserted = sqlx::query(
                    "INSERT INTO client_secrets (id, client_id, hash, origin, created_at, \
                     expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(id.as_str())
                .bind(&secret.phc)
                .bind(secret.origin.as_str())
                .bind(now)
                .bind(secret.expires_at)
                .execute(&mut *tx)
                .await?;
                let change = $crate::domain::Change::Client(id.clone());
                $crate::storage::sql::finish_change!(tx, inserted, &change, now)
            }

            async fn set_client_status(
                &self,
                id: &$crate::domain::ClientId,
                status: $crate::domain::ClientStatus,
                now: i64,
            ) -> Result<(), $crate::storage::StorageError> {
                let mut tx = self.pool().begin().await?;
                let updated = sqlx::query(
                    "UPDATE oauth_clients SET status = $1, updated_at = $2 WHERE id = $3",
                )
                .bind(status.as_str())
                .bind(now)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
                let change = $crate::domain::Change::Client(id.clone());
                $crate::storage::sql::finish_change!(tx, updated, &change, now)
            }

            async fn delete_client(
                &self,
                id: &$crate::domain::ClientId,
                now: i64,
            ) -> Result<(), $crate::storage::StorageError> {
                let mut tx = self.pool().begin().await?;
                let deleted = sqlx::query("DELETE FROM oauth_clients WHERE id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                let change = $crate::domain::Change::Client(id.clone());
                $crate::storage::sql::finish_change!(tx, deleted, &change, now)
            }
        }
    };
}

pub(super) use impl_client_store;
