//! Sends queued webhooks, signed, and retries failed ones with exponential
//! backoff (domain::RetryPolicy). A node leases a delivery before sending,
//! so replicas do not send the same attempt twice. Delivery is at least
//! once: a receiver deduplicates on `X-Keyward-Delivery`. Requests go
//! through services::outbound_http, which keeps them off internal addresses.

use std::sync::Arc;
use std::time::Duration;

use crate::crypto::webhook_signing::{signature, WebhookSigner, SIGNATURE_HEADER};
use crate::domain::{DeliveryState, RetryPolicy, WebhookDelivery};
use crate::metrics::Counters;
use crate::services::outbound_http::OutboundHttp;
use crate::services::outbox::{self, Outbox, BATCH};
use crate::storage::{StorageError, Store};
use crate::time::Clock;

const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longer than an attempt can take, so a lease outlives its attempt.
const LEASE_SECONDS: i64 = 60;

pub struct WebhookDispatcher {
    store: Arc<dyn Store>,
    signer: Arc<WebhookSigner>,
    retry: RetryPolicy,
    http: OutboundHttp,
    clock: Arc<dyn Clock>,
    counters: Arc<Counters>,
}

impl WebhookDispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        signer: Arc<WebhookSigner>,
        retry: RetryPolicy,
        allow_private_networks: bool,
        clock: Arc<dyn Clock>,
        counters: Arc<Counters>,
    ) -> anyhow::Result<Self> {
        let http = OutboundHttp::new(allow_private_networks, ATTEMPT_TIMEOUT)?;
        Ok(Self {
            store,
            signer,
            retry,
            http,
            clock,
            counters,
        })
    }

    pub fn spawn(self) {
        outbox::spawn(self);
    }
}

#[async_trait::async_trait]
impl Outbox for WebhookDispatcher {
    type Delivery = WebhookDelivery;
    const NAME: &'static str = "webhooks";

    fn now(&self) -> i64 {
        self.clock.unix()
    }

    async fn due(&self, now: i64) -> Result<Vec<WebhookDelivery>, StorageError> {
        self.store.due_webhook_deliveries(now, BATCH).await
    }

    async fn lease(&self, delivery: &WebhookDelivery, now: i64) -> Result<bool, StorageError> {
        self.store
            .lease_webhook_delivery(&delivery.id, now, now + LEASE_SECONDS)
            .await
    }

    fn polled(&self) {
        Counters::bump(&self.counters.webhook_dispatch_rounds);
    }

    async fn attempt(&self, delivery: WebhookDelivery) {
        let (status, cause) = match self.send(&delivery).await {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            Ok(status) => (Some(status), Some(format!("HTTP {status}"))),
            Err(cause) => (None, Some(cause)),
        };
        let error = cause.as_ref().map(|_| shown_error(status));
        let outcome = self.retry.outcome(
            delivery.created_at,
            delivery.attempts + 1,
            self.clock.unix(),
            status,
            error,
        );
        match outcome.state {
            DeliveryState::Delivered => {
                tracing::info!(delivery = %delivery.id, event = %delivery.event_type, "webhook delivered")
            }
            state => tracing::warn!(
                delivery = %delivery.id,
                attempts = delivery.attempts + 1,
                state = state.as_str(),
                cause = cause.as_deref().unwrap_or_default(),
                "webhook attempt failed"
            ),
        }
        if let Err(e) = self
            .store
            .record_delivery_attempt(&delivery.id, &outcome)
            .await
        {
            tracing::error!(error = %crate::error::error_chain(&e), delivery = %delivery.id, "recording a webhook attempt failed");
        }
    }
}

impl WebhookDispatcher {
    /// Posts the delivery, signed now with its organisation's current secret.
    async fn send(&self, delivery: &WebhookDelivery) -> Result<i64, String> {
        let org = self
            .store
            .get_organisation(&delivery.org_id)
            .await
            .map_err(|e| format!("reading the organisation: {e}"))?;
        let nonce = org
            .webhook_signing_nonce
            .ok_or("the organisation has no webhook signing secret")?;
        let secret = self.signer.secret(&org.id, &nonce);
        let timestamp = self.clock.unix();
        let response = self
            .http
            .post(&delivery.url)
            .map_err(|e| e.to_string())?
            .header("Content-Type", "application/json")
            .header(
                SIGNATURE_HEADER,
                signature(&secret, timestamp, delivery.payload.as_bytes()),
            )
            .header("X-Keyward-Event", &delivery.event_type)
            .header("X-Keyward-Delivery", &delivery.id)
            .body(delivery.payload.clone())
            .send()
            .await
            // Without the URL: it may hold a token of the receiver's.
            .map_err(|e| crate::error::error_chain(&e.without_url()))?;
        Ok(i64::from(response.status().as_u16()))
    }
}

/// What the organisation's delivery log says about a failed attempt: the
/// receiver's status if it answered, else nothing more. Why a connection
/// failed (refused, reset, TLS, timed out, address not allowed) stays in
/// the server log; in the delivery log it would map the operator's network
/// for anyone who may set a webhook URL.
fn shown_error(status: Option<i64>) -> String {
    match status {
        Some(status) => format!("delivery failed: HTTP {status}"),
        None => "delivery failed".to_owned(),
    }
}
