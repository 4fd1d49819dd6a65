//! Warns organisations about API keys and clients that expire soon: an audit
//! event, a webhook when the organisation has a webhook URL, and, when
//! email is on, an email to its notification address or else to its owners
//! and admins. Once per credential and expiry date, however many replicas
//! look: the database claim decides.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map};

use crate::domain::{AuditEvent, AuditTarget, ExpiringCredential, WebhookDelivery};
use crate::metrics::Counters;
use crate::services::email::{EmailOutbox, Recipients};
use crate::storage::{StorageError, Store};
use crate::time::{rfc3339, Clock};

pub struct ExpiryWarnings {
    pub store: Arc<dyn Store>,
    /// Warn about what expires within this many seconds.
    pub warn_within: i64,
    pub scan_every: Duration,
    pub counters: Arc<Counters>,
    pub clock: Arc<dyn Clock>,
    /// Present when email is on.
    pub email: Option<Arc<EmailOutbox>>,
}

impl ExpiryWarnings {
    pub fn spawn(self) {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(self.scan_every);
            loop {
                ticker.tick().await;
                let now = self.clock.now();
                match self.scan(now).await {
                    Ok(0) => {}
                    Ok(warned) => {
                        tracing::info!(warned, "warned about credentials that expire soon")
                    }
                    Err(e) => tracing::warn!(
                        error = %crate::error::error_chain(&e),
                        "looking for credentials that expire soon failed; trying again"
                    ),
                }
                Counters::bump(&self.counters.expiry_scan_rounds);
            }
        });
    }

    /// Warns about every credential due a warning at `now`; how many this
    /// node claimed.
    pub async fn scan(&self, now: chrono::DateTime<chrono::Utc>) -> Result<usize, StorageError> {
        let at = now.timestamp();
        let due = self
            .store
            .expiring_credentials(at, at.saturating_add(self.warn_within))
            .await?;
        let scan_id = format!("expiry-scan-{}", uuid::Uuid::new_v4());
        let mut warned = 0;
        let mut recipients = Recipients::default();
        for credential in &due {
            let event = audit_event(credential, now, &scan_id);
            let delivery = credential
                .webhook_url
                .as_deref()
                .map(|url| webhook(credential, url, at));
            let emails = match &self.email {
                Some(outbox) => {
                    let to = recipients.of(&*self.store, credential).await?;
                    let content = outbox.expiry_warning(credential);
                    let org = &credential.org_id;
                    let letters = outbox.letters(org, &action(credential), &to, &content, at);
                    outbox.within_budget(&*self.store, org, letters, at).await?
                }
                None => Vec::new(),
            };
            if self
                .store
                .claim_expiry_warning(credential, at, &event, delivery.as_ref(), &emails)
                .await?
            {
                warned += 1;
            }
        }
        Ok(warned)
    }
}

fn action(credential: &ExpiringCredential) -> String {
    format!("{}.expiring", credential.kind)
}

fn audit_event(
    credential: &ExpiringCredential,
    now: chrono::DateTime<chrono::Utc>,
    scan_id: &str,
) -> AuditEvent {
    let mut changes = Map::new();
    changes.insert(
        "expires_at".into(),
        json!({ "new": rfc3339(credential.expires_at) }),
    );
    AuditEvent {
        id: AuditEvent::new_id(now),
        org_id: Some(credential.org_id.clone()),
        actor: "keyward".into(),
        action: action(credential),
        target: Some(AuditTarget {
            kind: credential.kind.into(),
            id: credential.id.clone(),
        }),
        occurred_at: now.timestamp(),
        source_ip: None,
        request_id: scan_id.into(),
        changes,
    }
}

/// The warning's webhook; its id is the event id receivers deduplicate on.
fn webhook(credential: &ExpiringCredential, url: &str, now: i64) -> WebhookDelivery {
    let action = action(credential);
    let mut delivery =
        WebhookDelivery::new(credential.org_id.clone(), &action, url, String::new(), now);
    delivery.payload = json!({
        "id": delivery.id,
        "type": action,
        "created_at": rfc3339(now),
        "org_id": credential.org_id.as_str(),
        "data": {
            "credential_type": credential.kind,
            "credential_id": credential.id,
            "name": credential.name,
            "expires_at": rfc3339(credential.expires_at),
        },
    })
    .to_string();
    delivery
}
