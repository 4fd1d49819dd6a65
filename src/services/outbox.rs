//! The loop of the queues that deliver to the outside world (webhooks and
//! emails): each second the due deliveries are read, each is leased so that
//! one replica alone attempts it, and each leased one is attempted on a
//! task of its own, so a slow receiver holds up no other.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::error_chain;
use crate::storage::StorageError;

const POLL_EVERY: Duration = Duration::from_secs(1);
/// Deliveries read a round.
pub const BATCH: i64 = 50;

#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    type Delivery: Send + 'static;
    /// What the log calls the deliveries: "webhooks", "emails".
    const NAME: &'static str;

    fn now(&self) -> i64;
    async fn due(&self, now: i64) -> Result<Vec<Self::Delivery>, StorageError>;
    /// Whether this replica took `delivery` until `now` plus its lease.
    async fn lease(&self, delivery: &Self::Delivery, now: i64) -> Result<bool, StorageError>;
    async fn attempt(&self, delivery: Self::Delivery);
    /// Counts a round, for the tests and metrics.
    fn polled(&self);
}

pub fn spawn(outbox: impl Outbox) {
    let outbox = Arc::new(outbox);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(POLL_EVERY);
        loop {
            ticker.tick().await;
            send_due(&outbox).await;
            outbox.polled();
        }
    });
}

async fn send_due<O: Outbox>(outbox: &Arc<O>) {
    let now = outbox.now();
    let due = match outbox.due(now).await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "reading due {} failed", O::NAME);
            return;
        }
    };
    for delivery in due {
        match outbox.lease(&delivery, now).await {
            Ok(true) => {
                let outbox = outbox.clone();
                tokio::spawn(async move { outbox.attempt(delivery).await });
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "leasing one of the {} failed", O::NAME)
            }
        }
    }
}
