//! How changes made anywhere (another replica, the CLI) reach this node's
//! caches. A `ChangeFeed` yields changes; the listener applies them. The
//! change-log poller works on both databases; a Redis pub/sub or PostgreSQL
//! LISTEN feed can take its place behind the same trait.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::api_keys::ApiKeyVerifier;
use super::client_auth::ClientAuthenticator;
use super::feed_sync::FeedSync;
use super::revocation_list::RevocationList;
use crate::domain::Change;
use crate::metrics::Counters;
use crate::storage::{LoggedChange, StorageError, Store};
use crate::time::Clock;

pub enum FeedEvent {
    /// Changes to apply. With `synced_as_of`, every change committed before
    /// that moment is among these or was reported before.
    Changes {
        changes: Vec<Change>,
        synced_as_of: Option<DateTime<Utc>>,
    },
    /// The feed (re)started or may have missed changes: reload everything.
    Resync,
}

#[async_trait]
pub trait ChangeFeed: Send {
    /// Waits for what happened next. An error is passed over: the feed
    /// retries, and reports `Resync` once it works again.
    async fn next(&mut self) -> Result<FeedEvent, StorageError>;
}

/// Polls the change log that every change is written to, in its own
/// transaction. On PostgreSQL, transactions can commit out of the order in
/// which they numbered their entries, so a number missing below the newest
/// one read is awaited: its entry may still commit.
pub struct ChangeLogPoller {
    store: Arc<dyn Store>,
    interval: Duration,
    clock: Arc<dyn Clock>,
    read: Option<ReadLog>,
}

/// What has been read of the log: every entry up to `settled` was applied
/// or will never come; up to `newest`, every entry was applied but those
/// `awaited`, missing when a later entry was read, since the moment given.
#[derive(Default)]
struct ReadLog {
    settled: i64,
    newest: i64,
    awaited: BTreeMap<i64, DateTime<Utc>>,
}

const BATCH: usize = 1000;
/// How long a missing number is awaited before it is taken for a rolled-back
/// transaction (or an entry purged unread) and the caches are reloaded.
const AWAIT_MISSING_FOR: Duration = Duration::from_secs(10);
/// On (re)start, entries logged this recently are read again: one may have
/// committed after a newer one, and nodes' clocks differ a little.
const START_LOOKBACK_SECONDS: i64 = 60;
/// More missing numbers at once than this are taken as a purged stretch.
const MAX_AWAITED: i64 = 1000;

impl ChangeLogPoller {
    pub fn new(store: Arc<dyn Store>, interval: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            interval,
            clock,
            read: None,
        }
    }
}

#[async_trait]
impl ChangeFeed for ChangeLogPoller {
    async fn next(&mut self) -> Result<FeedEvent, StorageError> {
        let Some(read) = &mut self.read else {
            let since = self.clock.unix() - START_LOOKBACK_SECONDS;
            let settled = self.store.last_change_before(since).await?;
            self.read = Some(ReadLog {
                settled,
                newest: settled,
                ..ReadLog::default()
            });
            return Ok(FeedEvent::Resync);
        };
        tokio::time::sleep(self.interval).await;
        let as_of = self.clock.now();
        // The entries read before, past `settled`, come again.
        let limit = BATCH + (read.newest - read.settled) as usize;
        let logged = match self.store.changes_since(read.settled, limit as i64).await {
            Ok(logged) => logged,
            Err(e) => {
                // Start over, with a resync, when it works again.
                self.read = None;
                return Err(e);
            }
        };
        let complete = logged.len() < limit;
        Ok(match read.take(logged, as_of) {
            Taken::Changes(changes) => FeedEvent::Changes {
                changes,
                synced_as_of: complete.then_some(as_of),
            },
            Taken::GaveUpWaiting => FeedEvent::Resync,
            Taken::Jumped => {
                self.read = None;
                FeedEvent::Resync
            }
        })
    }
}

enum Taken {
    /// The changes not applied before, in order.
    Changes(Vec<Change>),
    /// Missing numbers were awaited long enough; what they held, if
    /// anything, was missed.
    GaveUpWaiting,
    /// Too many numbers are missing: the log was read from too far back.
    Jumped,
}

