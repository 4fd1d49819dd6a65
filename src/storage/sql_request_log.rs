//! `RequestLogStore` for both backends (see sql.rs for why this is a
//! macro). Entries are stored in batches: a row holds up to
//! `MAX_BATCH_ENTRIES` entries of one credential within one minute, as JSON
//! (migration 20261201000004), so a busy key costs a row a batch, not a row
//! a request. Appending is what the log costs, so each backend does it its
//! cheapest way (`RequestLogWrites`); lists read the newest batches of the
//! credential first (`Listing`), the same SQL on both.

use std::collections::BTreeMap;

use sqlx::{PgPool, SqlitePool};

use super::{RequestLogQuery, StorageError};
use crate::domain::{OrgId, RequestEntry, RequestRecord};

const NANOS: i64 = 1_000_000_000;
const MAX_BATCH_ENTRIES: usize = 1_000;
/// Rows of one SQLite insert: 8 parameters each, far under SQLite's limit.
const SQLITE_ROWS_PER_STATEMENT: usize = 256;
/// Batches a list reads at a time.
pub(super) const BATCHES_PER_READ: usize = 16;

/// `seconds` since the epoch in nanoseconds, saturated (the lists' bounds
/// run from `i64::MIN` to `i64::MAX`).
pub(super) fn nanos(seconds: i64) -> i64 {
    seconds.saturating_mul(NANOS)
}

/// An entry as a batch holds it: [nanoseconds after the batch's first
/// entry, endpoint, code, resource_server, client_ip, request_id]. Its
/// number (which tells apart entries of one nanosecond, see
/// `RequestRecord::id_of`) is the batch's number plus its place in it.
type StoredEntry<'a> = (
    i64,
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<String>,
    &'a str,
);
type ReadEntry = (i64, String, String, Option<String>, Option<String>, String);

/// One row: entries of one credential within one minute, oldest first.
pub(super) struct Batch<'a> {
    credential_id: &'a str,
    org_id: &'a str,
    first_ns: i64,
    last_ns: i64,
    batch_id: i64,
    entry_count: i32,
    codes: String,
    entries: String,
}

/// `entries` in batches, each with a random number, the oldest batches
/// first (SQLite's purge goes by the order of writing).
fn batches(entries: &[RequestEntry]) -> Vec<Batch<'_>> {
    let mut groups: BTreeMap<(&str, &str, i64), Vec<&RequestEntry>> = BTreeMap::new();
    for entry in entries {
        let minute = entry.occurred_at_ns.div_euclid(60 * NANOS);
        groups
            .entry((entry.credential_id.as_str(), entry.org_id.as_str(), minute))
            .or_default()
            .push(entry);
    }
    let mut batches = Vec::new();
    for ((credential_id, org_id, _), mut group) in groups {
        group.sort_by_key(|e| e.occurred_at_ns);
        for chunk in group.chunks(MAX_BATCH_ENTRIES) {
            let first_ns = chunk[0].occurred_at_ns;
            let stored: Vec<StoredEntry> = chunk
                .iter()
                .map(|e| {
                    let ip = e.client_ip.map(|ip| ip.to_string());
                    let rs = e.resource_server.as_deref();
                    let after = e.occurred_at_ns - first_ns;
                    (after, e.endpoint, e.code, rs, ip, e.request_id.as_str())
                })
                .collect();
            let mut codes: Vec<&str> = chunk.iter().map(|e| e.code).collect();
            codes.sort_unstable();
            codes.dedup();
            batches.push(Batch {
                credential_id,
                org_id,
                first_ns,
                last_ns: chunk[chunk.len() - 1].occurred_at_ns,
                batch_id: rand::random(),
                entry_count: chunk.len() as i32,
                codes: format!(",{},", codes.join(",")),
                entries: serde_json::to_string(&stored).expect("entries serialise"),
            });
        }
    }
    batches.sort_by_key(|b| b.first_ns);
    batches
}

/// How a backend appends entries and finds the old ones.
pub(super) trait RequestLogWrites {
    /// The statement that deletes the batches whose newest entry occurred
    /// before `$1` (nanoseconds), returning their `entry_count`s.
    fn purge_sql(&self) -> &'static str;

    async fn append(&self, entries: &[RequestEntry]) -> Result<(), StorageError>;
}

