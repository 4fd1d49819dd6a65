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
                <$store>::after_migrations(self).await
            }

            async fn warm_up(&self) -> Result<(), $crate::storage::StorageError> {
                <$store>::warm_up(self).await
            }

            fn backend(&self) -> &'static str {
                $backend
            }

            fn pool_usage(&self) -> $crate::storage::PoolUsage {
                $crate::storage::PoolUsage {
                    size: self.pool.size(),
                    idle: self.pool.num_idle() as u32,
                    max: self.pool.options().get_max_connections(),
                }
            }

            fn instant_reads(
                &self,
            ) -> Option<std::sync::Arc<dyn $crate::storage::InstantCredentialReads>> {
                self.instant_reads.clone()
            }

            fn instant_one_time(
                &self,
            ) -> Option<std::sync::Arc<dyn $crate::storage::InstantOneTimeValues>> {
                self.instant_one_time.clone()
            }
        }

        #[async_trait::async_trait]
        impl $crate::storage::OrganisationStore for $store {
            async fn insert_organisation(
                &self,
                org: &$crate::domain::Organisation,
            ) -> Result<(), $crate::storage::StorageError> {
                sqlx::query(
                    "INSERT INTO organisations (id, name, plan, created_at, webhook_url, \
                     notification_email) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(org.id.as_str())
                .bind(org.name.as_str())
                .bind(org.plan.as_str())
                .bind(org.created_at)
                .bind(org.webhook_url.as_deref())
                .bind(org.notification_email.as_ref().map(|a| a.as_str()))
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn get_organisation(
                &self,
                id: &$crate::domain::OrgId,
            ) -> Result<$crate::domain::Organisation, $crate::storage::StorageError> {
                sqlx::query_as::<_, $crate::storage::rows::OrganisationRow>(
                    "SELECT id, name, plan, created_at, webhook_url, webhook_signing_nonce, \
                     notification_email FROM organisations WHERE id = $1",
                )
                .bind(id.as_str())
                .fetch_one(self.pool())
                .await?
                .try_into()
            }

            async fn list_organisations(
                &self,
                page: &$crate::storage::PageRequest,
            ) -> Result<Vec<$crate::domain::Organisation>, $crate::storage::StorageError> {
                let (after_created, after_id) = page.after_or_start();
                sqlx::query_as::<_, $crate::storage::rows::OrganisationRow>(
                    "SELECT id, name, plan, created_at, webhook_url, webhook_signing_nonce, \
                     notification_email FROM organisations \
                     WHERE created_at > $1 OR (created_at = $1 AND id > $2) \
                     ORDER BY created_at, id LIMIT $3",
                )
                .bind(after_created)
                .bind(after_id)
                .bind(page.limit)
                .fetch_all(self.pool())
                .await?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            async fn update_organisation(
                &self,
                org: &$crate::domain::Organisation,
                now: i64,
            ) -> Result<(), $crate::storage::StorageError> {
                let mut tx = self.pool().begin().await?;
                let updated = sqlx::query(
                    "UPDATE organisations SET name = $1, plan = $2, webhook_url = $3, \
                     webhook_signing_nonce = $5, notification_email = $6 WHERE id = $4",
                )
                .bind(org.name.as_str())
                .bind(org.plan.as_str())
                .bind(org.webhook_url.as_deref())
                .bind(org.id.as_str())
                .bind(org.webhook_signing_nonce.as_deref())
                .bind(org.notification_email.as_ref().map(|a| a.as_str()))
                .execute(&mut *tx)
                .await?;
                let change = $crate::domain::Change::Organisation(org.id.clone());
                $crate::storage::sql::finish_change!(tx, updated, &change, now)
            }
        }

        #[async_trait::async_trait]
        impl $crate::storage::RootCredentialStore for $store {
            async fn root_credential(
                &self,
            ) -> Result<Option<String>, $crate::storage::StorageError> {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT hash FROM root_credential WHERE id = 'root'")
                        .fetch_optional(self.pool())
                        .await?;
                Ok(row.map(|(hash,)| hash))
            }

            async fn insert_root_credential(
                &self,
                phc: &str,
                now: i64,
            ) -> Result<bool, $crate::storage::StorageError> {
                let inserted = sqlx::query(
                    "INSERT INTO root_credential (id, hash, created_at) VALUES ('root', $1, $2) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(phc)
                .bind(now)
                .execute(self.pool())
                .await?;
                Ok(inserted.rows_affected() == 1)
            }
        }

        $crate::storage::sql_clients::impl_client_store!($store);
        $crate::storage::sql_secret_hashes::impl_secret_hash_store!($store);
        $crate::storage::sql_changes::impl_change_stores!($store);
        $crate::storage::sql_api_keys::impl_api_key_store!($store);
        $crate::storage::sql_usage::impl_usage_store!($store, $backend);
        $crate::storage::sql_idempotency::impl_idempotency_store!($store);
        $crate::storage::sql_audit::impl_audit_store!($store, $backend);
        $crate::storage::sql_request_log::impl_request_log_store!($store);
        $crate::storage::sql_notifications::impl_notification_store!($store);
        $crate::storage::sql_email::impl_email_store!($store);
        $crate::storage::sql_people::impl_people_store!($store);
        $crate::storage::sql_trusted_issuers::impl_trusted_issuer_store!($store);
    };
}

pub(super) use impl_sql_store;

/// Appends a change to the log inside the transaction `tx` that makes it.
macro_rules! log_change {
    ($tx:expr, $change:expr, $now:expr) => {{
        let change: &$crate::domain::Change = $change;
        sqlx::query(
            "INSERT INTO change_log (kind, subject, expires_at, occurred_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(change.kind())
        .bind(change.subject())
        .bind(change.expires_at())
        .bind($now)
        .execute(&mut *$tx)
        .await
    }};
}

pub(super) use log_change;

/// After a row was changed in `tx`: `NotFound` when none was, else logs
/// `change` and commits.
macro_rules! finish_change {
    ($tx:ident, $result:expr, $change:expr, $now:expr) => {{
        if $result.rows_affected() == 0 {
            return Err($crate::storage::StorageError::NotFound);
        }
        $crate::storage::sql::log_change!($tx, $change, $now)?;
        $tx.commit().await?;
        Ok(())
    }};
}

pub(super) use finish_change;
