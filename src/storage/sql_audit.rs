//! `AuditStore` for both backends (see sql.rs for why this is a macro).

macro_rules! impl_audit_store {
    ($store:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::storage::AuditStore for $store {
            async fn append_audit_event(
                &self,
                event: &$crate::domain::AuditEvent,
            ) -> Result<(), $crate::storage::StorageError> {
                $crate::storage::sql_audit::insert_audit_event!(self.pool(), event)?;
                Ok(())
            }

            async fn append_audit_events(
                &self,
                events: &[$crate::domain::AuditEvent],
            ) -> Result<(), $crate::storage::StorageError> {
                // A statement for many rows: one for each cost a hand-off
                // to the connection and back per event (SQLite's sqlx thread).
                let mut tx = self.pool().begin().await?;
                for chunk in events.chunks($crate::storage::sql_audit::ROWS_PER_INSERT) {
                    let sql =
                        $crate::storage::sql_audit::insert_sql(&$crate::storage::rows::value_rows(
                            $backend,
                            chunk.len(),
                            $crate::storage::sql_audit::COLUMNS,
                        ));
                    let mut query = sqlx::query(&sql);
                    for event in chunk {
                        query = $crate::storage::sql_audit::bind_audit_event!(query, event);
                    }
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn list_audit_events(
                &self,
                org: &$crate::domain::OrgId,
                query: &$crate::storage::AuditQuery,
            ) -> Result<Vec<$crate::domain::AuditEvent>, $crate::storage::StorageError> {
                // Newest first: the page after (t, id) holds what is older.
                let (before_time, before_id) = match &query.page.after {
                    Some((time, id)) => (*time, id.as_str()),
                    None => (i64::MAX, ""),
                };
                sqlx::query_as::<_, $crate::storage::rows::AuditEventRow>(
                    "SELECT id, org_id, actor, action, target_type, target_id, occurred_at, \
                     source_ip, request_id, changes FROM audit_events WHERE org_id = $1 \
                     AND (occurred_at < $2 OR (occurred_at = $2 AND id < $3)) \
                     AND ($4 = '' OR action = $4) \
                     AND ($5 = '' OR target_id = $5) \
                     AND occurred_at >= $6 AND occurred_at < $7 \
                     ORDER BY occurred_at DESC, id DESC LIMIT $8",
                )
                .bind(org.as_str())
                .bind(before_time)
                .bind(before_id)
                .bind(query.action.as_deref().unwrap_or(""))
                .bind(query.target_id.as_deref().unwrap_or(""))
                .bind(query.since.unwrap_or(i64::MIN))
                .bind(query.until.unwrap_or(i64::MAX))
                .bind(query.page.limit)
                .fetch_all(self.pool())
                .await?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            async fn purge_audit_events(
                &self,
                before: i64,
            ) -> Result<u64, $crate::storage::StorageError> {
                let purged = sqlx::query("DELETE FROM audit_events WHERE occurred_at < $1")
                    .bind(before)
                    .execute(self.background_pool())
                    .await?;
                Ok(purged.rows_affected())
            }
        }
    };
}

pub(super) use impl_audit_store;

/// Appends `event` through `executor` (a pool or a transaction).
macro_rules! insert_audit_event {
    ($executor:expr, $event:expr) => {{
        let sql = $crate::storage::sql_audit::insert_sql(&format!(
            "({})",
            $crate::storage::rows::placeholders(1, $crate::storage::sql_audit::COLUMNS)
        ));
        let query = sqlx::query(&sql);
        $crate::storage::sql_audit::bind_audit_event!(query, $event)
            .execute($executor)
            .await
    }};
}

/// Binds an event's columns in the order `insert_sql` names them.
macro_rules! bind_audit_event {
    ($query:expr, $event:expr) => {{
        let event: &$crate::domain::AuditEvent = $event;
        $query
            .bind(event.id.as_str())
            .bind(event.org_id.as_ref().map(|o| o.as_str()))
            .bind(event.actor.as_str())
            .bind(event.action.as_str())
            .bind(event.target.as_ref().map(|t| t.kind.as_str()))
            .bind(event.target.as_ref().map(|t| t.id.as_str()))
            .bind(event.occurred_at)
            .bind(event.source_ip.as_deref())
            .bind(event.request_id.as_str())
            // Cannot fail: a map with string keys.
            .bind(serde_json::to_string(&event.changes).unwrap_or_default())
    }};
}

pub(super) use {bind_audit_event, insert_audit_event};

/// Events in one INSERT (see `rows::value_rows` for SQLite's parameters).
pub(super) const ROWS_PER_INSERT: usize = 64;
pub(super) const COLUMNS: usize = 10;

/// `INSERT INTO audit_events … VALUES ` and `values`, in the order
/// `bind_audit_event` binds.
pub(super) fn insert_sql(values: &str) -> String {
    format!(
        "INSERT INTO audit_events (id, org_id, actor, action, target_type, \
         target_id, occurred_at, source_ip, request_id, changes) VALUES {values}"
    )
}
