//! The request log (setting `request_log`): one entry per API key check,
//! key introspection or token request of a known credential, queued in
//! memory and written in batches behind the requests, as usage is. A full
//! queue drops the entry and counts it: a request never waits for it.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::domain::{OrgId, RequestEntry};
use crate::metrics::Counters;
use crate::storage::Store;
use crate::time::Clock;

const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Fewer, larger batches: each flush is a transaction and a wake-up.
const FLUSH_AT: usize = 20_000;
/// The most entries held while the database is away.
const MAX_QUEUED: usize = 100_000;

/// What a front end knows of one request to put on record.
pub struct Request<'a> {
    pub credential: &'a str,
    pub org: &'a OrgId,
    /// `verify`, `introspect` or `token`.
    pub endpoint: &'static str,
    pub code: &'static str,
    pub resource_server: Option<&'a str>,
    pub client_ip: Option<IpAddr>,
    pub request_id: &'a str,
}

pub struct RequestRecorder {
    on: bool,
    queue: Mutex<Vec<RequestEntry>>,
    flushing: tokio::sync::Mutex<()>,
    full: Notify,
    store: Arc<dyn Store>,
    counters: Arc<Counters>,
    clock: Arc<dyn Clock>,
}

impl RequestRecorder {
    pub fn new(
        on: bool,
        store: Arc<dyn Store>,
        counters: Arc<Counters>,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        Arc::new(Self {
            on,
            queue: Mutex::new(Vec::new()),
            flushing: tokio::sync::Mutex::new(()),
            full: Notify::new(),
            store,
            counters,
            clock,
        })
    }

    /// Queues an entry for `request`; nothing when the log is off.
    pub fn record(&self, request: Request<'_>) {
        if !self.on {
            return;
        }
        let record = RequestEntry {
            occurred_at_ns: self.clock.now().timestamp_nanos_opt().unwrap_or_default(),
            credential_id: request.credential.to_owned(),
            org_id: request.org.clone(),
            endpoint: request.endpoint,
            code: request.code,
            resource_server: request.resource_server.map(str::to_owned),
            client_ip: request.client_ip,
            request_id: request.request_id.to_owned(),
        };
        let queued = {
            let mut queue = self.queue.lock();
            if queue.len() >= MAX_QUEUED {
                None
            } else {
                queue.push(record);
                Some(queue.len())
            }
        };
        match queued {
            None => self.dropped(1),
            Some(len) if len >= FLUSH_AT => self.full.notify_one(),
            Some(_) => {}
        }
    }

    /// Entries queued and not yet written.
    pub fn waiting(&self) -> usize {
        self.queue.lock().len()
    }

    /// Writes every queued entry. On failure they go back to the queue, as
    /// many as fit, for the next flush.
    pub async fn flush(&self) {
        let _one_at_a_time = self.flushing.lock().await;
        let taken = std::mem::replace(&mut *self.queue.lock(), Vec::with_capacity(FLUSH_AT));
        if taken.is_empty() {
            return;
        }
        if let Err(e) = self.store.append_requests(&taken).await {
            tracing::error!(error = %crate::error::error_chain(&e), rows = taken.len(), "writing the request log failed; kept for the next flush");
            let mut queue = self.queue.lock();
            let room = MAX_QUEUED.saturating_sub(queue.len());
            let lost = taken.len().saturating_sub(room);
            queue.extend(taken.into_iter().take(room));
            drop(queue);
            self.dropped(lost);
        }
    }

    fn dropped(&self, n: usize) {
        if n == 0 {
            return;
        }
        let before = self
            .counters
            .request_log_dropped
            .fetch_add(n as u64, Ordering::Relaxed);
        if before / 10_000 != (before + n as u64) / 10_000 || before == 0 {
            tracing::error!(
                dropped = before + n as u64,
                "the request log's queue is full while the database is unavailable; dropping entries"
            );
        }
    }

    /// Flushes every second, or sooner when the queue grows large; nothing
    /// runs when the log is off.
    pub fn spawn_flusher(self: &Arc<Self>) {
        if !self.on {
            return;
        }
        let recorder = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(FLUSH_EVERY) => {}
                    _ = recorder.full.notified() => {}
                }
                recorder.flush().await;
            }
        });
    }
}
