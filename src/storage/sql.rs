//! The queries, written once for both backends. Both SQLite and PostgreSQL
//! take `$n` placeholders, `RETURNING` and `ON CONFLICT`, so one text serves
//! both; a macro implements the traits on each concrete pool rather than
//! making the code generic over `sqlx::Database` (whose bounds pile up).

macro_rules! impl_sql_store {
    ($store:ty, $backend:literal, $migrations:literal) => {
        #[async_trait::async_trait]
        impl $crate::storage::Store for $store {
            async fn ping(&self) -> Result<(), $crate::storage::StorageError> {
                sqlx::query("SELECT 1").execute(self.pool()).await?;
                Ok(())
            }

            async fn migrate(&self) -> Result<(), $crate::storage::StorageError> {
                sqlx::migrate!($migrations).run(&self.pool).await?;
                Ok(())
            }

            fn backend(&self) -> &'static str {
                $backend
            }
        }

        #[async_trait::async_trait]
        impl $crate::storage::OrganisationStore for $store {
            async fn insert_organisation(
                &self,
                org: &$crate::domain::Organisation,
            ) -> Result<(), $crate::storage::StorageError> {
                sqlx::query(
                    "INSERT INTO organisations (id, name, plan, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(org.id.as_str())
                .bind(org.name.as_str())
                .bind(org.plan.as_str())
                .bind(org.created_at)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn get_organisation(
                &self,
                id: &$crate::domain::OrgId,
            ) -> Result<$crate::domain::Organisation, $crate::storage::StorageError> {
                sqlx::query_as::<_, $crate::storage::rows::OrganisationRow>(
                    "SELECT id, name, plan, created_at FROM organisations WHERE id = $1",
                )
                .bind(id.as_str())
                .fetch_one(self.pool())
                .await?
                .try_into()
            }

            async fn list_organisations(
                &self,
            ) -> Result<Vec<$crate::domain::Organisation>, $crate::storage::StorageError> {
                sqlx::query_as::<_, $crate::storage::rows::OrganisationRow>(
                    "SELECT id, name, plan, created_at FROM organisations ORDER BY created_at, id",
                )
                .fetch_all(self.pool())
                .await?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }
        }

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
                     created_at, updated_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(client.id.as_str())
                .bind(client.org_id.as_str())
                .bind(client.name.as_str())
                .bind(client.scopes.to_string())
                .bind($crate::storage::rows::join_audiences(&client.audiences))
                .bind(client.status.as_str())
                .bind(client.created_at)
                .bind(client.updated_at)
                .bind(client.expires_at)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO client_secrets (id, client_id, hash, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(client.id.as_str())
                .bind(&secret.phc)
                .bind(client.created_at)
                .bind(secret.expires_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn client_credentials(
                &self,
                id: &$crate::domain::ClientId,
                now: i64,
            ) -> Result<Option<$crate::domain::ClientCredentials>, $crate::storage::StorageError>
            {
                let row = sqlx::query_as::<_, $crate::storage::rows::ClientWithPlanRow>(
                    "SELECT c.id, c.org_id, c.name, c.scopes, c.audiences, c.status, \
                     c.created_at, c.updated_at, c.expires_at, o.plan \
                     FROM oauth_clients c JOIN organisations o ON o.id = c.org_id \
                     WHERE c.id = $1",
                )
                .bind(id.as_str())
                .fetch_optional(self.pool())
                .await?;
                let Some(row) = row else { return Ok(None) };
                let secret_hashes = sqlx::query_as::<_, $crate::storage::rows::SecretHashRow>(
                    "SELECT hash, expires_at FROM client_secrets \
                     WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2) \
                     ORDER BY created_at DESC",
                )
                .bind(id.as_str())
                .bind(now)
                .fetch_all(self.pool())
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
                Ok(Some($crate::domain::ClientCredentials {
                    plan: row.plan.parse().map_err(|e: $crate::domain::UnknownPlan| {
                        $crate::storage::StorageError::Corrupt(e.to_string())
                    })?,
                    client: row.client.try_into()?,
                    secret_hashes,
                }))
            }

            async fn list_clients(
                &self,
                org: Option<&$crate::domain::OrgId>,
            ) -> Result<Vec<$crate::domain::Client>, $crate::storage::StorageError> {
                sqlx::query_as::<_, $crate::storage::rows::ClientRow>(
                    "SELECT id, org_id, name, scopes, audiences, status, created_at, updated_at, \
                     expires_at FROM oauth_clients WHERE ($1 IS NULL OR org_id = $1) \
                     ORDER BY created_at, id",
                )
                .bind(org.map(|o| o.as_str()))
                .fetch_all(self.pool())
                .await?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }
        }
    };
}

pub(super) use impl_sql_store;