impl RequestLogWrites for SqlitePool {
    /// The batches before the first one that is not old, by rowid (the
    /// order they were written in): a range of the table, where a condition
    /// on the time alone would read all of it.
    fn purge_sql(&self) -> &'static str {
        "DELETE FROM request_log_batches WHERE rowid < COALESCE( \
         (SELECT rowid FROM request_log_batches WHERE last_ns >= $1 ORDER BY rowid LIMIT 1), \
         (SELECT MAX(rowid) + 1 FROM request_log_batches)) RETURNING entry_count"
    }

    /// Multi-row inserts in one transaction.
    async fn append(&self, entries: &[RequestEntry]) -> Result<(), StorageError> {
        let batches = batches(entries);
        let mut tx = self.begin().await?;
        for chunk in batches.chunks(SQLITE_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO request_log_batches (credential_id, org_id, first_ns, last_ns, \
                 batch_id, entry_count, codes, entries) VALUES {}",
                super::rows::value_rows("sqlite", chunk.len(), 8)
            );
            let mut insert = sqlx::query(&sql).persistent(false);
            for batch in chunk {
                insert = insert
                    .bind(batch.credential_id)
                    .bind(batch.org_id)
                    .bind(batch.first_ns)
                    .bind(batch.last_ns)
                    .bind(batch.batch_id)
                    .bind(batch.entry_count)
                    .bind(batch.codes.as_str())
                    .bind(batch.entries.as_str());
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
        "DELETE FROM request_log_batches WHERE last_ns < $1 RETURNING entry_count"
    }

    /// One statement over one array a column, whatever the batch's size.
    async fn append(&self, entries: &[RequestEntry]) -> Result<(), StorageError> {
        let batches = batches(entries);
        let column = |f: fn(&Batch) -> i64| batches.iter().map(f).collect::<Vec<_>>();
        let text = |f: for<'b> fn(&'b Batch) -> &'b str| batches.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO request_log_batches (credential_id, org_id, first_ns, last_ns, \
             batch_id, entry_count, codes, entries) SELECT * FROM UNNEST($1::text[], \
             $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::int[], $7::text[], \
             $8::text[])",
        )
        .bind(text(|b| b.credential_id))
        .bind(text(|b| b.org_id))
        .bind(column(|b| b.first_ns))
        .bind(column(|b| b.last_ns))
        .bind(column(|b| b.batch_id))
        .bind(batches.iter().map(|b| b.entry_count).collect::<Vec<_>>())
        .bind(text(|b| &b.codes))
        .bind(text(|b| &b.entries))
        .execute(self)
        .await?;
        Ok(())
    }
}

/// The batches of a credential that may hold entries of a page, newest
/// first: `$3`, `$4` are the (last_ns, batch_id) of the last batch read.
pub(super) const BATCHES_SQL: &str = "SELECT org_id, credential_id, first_ns, last_ns, batch_id, \
     entries \
     FROM request_log_batches WHERE credential_id = $1 AND org_id = $2 \
     AND (last_ns < $3 OR (last_ns = $3 AND batch_id < $4)) \
     AND first_ns <= $5 AND last_ns >= $6 AND first_ns < $7 \
     AND ($8 = '' OR codes LIKE '%,' || $8 || ',%') \
     ORDER BY last_ns DESC, batch_id DESC LIMIT $9";

#[derive(sqlx::FromRow)]
pub(super) struct BatchRow {
    org_id: String,
    credential_id: String,
    first_ns: i64,
    pub last_ns: i64,
    pub batch_id: i64,
    entries: String,
}

/// One page of a credential's entries, newest first, gathered from the
/// batches in the order `BATCHES_SQL` gives them. Batches of one minute
/// can overlap (two replicas, or two flushes), so a page is complete only
/// once the next batch's newest entry is older than its last entry.
pub(super) struct Listing<'q> {
    /// Only entries with this code, when given.
    code: Option<&'q str>,
    /// Entries strictly before this (time, number) position: the cursor.
    before: (i64, i64),
    since_ns: i64,
    until_ns: i64,
    limit: usize,
    found: Vec<((i64, i64), RequestRecord)>,
}

