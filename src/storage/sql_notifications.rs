//! `NotificationStore` for both backends (see sql.rs for why this is a macro).

macro_rules! impl_notification_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::NotificationStore for $store {
            async fn expiring_credentials(
                &self,
                now: i64,
                until: i64,
            ) -> Result<Vec<$crate::domain::ExpiringCredential>, $crate::storage::StorageError>
            {
                sqlx::query_as::<_, $crate::storage::rows::ExpiringCredentialRow>(
                    "SELECT 'api_key' AS kind, k.id, k.org_id, k.name, k.expires_at, o.name AS org_name, \
                     o.webhook_url, o.notification_email \
                     FROM api_keys k JOIN organisations o ON o.id = k.org_id \
                     LEFT JOIN expiry_warnings w ON w.credential_id = k.id AND w.expires_at = k.expires_at \
                     WHERE k.status = 'active' AND k.expires_at > $1 AND k.expires_at <= $2 \
                     AND w.credential_id IS NULL \
                     UNION ALL \
                     SELECT 'client' AS kind, c.id, c.org_id, c.name, c.expires_at, o.name AS org_name, \
                     o.webhook_url, o.notification_email \
                     FROM oauth_clients c JOIN organisations o ON o.id = c.org_id \
                     LEFT JOIN expiry_warnings w ON w.credential_id = c.id AND w.expires_at = c.expires_at \
                     WHERE c.status = 'active' AND c.expires_at > $1 AND c.expires_at <= $2 \
                     AND w.credential_id IS NULL",
                )
                .bind(now)
                .bind(until)
                .fetch_all(self.background_pool())
                .await?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            async fn claim_expiry_warning(
                &self,
                credential: &$crate::domain::ExpiringCredential,
                now: i64,
                event: &$crate::domain::AuditEvent,
                delivery: Option<&$crate::domain::WebhookDelivery>,
                emails: &[$crate::domain::EmailDelivery],
            ) -> Result<bool, $crate::storage::StorageError> {
                let mut tx = self.background_pool().begin().await?;
                // Updates only a claim on another expiry date: a changed date warns again.
                let claimed = sqlx::query(
                    "INSERT INTO expiry_warnings (credential_id, expires_at, warned_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (credential_id) DO UPDATE SET \
                     expires_at = excluded.expires_at, warned_at = excluded.warned_at \
                     WHERE expiry_warnings.expires_at <> excluded.expires_at",
                )
                .bind(&credential.id)
                .bind(credential.expires_at)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if claimed.rows_affected() == 0 {
                    return Ok(false);
                }
                $crate::storage::sql_audit::insert_audit_event!(&mut *tx, event)?;
                if let Some(d) = delivery {
                    sqlx::query(
                        "INSERT INTO webhook_deliveries (id, org_id, event_type, url, payload, \
                         state, attempts, created_at, next_attempt_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(&d.id)
                    .bind(d.org_id.as_str())
                    .bind(&d.event_type)
                    .bind(&d.url)
                    .bind(&d.payload)
                    .bind(d.state.as_str())
                    .bind(d.attempts)
                    .bind(d.created_at)
                    .bind(d.next_attempt_at)
                    .execute(&mut *tx)
                    .await?;
                }
                for email in emails {
                    $crate::storage::sql_email::insert_email!(&mut *tx, email)?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn due_webhook_deliveries(
                &self,
                now: i64,
                limit: i64,
            ) -> Result<Vec<$crate::domain::WebhookDelivery>, $crate::storage::StorageError> {
                sqlx::query_as::<_, $crate::storage::rows::WebhookDeliveryRow>(&format!(
                    "SELECT {} FROM webhook_deliveries WHERE state = 'pending' \
                     AND next_attempt_at <= $1 AND leased_until <= $1 \
                     ORDER BY next_attempt_at LIMIT $2",
                    $crate::storage::sql_notifications::DELIVERY_COLUMNS
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(self.background_pool())
                .await?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            async fn lease_webhook_delivery(
                &self,
                id: &str,
                now: i64,
                until: i64,
            ) -> Result<bool, $crate::storage::StorageError> {
                let leased = sqlx::query($crate::storage::sql_notifications::lease_sql!(
                    "webhook_deliveries"
                ))
                .bind(id)
                .bind(now)
                .bind(until)
                .execute(self.background_pool())
                .await?;
                Ok(leased.rows_affected() == 1)
            }

            async fn record_delivery_attempt(
                &self,
                id: &str,
                attempt: &$crate::domain::DeliveryAttempt,
            ) -> Result<(), $crate::storage::StorageError> {
                let delivered_at = attempt.delivered_at();
                sqlx::query($crate::storage::sql_notifications::record_attempt_sql!(
                    "webhook_deliveries"
                ))
                .bind(id)
                .bind(attempt.at)
                .bind(attempt.status)
                .bind(attempt.error.as_deref())
                .bind(attempt.state.as_str())
                .bind(attempt.next_attempt_at)
                .bind(delivered_at)
                .execute(self.background_pool())
                .await?;
                Ok(())
            }

            async fn list_webhook_deliveries(
                &self,
                org: &$crate::domain::OrgId,
                state: Option<$crate::domain::DeliveryState>,
                page: &$crate::storage::PageRequest,
            ) -> Result<Vec<$crate::domain::WebhookDelivery>, $crate::storage::StorageError> {
                let (after_created, after_id) = page.after_or_start();
                sqlx::query_as::<_, $crate::storage::rows::WebhookDeliveryRow>(
                    &$crate::storage::sql_notifications::org_deliveries_page(
                        "webhook_deliveries",
                        $crate::storage::sql_notifications::DELIVERY_COLUMNS,
                    ),
                )
                .bind(org.as_str())
                .bind(state.map_or("", |s| s.as_str()))
                .bind(after_created)
                .bind(after_id)
                .bind(page.limit)
                .fetch_all(self.pool())
                .await?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }
        }
    };
}

pub(super) use impl_notification_store;

/// A page of an organisation's deliveries from `table` (webhooks, emails):
/// binds org, state (or ''), and the created_at and id to start after, then
/// the page's size.
pub(super) fn org_deliveries_page(table: &str, columns: &str) -> String {
    format!(
        "SELECT {columns} FROM {table} WHERE org_id = $1 \
         AND ($2 = '' OR state = $2) \
         AND (created_at > $3 OR (created_at = $3 AND id > $4)) \
         ORDER BY created_at, id LIMIT $5"
    )
}

/// Holds a due delivery of `$table` for one node: binds id, now, until.
macro_rules! lease_sql {
    ($table:literal) => {
        concat!(
            "UPDATE ",
            $table,
            " SET leased_until = $3 WHERE id = $1 AND state = 'pending' AND leased_until <= $2"
        )
    };
}

pub(super) use lease_sql;

/// Records an attempt at a delivery of `$table` and releases its lease:
/// binds id, at, status, error, state, next attempt, delivered at.
macro_rules! record_attempt_sql {
    ($table:literal) => {
        concat!(
            "UPDATE ",
            $table,
            " SET attempts = attempts + 1, last_attempt_at = $2, last_status = $3, \
             last_error = $4, state = $5, next_attempt_at = $6, delivered_at = $7, \
             leased_until = 0 WHERE id = $1"
        )
    };
}

pub(super) use record_attempt_sql;

pub(super) const DELIVERY_COLUMNS: &str = "id, org_id, event_type, url, payload, state, \
    attempts, created_at, next_attempt_at, last_attempt_at, last_status, last_error, delivered_at";
