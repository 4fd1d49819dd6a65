//! `RequestLogStore` for both backends (see sql.rs for why this is a macro).

use crate::domain::{OrgId, RequestRecord};

#[derive(sqlx::FromRow)]
pub(super) struct RequestRow {
    id: String,
    occurred_at: i64,
    credential_id: String,
    org_id: String,
    endpoint: String,
    code: String,
    resource_server: Option<String>,
    client_ip: Option<String>,
    request_id: String,
}

impl TryFrom<RequestRow> for RequestRecord {
    type Error = super::StorageError;

    fn try_from(row: RequestRow) -> Result<Self, Self::Error> {
        Ok(RequestRecord {
            id: row.id,
            occurred_at: row.occurred_at,
            credential_id: row.credential_id,
            org_id: OrgId::parse(&row.org_id)
                .map_err(|e| super::StorageError::Corrupt(format!("request log org id: {e}")))?,
            endpoint: RequestRecord::endpoint_of(&row.endpoint),
            code: row.code,
            resource_server: row.resource_server,
            client_ip: row.client_ip,
            request_id: row.request_id,
        })
    }
}

macro_rules! impl_request_log_store {
    ($store:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::storage::RequestLogStore for $store {
            async fn append_requests(
                &self,
                records: &[$crate::domain::RequestRecord],
            ) -> Result<(), $crate::storage::StorageError> {
                let mut tx = self.background_pool().begin().await?;
                for chunk in records.chunks($crate::storage::sql_usage::ROWS_PER_STATEMENT) {
                    let sql = format!(
                        "INSERT INTO request_log (id, occurred_at, credential_id, org_id, \
                         endpoint, code, resource_server, client_ip, request_id) VALUES {}",
                        $crate::storage::sql_usage::value_rows($backend, chunk.len(), 9)
                    );
                    let mut insert = sqlx::query(&sql);
                    for record in chunk {
                        insert = insert
                            .bind(&record.id)
                            .bind(record.occurred_at)
                            .bind(&record.credential_id)
                            .bind(record.org_id.as_str())
                            .bind(record.endpoint)
                            .bind(&record.code)
                            .bind(record.resource_server.as_deref())
                            .bind(record.client_ip.as_deref())
                            .bind(&record.request_id);
                    }
                    insert.execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn list_requests(
                &self,
                org: &$crate::domain::OrgId,
                credential: &str,
                query: &$crate::storage::RequestLogQuery,
            ) -> Result<Vec<$crate::domain::RequestRecord>, $crate::storage::StorageError> {
                // Newest first: the page after (t, id) holds what is older.
                let (before_time, before_id) = match &query.page.after {
                    Some((time, id)) => (*time, id.as_str()),
                    None => (i64::MAX, ""),
                };
                sqlx::query_as::<_, $crate::storage::sql_request_log::RequestRow>(
                    "SELECT id, occurred_at, credential_id, org_id, endpoint, code, \
                     resource_server, client_ip, request_id FROM request_log \
                     WHERE credential_id = $1 AND org_id = $2 \
                     AND (occurred_at < $3 OR (occurred_at = $3 AND id < $4)) \
                     AND ($5 = '' OR code = $5) \
                     AND occurred_at >= $6 AND occurred_at < $7 \
                     ORDER BY occurred_at DESC, id DESC LIMIT $8",
                )
                .bind(credential)
                .bind(org.as_str())
                .bind(before_time)
                .bind(before_id)
                .bind(query.code.as_deref().unwrap_or(""))
                .bind(query.since.unwrap_or(i64::MIN))
                .bind(query.until.unwrap_or(i64::MAX))
                .bind(query.page.limit)
                .fetch_all(self.pool())
                .await?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            async fn purge_requests(
                &self,
                before: i64,
            ) -> Result<u64, $crate::storage::StorageError> {
                let purged = sqlx::query("DELETE FROM request_log WHERE occurred_at < $1")
                    .bind(before)
                    .execute(self.background_pool())
                    .await?;
                Ok(purged.rows_affected())
            }
        }
    };
}

pub(super) use impl_request_log_store;