impl<'q> Listing<'q> {
    pub fn new(query: &'q RequestLogQuery) -> Self {
        let before = query
            .page
            .after
            .as_ref()
            .and_then(|(_, id)| RequestRecord::position_of(id))
            .unwrap_or((i64::MAX, i64::MAX));
        Self {
            code: query.code.as_deref(),
            before,
            since_ns: nanos(query.since.unwrap_or(i64::MIN)),
            until_ns: nanos(query.until.unwrap_or(i64::MAX)),
            limit: usize::try_from(query.page.limit).unwrap_or(0),
            found: Vec::new(),
        }
    }

    /// The parameters `$5` to `$8` of `BATCHES_SQL`.
    pub fn bounds(&self) -> (i64, i64, i64, &'q str) {
        let code = self.code.unwrap_or("");
        (self.before.0, self.since_ns, self.until_ns, code)
    }

    /// Whether a batch whose newest entry occurred at `last_ns` can still
    /// hold an entry of the page.
    pub fn wants(&self, last_ns: i64) -> bool {
        if self.found.len() < self.limit {
            return true;
        }
        // The page is full: only an entry newer than its oldest can enter.
        let oldest = self.found.last();
        oldest.is_some_and(|((oldest_ns, _), _)| last_ns >= *oldest_ns)
    }

    pub fn add(&mut self, row: BatchRow) -> Result<(), StorageError> {
        let corrupt = |what: String| StorageError::Corrupt(format!("request log batch: {what}"));
        let org_id = OrgId::parse(&row.org_id).map_err(|e| corrupt(e.to_string()))?;
        let entries: Vec<ReadEntry> =
            serde_json::from_str(&row.entries).map_err(|e| corrupt(e.to_string()))?;
        let code = self.code;
        for (place, (after_ns, endpoint, entry_code, rs, ip, request_id)) in
            entries.into_iter().enumerate()
        {
            let at_ns = row.first_ns.saturating_add(after_ns);
            let number = row.batch_id.wrapping_add(place as i64);
            let position = (at_ns, number);
            let wanted = position < self.before
                && (self.since_ns..self.until_ns).contains(&at_ns)
                && code.is_none_or(|c| c == entry_code);
            if !wanted {
                continue;
            }
            let record = RequestRecord {
                id: RequestRecord::id_of(at_ns, number),
                occurred_at: at_ns.div_euclid(NANOS),
                credential_id: row.credential_id.clone(),
                org_id: org_id.clone(),
                endpoint: RequestRecord::endpoint_of(&endpoint),
                code: entry_code,
                resource_server: rs,
                client_ip: ip,
                request_id,
            };
            self.found.push((position, record));
        }
        self.found
            .sort_unstable_by_key(|(position, _)| std::cmp::Reverse(*position));
        self.found.truncate(self.limit);
        Ok(())
    }

    pub fn page(self) -> Vec<RequestRecord> {
        self.found.into_iter().map(|(_, record)| record).collect()
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
                use $crate::storage::sql_request_log::{
                    BatchRow, Listing, BATCHES_PER_READ, BATCHES_SQL,
                };
                let mut listing = Listing::new(query);
                let mut read_after = (i64::MAX, i64::MAX);
                loop {
                    let (before_ns, since_ns, until_ns, code) = listing.bounds();
                    let rows = sqlx::query_as::<_, BatchRow>(BATCHES_SQL)
                        .bind(credential)
                        .bind(org.as_str())
                        .bind(read_after.0)
                        .bind(read_after.1)
                        .bind(before_ns)
                        .bind(since_ns)
                        .bind(until_ns)
                        .bind(code)
                        .bind(BATCHES_PER_READ as i64)
                        .fetch_all(self.pool())
                        .await?;
                    let more = rows.len() == BATCHES_PER_READ;
                    for row in rows {
                        if !listing.wants(row.last_ns) {
                            return Ok(listing.page());
                        }
                        read_after = (row.last_ns, row.batch_id);
                        listing.add(row)?;
                    }
                    if !more {
                        return Ok(listing.page());
                    }
                }
            }

            async fn purge_requests(
                &self,
                before: i64,
            ) -> Result<u64, $crate::storage::StorageError> {
                use $crate::storage::sql_request_log::RequestLogWrites;
                let pool = self.background_pool();
                let purged: Vec<i32> = sqlx::query_scalar(pool.purge_sql())
                    .bind($crate::storage::sql_request_log::nanos(before))
                    .fetch_all(pool)
                    .await?;
                Ok(purged.into_iter().map(|n| n.max(0) as u64).sum())
            }
        }
    };
}

pub(super) use impl_request_log_store;