impl ReadLog {
    fn take(&mut self, logged: Vec<LoggedChange>, now: DateTime<Utc>) -> Taken {
        let mut changes = Vec::new();
        for entry in logged {
            let awaited = self.awaited.remove(&entry.seq).is_some();
            if entry.seq <= self.newest && !awaited {
                continue;
            }
            if entry.seq > self.newest + MAX_AWAITED {
                return Taken::Jumped;
            }
            for missing in self.newest + 1..entry.seq {
                self.awaited.insert(missing, now);
            }
            self.newest = self.newest.max(entry.seq);
            changes.extend(entry.change);
        }
        let awaited = self.awaited.len();
        self.awaited
            .retain(|_, since| (now - *since).to_std().unwrap_or_default() < AWAIT_MISSING_FOR);
        self.settled = self
            .awaited
            .keys()
            .next()
            .map_or(self.newest, |first| first - 1);
        if self.awaited.len() < awaited {
            Taken::GaveUpWaiting
        } else {
            Taken::Changes(changes)
        }
    }
}

/// The caches a change can make stale, and how to refresh them.
pub struct CacheInvalidator {
    pub clients: Arc<ClientAuthenticator>,
    pub keys: Arc<ApiKeyVerifier>,
    pub revocations: Arc<RevocationList>,
    pub store: Arc<dyn Store>,
    pub counters: Arc<Counters>,
    pub feed: Arc<FeedSync>,
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
                Ok(FeedEvent::Changes {
                    changes,
                    synced_as_of,
                }) => {
                    caches
                        .counters
                        .change_notifications
                        .fetch_add(changes.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    changes.iter().for_each(|c| caches.apply(c));
                    if let Some(as_of) = synced_as_of {
                        caches.feed.mark(as_of);
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(seqs: &[i64]) -> Vec<LoggedChange> {
        seqs.iter()
            .map(|&seq| LoggedChange {
                seq,
                change: Some(Change::TokenRevoked {
                    jti: seq.to_string(),
                    expires_at: 0,
                }),
            })
            .collect()
    }

    fn jtis(taken: Taken) -> Vec<String> {
        match taken {
            Taken::Changes(changes) => changes
                .into_iter()
                .map(|c| match c {
                    Change::TokenRevoked { jti, .. } => jti,
                    other => panic!("unexpected {other:?}"),
                })
                .collect(),
            Taken::GaveUpWaiting => panic!("gave up waiting"),
            Taken::Jumped => panic!("jumped"),
        }
    }

    #[test]
    fn an_entry_that_commits_after_a_later_one_is_applied_when_it_appears() {
        let now = Utc::now();
        let mut read = ReadLog::default();
        assert_eq!(jtis(read.take(logged(&[1, 3]), now)), ["1", "3"]);
        assert_eq!(read.settled, 1, "2 is awaited");
        // Read again from the settled point: 3 is not applied twice.
        assert_eq!(jtis(read.take(logged(&[2, 3, 4]), now)), ["2", "4"]);
        assert_eq!((read.settled, read.awaited.len()), (4, 0));
    }

    #[test]
    fn a_number_that_never_comes_is_given_up_with_a_resync() {
        let now = Utc::now();
        let mut read = ReadLog::default();
        jtis(read.take(logged(&[1, 3]), now));
        let soon = now + chrono::Duration::seconds(9);
        assert_eq!(jtis(read.take(logged(&[3, 4]), soon)), ["4"]);
        assert_eq!(read.settled, 1);
        let later = now + chrono::Duration::seconds(10);
        assert!(matches!(
            read.take(logged(&[3, 4]), later),
            Taken::GaveUpWaiting
        ));
        assert_eq!(read.settled, 4);
        assert_eq!(jtis(read.take(logged(&[5]), later)), ["5"]);
    }

    #[test]
    fn a_stretch_of_missing_numbers_too_long_to_await_restarts_the_read() {
        let mut read = ReadLog::default();
        assert!(matches!(
            read.take(logged(&[MAX_AWAITED + 2]), Utc::now()),
            Taken::Jumped
        ));
    }

    #[test]
    fn an_entry_of_an_unknown_kind_is_passed_over_without_a_gap() {
        let now = Utc::now();
        let mut read = ReadLog::default();
        let mut entries = logged(&[1, 2, 3]);
        entries[1].change = None;
        assert_eq!(jtis(read.take(entries, now)), ["1", "3"]);
        assert_eq!(read.settled, 3);
    }
}
