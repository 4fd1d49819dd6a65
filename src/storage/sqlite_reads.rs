//! Credential reads on SQLite answered on the calling thread. sqlx runs each
//! SQLite query on its connection's own thread, and the hand-offs there and
//! back cost more than the indexed read itself; a credential's first
//! request on a node is the hot path of real traffic (tests/api/hot_path.rs),
//! so these two reads go straight to SQLite through rusqlite, on read-only
//! connections of the same WAL database. The database file is in
//! the page cache in any deployment that serves this traffic, so a read
//! takes microseconds; a read that cannot be answered at once (a busy
//! database, an error) is left to the async store.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, Row};

use super::credential_queries;
use super::rows::ClientWithPlanRow;
use super::rows::{self, ApiKeyCredentialsRow, ApiKeyRow, ClientRow, ClientSecretsRow};
use super::{InstantCredentialReads, StorageError};
use crate::domain::{ApiKeyCredentials, ApiKeyId, ClientCredentials, ClientId};
use crate::metrics::Counters;

/// How long a read waits for a lock before leaving the work to the store.
const BUSY_WAIT: Duration = Duration::from_millis(5);
/// How much of the database file a reading connection maps.
const MMAP_BYTES: i64 = 1 << 30;

pub struct SqliteReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    counters: Arc<Counters>,
}

impl SqliteReads {
    /// `None` unless the database is a file (sqlx names an in-memory one
    /// `file:sqlx-in-memory-…`, or it is `:memory:`).
    pub fn of_file(path: &Path, counters: Arc<Counters>) -> Option<Self> {
        let name = path.to_str()?;
        if name.is_empty() || name == ":memory:" || name.starts_with("file:") {
            return None;
        }
        Some(Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            counters,
        })
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(BUSY_WAIT)?;
        connection.pragma_update(None, "query_only", true)?;
        // Pages straight from the file's mapping: every write elsewhere
        // (usage counts, each second) empties a connection's own page
        // cache, and reading them back through it costs more than the query.
        connection.pragma_update(None, "mmap_size", MMAP_BYTES)?;
        Ok(connection)
    }

    /// Runs `read` on an idle connection (a new one when none is idle, so
    /// there are at most as many as threads reading at once).
    fn with_connection<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StorageError> {
        Counters::bump(&self.counters.sql_queries);
        let idle = self.idle.lock().pop();
        let connection = match idle {
            Some(connection) => connection,
            None => self.open().map_err(unavailable)?,
        };
        let answer = read(&connection).map_err(unavailable);
        if answer.is_ok() {
            self.idle.lock().push(connection);
        }
        answer
    }
}

fn unavailable(err: rusqlite::Error) -> StorageError {
    StorageError::Unavailable(sqlx::Error::Protocol(format!("instant SQLite read: {err}")))
}

impl InstantCredentialReads for SqliteReads {
    fn client_credentials(
        &self,
        id: &ClientId,
        now: i64,
    ) -> Result<Option<ClientCredentials>, StorageError> {
        let rows = self.with_connection(|connection| {
            let mut statement = connection.prepare_cached(&credential_queries::clients(1))?;
            let rows = statement.query_map(
                rusqlite::named_params! { "$1": now, "$2": id.as_str() },
                client_secrets_row,
            )?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        Ok(rows::clients_credentials(rows)?.into_iter().next())
    }

    fn api_key_credentials(
        &self,
        id: &ApiKeyId,
    ) -> Result<Option<ApiKeyCredentials>, StorageError> {
        let rows = self.with_connection(|connection| {
            let mut statement = connection.prepare_cached(&credential_queries::api_keys(1))?;
            let rows = statement.query_map(
                rusqlite::named_params! { "$1": id.as_str() },
                api_key_credentials_row,
            )?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter().next().map(TryInto::try_into).transpose()
    }
}

/// A row's columns read in the order the query selects them (see
/// `credential_queries`), which is the order of the row structs' fields:
/// by position, since looking a column up by name costs more than reading it.
struct Columns<'a, 'r> {
    row: &'a Row<'r>,
    next: usize,
}

impl<'a, 'r> Columns<'a, 'r> {
    fn of(row: &'a Row<'r>) -> Self {
        Self { row, next: 0 }
    }

    fn next<T: rusqlite::types::FromSql>(&mut self) -> rusqlite::Result<T> {
        self.next += 1;
        self.row.get(self.next - 1)
    }
}

fn client_secrets_row(row: &Row) -> rusqlite::Result<ClientSecretsRow> {
    let mut column = Columns::of(row);
    Ok(ClientSecretsRow {
        client: ClientWithPlanRow {
            client: ClientRow {
                id: column.next()?,
                org_id: column.next()?,
                name: column.next()?,
                scopes: column.next()?,
                audiences: column.next()?,
                status: column.next()?,
                resource_server: column.next()?,
                created_at: column.next()?,
                updated_at: column.next()?,
                expires_at: column.next()?,
                ip_allowlist: column.next()?,
                rate_limit_per_minute: column.next()?,
                last_used_at: column.next()?,
                request_count: column.next()?,
                token_endpoint_auth_method: column.next()?,
                public_keys: column.next()?,
                jwks_uri: column.next()?,
                dpop_bound_access_tokens: column.next()?,
                federated_subjects: column.next()?,
            },
            plan: column.next()?,
        },
        hash: column.next()?,
        origin: column.next()?,
        secret_expires_at: column.next()?,
    })
}

fn api_key_credentials_row(row: &Row) -> rusqlite::Result<ApiKeyCredentialsRow> {
    let mut column = Columns::of(row);
    Ok(ApiKeyCredentialsRow {
        key: ApiKeyRow {
            id: column.next()?,
            org_id: column.next()?,
            name: column.next()?,
            scopes: column.next()?,
            status: column.next()?,
            created_at: column.next()?,
            updated_at: column.next()?,
            expires_at: column.next()?,
            rate_limit_per_minute: column.next()?,
            ip_allowlist: column.next()?,
            metadata: column.next()?,
            last_used_at: column.next()?,
            request_count: column.next()?,
        },
        hash: column.next()?,
        plan: column.next()?,
    })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::sqlite::SqliteConnectOptions;

    use super::*;

    fn reads_of(url: &str) -> Option<SqliteReads> {
        let options = SqliteConnectOptions::from_str(url).unwrap();
        SqliteReads::of_file(options.get_filename(), Arc::default())
    }

    #[test]
    fn only_a_database_file_is_read_at_once() {
        assert!(reads_of("sqlite::memory:").is_none());
        assert!(reads_of("sqlite://:memory:").is_none());
        assert!(reads_of("sqlite://data/keyward.db").is_some());
    }
}
