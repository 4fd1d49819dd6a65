//! One-time values recorded on SQLite on the calling thread. Through sqlx a
//! record went from the request's thread to a batching task, to the
//! connection's own thread and back, and those hand-offs cost more than the
//! insert: a quarter of a private_key_jwt or DPoP issuance (2026-12-01).
//! Here one writer connection of the used values' own WAL file (see
//! `sqlite_one_time_file`) inserts the values at once. It never waits for
//! SQLite's write lock: while another connection holds it, the async store
//! records the values instead.
//!
//! Checkpoints, which wait for the disk, run on a thread of their own: most
//! of the frames while commits go on, then the few committed meanwhile on
//! the writer's connection with commits held back. A checkpoint that
//! commits keep overtaking never catches up, and then the WAL is never
//! started again and grows for as long as the load lasts (to 212 MB over
//! 100,000 DPoP issuances; 68 MB with this pause).
//! During the pause requests wait without holding their thread
//! (`checkpointing`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::InstantOneTimeValues;
use crate::metrics::Counters;

const INSERT: &str = "INSERT INTO used_one_time_values (expires_at, value_digest) \
                      VALUES (?1, ?2) ON CONFLICT (expires_at, value_digest) DO NOTHING";
/// Commits between two checkpoints (SQLite's own default is 1,000 WAL
/// pages; a commit here writes about a dozen).
const CHECKPOINT_EVERY: u64 = 1000;

pub struct SqliteOneTimeWrites {
    writer: Arc<Writer>,
    commits: AtomicU64,
    checkpoints: SyncSender<()>,
    counters: Arc<Counters>,
}

struct Writer {
    path: PathBuf,
    connection: Mutex<Option<Connection>>,
    checkpointing: AtomicBool,
}

impl SqliteOneTimeWrites {
    /// For the used values' file at `path`, which the store has created
    /// with its table (`sqlite_one_time_file`).
    pub fn new(path: &Path, counters: Arc<Counters>) -> Self {
        let writer = Arc::new(Writer {
            path: path.to_owned(),
            connection: Mutex::new(None),
            checkpointing: AtomicBool::new(false),
        });
        let (checkpoints, wanted) = mpsc::sync_channel(1);
        let checkpointer = writer.clone();
        std::thread::Builder::new()
            .name("keyward-checkpoint".into())
            .spawn(move || checkpoint_when_asked(&checkpointer, wanted))
            .expect("a thread starts");
        Self {
            writer,
            commits: AtomicU64::new(0),
            checkpoints,
            counters,
        }
    }

    fn committed(&self) {
        if self.commits.fetch_add(1, Ordering::Relaxed) % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            // One already asked for and not yet done is enough.
            let _ = self.checkpoints.try_send(());
        }
    }
}

impl Writer {
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

    /// Runs `work` on the connection, opened when there is none; an error
    /// other than a busy database closes it, to be opened again next time.
    fn with<T>(&self, work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Option<T> {
        let mut connection = self.connection.lock();
        if connection.is_none() {
            *connection = self.open().ok();
        }
        match work(connection.as_mut()?) {
            Ok(done) => Some(done),
            Err(err) => {
                if err.sqlite_error_code() != Some(rusqlite::ErrorCode::DatabaseBusy) {
                    *connection = None;
                }
                None
            }
        }
    }
}

impl InstantOneTimeValues for SqliteOneTimeWrites {
    fn use_once(&self, values: &[(String, i64)]) -> Option<Vec<bool>> {
        Counters::bump(&self.counters.sql_queries);
        let fresh = self
            .writer
            .with(|connection| insert_all(connection, values))?;
        self.committed();
        Some(fresh)
    }

    fn checkpointing(&self) -> bool {
        self.writer.checkpointing.load(Ordering::Relaxed)
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

fn checkpoint_when_asked(writer: &Writer, wanted: Receiver<()>) {
    let mut own = None;
    while wanted.recv().is_ok() {
        // Most of the frames while commits go on, on a connection of its own...
        if own.is_none() {
            own = writer.open().ok();
        }
        if let Some(Err(_)) = own.as_mut().map(checkpoint) {
            own = None;
        }
        // ...then those committed meanwhile, with commits held back.
        writer.checkpointing.store(true, Ordering::Relaxed);
        let done = writer.with(checkpoint);
        writer.checkpointing.store(false, Ordering::Relaxed);
        if done.is_none() {
            tracing::warn!("the checkpoint of the SQLite WAL failed; tried again later");
        }
    }
}

fn checkpoint(connection: &mut Connection) -> rusqlite::Result<()> {
    connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}
