//! `EmailStore` for both backends (see sql.rs for why this is a macro). The
//! queue works as the webhooks' does (sql_notifications.rs), with the same
//! lease and attempt statements.

macro_rules! impl_email_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::EmailStore for $store {
            async fn queue_emails(
                &self,
                emails: &[$crate::domain::EmailDelivery],
            ) -> Result<(), $crate::storage::StorageError> {
                let mut tx = self.pool().begin().await?;
                for email in emails {
                    $crate::storage::sql_email::insert_email!(&mut *tx, email)?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn due_email_deliveries(
                &self,
                now: i64,
                limit: i64,
            ) -> Result<Vec<$crate::domain::EmailDelivery>, $crate::storage::StorageError> {
                sqlx::query_as::<_, $crate::storage::rows::EmailDeliveryRow>(&format!(
                    "SELECT {} FROM email_deliveries WHERE state = 'pending' \
                     AND next_attempt_at <= $1 AND leased_until <= $1 \
                     ORDER BY next_attempt_at LIMIT $2",
                    $crate::storage::sql_email::EMAIL_COLUMNS
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(self.background_pool())
                .await?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            async fn lease_email_delivery(
                &self,
                id: &str,
                now: i64,
                until: i64,
            ) -> Result<bool, $crate::storage::StorageError> {
                let leased = sqlx::query($crate::storage::sql_notifications::lease_sql!(
                    "email_deliveries"
                ))
                .bind(id)
                .bind(now)
                .bind(until)
                .execute(self.background_pool())
                .await?;
                Ok(leased.rows_affected() == 1)
            }

            async fn record_email_attempt(
                &self,
                id: &str,
                attempt: &$crate::domain::DeliveryAttempt,
            ) -> Result<(), $crate::storage::StorageError> {
                sqlx::query($crate::storage::sql_notifications::record_attempt_sql!(
                    "email_deliveries"
                ))
                .bind(id)
                .bind(attempt.at)
                .bind(attempt.status)
                .bind(attempt.error.as_deref())
                .bind(attempt.state.as_str())
                .bind(attempt.next_attempt_at)
                .bind(attempt.delivered_at())
                .execute(self.background_pool())
                .await?;
                Ok(())
            }

            async fn count_emails_since(
                &self,
                org: &$crate::domain::OrgId,
                since: i64,
            ) -> Result<i64, $crate::storage::StorageError> {
                let (count,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM email_deliveries WHERE org_id = $1 AND created_at >= $2",
                )
                .bind(org.as_str())
                .bind(since)
                .fetch_one(self.pool())
                .await?;
                Ok(count)
            }

            async fn list_email_deliveries(
                &self,
                org: &$crate::domain::OrgId,
                state: Option<$crate::domain::DeliveryState>,
                page: &$crate::storage::PageRequest,
            ) -> Result<Vec<$crate::domain::EmailDelivery>, $crate::storage::StorageError> {
                let (after_created, after_id) = page.after_or_start();
                sqlx::query_as::<_, $crate::storage::rows::EmailDeliveryRow>(
                    &$crate::storage::sql_notifications::org_deliveries_page(
                        "email_deliveries",
                        $crate::storage::sql_email::EMAIL_COLUMNS,
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

pub(super) use impl_email_store;

/// Queues one email within the transaction `$tx`.
macro_rules! insert_email {
    ($tx:expr, $email:expr) => {{
        let e: &$crate::domain::EmailDelivery = $email;
        sqlx::query(
            "INSERT INTO email_deliveries (id, org_id, event_type, recipient, subject, body, \
             state, attempts, created_at, next_attempt_at, last_error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&e.id)
        .bind(e.org_id.as_str())
        .bind(&e.event_type)
        .bind(&e.recipient)
        .bind(&e.subject)
        .bind(&e.body)
        .bind(e.state.as_str())
        .bind(e.attempts)
        .bind(e.created_at)
        .bind(e.next_attempt_at)
        .bind(e.last_error.as_deref())
        .execute($tx)
        .await
    }};
}

pub(super) use insert_email;

pub(super) const EMAIL_COLUMNS: &str = "id, org_id, event_type, recipient, subject, body, \
    state, attempts, created_at, next_attempt_at, last_attempt_at, last_status, last_error, \
    delivered_at";
