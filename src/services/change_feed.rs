//! How changes made anywhere (another replica, the CLI) reach this node's
//! caches. A `ChangeFeed` yields changes; the listener applies them. The
//! change-log poller works on both databases; a Redis pub/sub or PostgreSQL
//! LISTEN feed can take its place behind the same trait.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::api_keys::ApiKeyVerifier;
use super::client_auth::ClientAuthenticator;
use super::revocation_list::RevocationList;
use crate::domain::Change;
use crate::metrics::Counters;
use crate::storage::{StorageError, Store};
use crate::time::Clock;

pub enum FeedEvent {
    Changes(Vec<Change>),
    /// The feed (re)started or may have missed changes: reload everything.
    Resync,
}

#[async_trait]
pub trait ChangeFeed: Send {
    /// Waits for what happened next. An error is passed over: the feed
    /// retries, and reports `Resync` once it works again.
    async fn next(&mut self) -> Result<FeedEvent, StorageError>;
}

/// Polls the change log that every change is written to, in its own transaction.
pub struct ChangeLogPoller {
    store: Arc<dyn Store>,
    interval: Duration,
    cursor: Option<i64>,
}

const BATCH: i64 = 1000;

impl ChangeLogPoller {
    pub fn new(store: Arc<dyn Store>, interval: Duration) -> Self {
        Self {
            store,
            interval,
            cursor: None,
        }
    }
}

#[async_trait]
impl ChangeFeed for ChangeLogPoller {
    async fn next(&mut self) -> Result<FeedEvent, StorageError> {
        let Some(cursor) = self.cursor else {
            self.cursor = Some(self.store.latest_change_seq().await?);
            return Ok(FeedEvent::Resync);
        };
        tokio::time::sleep(self.interval).await;
        let logged = self
            .store
            .changes_since(cursor, BATCH)
            .await
            .inspect_err(|_| {
                // Start over from the newest entry, with a resync, when it works again.
                self.cursor = None;
            })?;
        let Some(last) = logged.last() else {
            return Ok(FeedEvent::Changes(Vec::new()));
        };
        // A gap may be an entry purged before we read it.
        let gap = logged[0].seq != cursor + 1;
        self.cursor = Some(last.seq);
        Ok(if gap {
            FeedEvent::Resync
        } else {
            FeedEvent::Changes(logged.into_iter().map(|l| l.change).collect())
        })
    }
}

/// The caches a change can make stale, and how to refresh them.
pub struct CacheInvalidator {
    pub clients: Arc<ClientAuthenticator>,
    pub keys: Arc<ApiKeyVerifier>,
    pub revocations: Arc<RevocationList>,
    pub store: Arc<dyn Store>,
    pub counters: Arc<Counters>,
}

impl CacheInvalidator {
    pub fn apply(&self, change: &Change) {
        match change {
            Change::Client(id) => self.clients.evict(id.as_str()),
            Change::ApiKey(id) => self.keys.evict(id),
            Change::Organisation(_) => self.evict_credentials(),
            Change::TokenRevoked { jti, expires_at } => {
                self.revocations.add(jti.clone(), *expires_at)
            }
        }
    }

    pub async fn resync(&self, now: i64) -> Result<(), StorageError> {
        self.evict_credentials();
        self.reload_revocations(now).await
    }

    fn evict_credentials(&self) {
        self.clients.evict_all();
        self.keys.evict_all();
    }

    async fn reload_revocations(&self, now: i64) -> Result<(), StorageError> {
        let live = self.store.live_revocations(now).await?;
        self.revocations.replace_all(live);
        Ok(())
    }
}

/// How often revocations are reloaded whole and old entries purged, as a
/// backstop for anything a feed missed.
pub struct Backstop {
    pub reload_every: Duration,
    pub purge_every: Duration,
    pub keep_log_for: Duration,
    /// The audit trail's retention (setting `audit_retention_days`).
    pub keep_audit_for: Duration,
    /// The request log's retention (setting `request_log_retention_days`).
    pub keep_requests_for: Duration,
    /// How long a console session may stay idle.
    pub console_idle: Duration,
}

pub fn spawn_change_listener(
    mut feed: Box<dyn ChangeFeed>,
    caches: Arc<CacheInvalidator>,
    backstop: Backstop,
    clock: Arc<dyn Clock>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut reloaded = Instant::now();
        let mut purged = Instant::now();
        let mut failing = false;
        loop {
            let now = clock.unix();
            let resync = match feed.next().await {
                Ok(FeedEvent::Changes(changes)) => {
                    caches
                        .counters
                        .change_notifications
                        .fetch_add(changes.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    changes.iter().for_each(|c| caches.apply(c));
                    false
                }
                Ok(FeedEvent::Resync) => true,
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %crate::error::error_chain(&e), "the change feed failed; caches fall back to their TTL until it recovers");
                    }
                    failing = true;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if failing {
                tracing::info!("the change feed recovered; re-syncing caches");
                failing = false;
            }
            if resync || reloaded.elapsed() >= backstop.reload_every {
                let result = if resync {
                    caches.resync(now).await
                } else {
                    caches.reload_revocations(now).await
                };
                match result {
                    Ok(()) => reloaded = Instant::now(),
                    Err(e) => {
                        tracing::warn!(error = %crate::error::error_chain(&e), "reloading revocations failed")
                    }
                }
            }
            if purged.elapsed() >= backstop.purge_every {
                purged = Instant::now();
                let keep = backstop.keep_log_for.as_secs() as i64;
                if let Err(e) = caches.store.purge(now, now - keep).await {
                    tracing::warn!(error = %crate::error::error_chain(&e), "purging expired revocations failed");
                }
                let idle_before = now - backstop.console_idle.as_secs() as i64;
                if let Err(e) = caches.store.purge_console_records(now, idle_before).await {
                    tracing::warn!(error = %crate::error::error_chain(&e), "purging ended console sessions failed");
                }
                let keep = backstop.keep_audit_for.as_secs() as i64;
                if let Err(e) = caches.store.purge_audit_events(now - keep).await {
                    tracing::warn!(error = %crate::error::error_chain(&e), "purging old audit events failed");
                }
                let keep = backstop.keep_requests_for.as_secs() as i64;
                if let Err(e) = caches.store.purge_requests(now - keep).await {
                    tracing::warn!(error = %crate::error::error_chain(&e), "purging old request log entries failed");
                }
            }
        }
    })
}
