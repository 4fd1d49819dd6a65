//! `RequestLogStore` for both backends (see sql.rs for why this is a
//! macro). Appending is what the log costs, so each backend does it its
//! cheapest way (`RequestLogWrites`); the lists are the same SQL on both.

use sqlx::{PgPool, SqlitePool};

use super::StorageError;
use crate::domain::{OrgId, RequestEntry, RequestRecord};

/// Rows of one SQLite insert: 9 parameters each, far under SQLite's limit.
const SQLITE_ROWS_PER_STATEMENT: usize = 256;

#[derive(sqlx::FromRow)]
pub(super) struct RequestRow {
    occurred_at_ns: i64,
    random_id: i64,
    credential_id: String,
    org_id: String,
    endpoint: String,
    code: String,
    resource_server: Option<String>,
    client_ip: Option<String>,
    request_id: String,
}

impl TryFrom<RequestRow> for RequestRecord {
    type Error = StorageError;

    fn try_from(row: RequestRow) -> Result<Self, Self::Error> {
        Ok(RequestRecord {
            id: RequestRecord::id_of(row.occurred_at_ns, row.random_id),
            occurred_at: row.occurred_at_ns.div_euclid(NANOS),
            credential_id: row.credential_id,
            org_id: OrgId::parse(&row.org_id)
                .map_err(|e| StorageError::Corrupt(format!("request log org id: {e}")))?,
            endpoint: RequestRecord::endpoint_of(&row.endpoint),
            code: row.code,
            resource_server: row.resource_server,
            client_ip: row.client_ip,
            request_id: row.request_id,
        })
    }
}

const NANOS: i64 = 1_000_000_000;

/// `seconds` since the epoch in nanoseconds, saturated (the lists' bounds
/// run from `i64::MIN` to `i64::MAX`).
pub(super) fn nanos(seconds: i64) -> i64 {
    seconds.saturating_mul(NANOS)
}

/// How a backend appends entries and finds the old ones.
pub(super) trait RequestLogWrites {
    /// The statement that deletes what occurred before `$1` (nanoseconds).
    fn purge_sql(&self) -> &'static str;

    async fn append(&self, entries: &[RequestEntry]) -> Result<(), StorageError>;
}

impl RequestLogWrites for SqlitePool {
    /// The entries before the first one that is not old, by rowid (the
    /// order they were written in): a range of the table, where a condition
    /// on the time alone would read all of it.
    fn purge_sql(&self) -> &'static str {
        "DELETE FROM request_log WHERE rowid < COALESCE( \
         (SELECT rowid FROM request_log WHERE occurred_at_ns >= $1 ORDER BY rowid LIMIT 1), \
         (SELECT MAX(rowid) + 1 FROM request_log))"
    }

    /// Multi-row inserts in one transaction; a full chunk's statement stays
    /// prepared, the last one's is not kept.
    async fn append(&self, entries: &[RequestEntry]) -> Result<(), StorageError> {
        let mut tx = self.begin().await?;
        for chunk in entries.chunks(SQLITE_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO request_log (occurred_at_ns, random_id, credential_id, org_id, \
                 endpoint, code, resource_server, client_ip, request_id) VALUES {}",
                super::sql_usage::value_rows("sqlite", chunk.len(), 9)
            );
            let mut insert = sqlx::query(&sql).persistent(chunk.len() == SQLITE_ROWS_PER_STATEMENT);
            for entry in chunk {
                insert = insert
                    .bind(entry.occurred_at_ns)
                    .bind(rand::random::<i64>())
                    .bind(entry.credential_id.as_str())
                    .bind(entry.org_id.as_str())
                    .bind(entry.endpoint)
                    .bind(entry.code)
                    .bind(entry.resource_server.as_deref())
                    .bind(entry.client_ip.map(|ip| ip.to_string()))
                    .bind(entry.request_id.as_str());
            }
            insert.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl RequestLogWrites for PgPool {
    /// By the BRIN index on the time.
    fn purge_sql(&self) -> &'static str {
        "DELETE FROM request_log WHERE occurred_at_ns < $1"
    }

    /// One statement over one array a column, whatever the batch's size.
    async fn append(&self, entries: &[RequestEntry]) -> Result<(), StorageError> {
        let column = |f: fn(&RequestEntry) -> &str| entries.iter().map(f).collect::<Vec<_>>();
        let occurred_at_ns: Vec<i64> = entries.iter().map(|e| e.occurred_at_ns).collect();
        let random_ids: Vec<i64> = entries.iter().map(|_| rand::random()).collect();
        let resource_servers: Vec<Option<&str>> = entries
            .iter()
            .map(|e| e.resource_server.as_deref())
            .collect();
        let client_ips: Vec<Option<String>> = entries
            .iter()
            .map(|e| e.client_ip.map(|ip| ip.to_string()))
            .collect();
        sqlx::query(
            "INSERT INTO request_log (occurred_at_ns, random_id, credential_id, org_id, endpoint, \
             code, resource_server, client_ip, request_id) SELECT * FROM UNNEST($1::bigint[], \
             $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
             $8::text[], $9::text[])",
        )
        .bind(occurred_at_ns)
        .bind(random_ids)
        .bind(column(|e| &e.credential_id))
        .bind(column(|e| e.org_id.as_str()))
        .bind(column(|e| e.endpoint))
        .bind(column(|e| e.code))
        .bind(resource_servers)
        .bind(client_ips)
        .bind(column(|e| &e.request_id))
        .execute(self)
        .await?;
        Ok(())
    }
}

