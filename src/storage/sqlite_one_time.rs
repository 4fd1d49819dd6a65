//! One-time values recorded on SQLite on the calling thread. Through sqlx a
//! record went from the request's thread to a batching task, to the
//! connection's own thread and back, and those hand-offs cost more than the
//! insert: a quarter of a private_key_jwt or DPoP issuance (2026-12-01).
//! Here one writer connection of the same WAL database inserts the value at
//! once. It never waits for SQLite's write lock: while another connection
//! holds it, the async store records the value instead. It leaves
//! checkpoints, which wait for the disk, to a thread of their own.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::InstantOneTimeValues;
use crate::metrics::Counters;

const INSERT: &str = "INSERT INTO used_one_time_values (expires_at, value_digest) \
                      VALUES (?1, ?2) ON CONFLICT (expires_at, value_digest) DO NOTHING";
/// Commits between two checkpoints: SQLite's own default, in WAL pages.
const CHECKPOINT_EVERY: u64 = 1000;

pub struct SqliteOneTimeWrites {
    path: PathBuf,
    writer: Mutex<Option<Connection>>,
    commits: AtomicU64,
    checkpoints: SyncSender<()>,
    counters: Arc<Counters>,
}

impl SqliteOneTimeWrites {
    /// For the database file at `path` (see `SqliteReads::of_file` for
    /// which paths are files).
    pub fn new(path: &Path, counters: Arc<Counters>) -> Self {
        let (checkpoints, wanted) = mpsc::sync_channel(1);
        let checkpointer = path.to_owned();
        std::thread::Builder::new()
            .name("keyward-checkpoint".into())
            .spawn(move || checkpoint_when_asked(&checkpointer, wanted))
            .expect("a thread starts");
        Self {
            path: path.to_owned(),
            writer: Mutex::new(None),
            commits: AtomicU64::new(0),
            checkpoints,
            counters,
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(std::time::Duration::ZERO)?;
        // A commit survives a crash of the process; one lost with the
        // machine is a value that could be used once more in its lifetime.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(connection)
    }

    fn committed(&self) {
        if self.commits.fetch_add(1, Ordering::Relaxed) % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            // One already asked for and not yet done is enough.
            let _ = self.checkpoints.try_send(());
        }
    }
}

impl InstantOneTimeValues for SqliteOneTimeWrites {
    fn use_once(&self, values: &[(String, i64)]) -> Option<Vec<bool>> {
        Counters::bump(&self.counters.sql_queries);
        let mut writer = self.writer.lock();
        if writer.is_none() {
            *writer = self.open().ok();
        }
        match insert_all(writer.as_mut()?, values) {
            Ok(fresh) => {
                self.committed();
                Some(fresh)
            }
            Err(err) => {
                if err.sqlite_error_code() != Some(rusqlite::ErrorCode::DatabaseBusy) {
                    // Opened again for the next values.
                    *writer = None;
                }
                None
            }
        }
    }
}

fn insert_all(
    connection: &mut Connection,
    values: &[(String, i64)],
) -> rusqlite::Result<Vec<bool>> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let fresh = {
        let mut insert = transaction.prepare_cached(INSERT)?;
        values
            .iter()
            .map(|(digest, expires_at)| {
                Ok(insert.execute(rusqlite::params![expires_at, digest])? == 1)
            })
            .collect::<rusqlite::Result<Vec<_>>>()?
    };
    transaction.commit()?;
    Ok(fresh)
}

fn checkpoint_when_asked(path: &Path, wanted: Receiver<()>) {
    let mut connection = None;
    while wanted.recv().is_ok() {
        if connection.is_none() {
            connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE).ok();
        }
        let done = connection
            .as_ref()
            .map(|c| c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())));
        if let Some(Err(err)) = done {
            tracing::warn!(error = %err, "the checkpoint of the SQLite WAL failed; retried later");
            connection = None;
        }
    }
}