macro_rules! impl_request_log_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::RequestLogStore for $store {
            async fn append_requests(
                &self,
                entries: &[$crate::domain::RequestEntry],
            ) -> Result<(), $crate::storage::StorageError> {
                use $crate::storage::sql_request_log::RequestLogWrites;
                self.background_pool().append(entries).await
            }

            async fn list_requests(
                &self,
                org: &$crate::domain::OrgId,
                credential: &str,
                query: &$crate::storage::RequestLogQuery,
            ) -> Result<Vec<$crate::domain::RequestRecord>, $crate::storage::StorageError> {
                use $crate::storage::sql_request_log::nanos;
                // Newest first: the page after an entry holds what is older.
                let (before_ns, before_number) = query
                    .page
                    .after
                    .as_ref()
                    .and_then(|(_, id)| $crate::domain::RequestRecord::position_of(id))
                    .unwrap_or((i64::MAX, i64::MAX));
                sqlx::query_as::<_, $crate::storage::sql_request_log::RequestRow>(
                    "SELECT occurred_at_ns, random_id, credential_id, org_id, endpoint, code, \
                     resource_server, client_ip, request_id FROM request_log \
                     WHERE credential_id = $1 AND org_id = $2 \
                     AND (occurred_at_ns < $3 OR (occurred_at_ns = $3 AND random_id < $4)) \
                     AND ($5 = '' OR code = $5) \
                     AND occurred_at_ns >= $6 AND occurred_at_ns < $7 \
                     ORDER BY occurred_at_ns DESC, random_id DESC LIMIT $8",
                )
                .bind(credential)
                .bind(org.as_str())
                .bind(before_ns)
                .bind(before_number)
                .bind(query.code.as_deref().unwrap_or(""))
                .bind(nanos(query.since.unwrap_or(i64::MIN)))
                .bind(nanos(query.until.unwrap_or(i64::MAX)))
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
                use $crate::storage::sql_request_log::RequestLogWrites;
                let pool = self.background_pool();
                let purged = sqlx::query(pool.purge_sql())
                    .bind($crate::storage::sql_request_log::nanos(before))
                    .execute(pool)
                    .await?;
                Ok(purged.rows_affected())
            }
        }
    };
}

pub(super) use impl_request_log_store;
