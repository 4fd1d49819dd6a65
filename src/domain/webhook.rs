//! Outgoing webhooks: what is sent, how far its delivery got, and when a
//! failed attempt is tried again.

use super::outbound_address::{self, NotPublic};
use super::OrgId;

const MAX_URL_LENGTH: usize = 2048;

/// What the operator lets an organisation give as its webhook URL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookUrlRules {
    /// `http:` as well as `https:`.
    pub allow_http: bool,
    /// Hosts on loopback, private and other non-public addresses.
    pub allow_private_networks: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidWebhookUrl {
    #[error(transparent)]
    Malformed(#[from] url::ParseError),
    #[error("must be {0} URL of at most 2048 characters")]
    Form(&'static str),
    #[error(transparent)]
    NotPublic(#[from] NotPublic),
}

impl WebhookUrlRules {
    /// The URL, normalised, if webhooks may go there. A name is only
    /// refused here for being `localhost`; where it resolves is checked
    /// on each connection.
    pub fn parse(&self, raw: &str) -> Result<String, InvalidWebhookUrl> {
        let url = url::Url::parse(raw)?;
        let scheme_allowed = url.scheme() == "https" || (self.allow_http && url.scheme() == "http");
        if !scheme_allowed || raw.len() > MAX_URL_LENGTH {
            let schemes = if self.allow_http {
                "an http(s)"
            } else {
                "an https"
            };
            return Err(InvalidWebhookUrl::Form(schemes));
        }
        if !self.allow_private_networks {
            // http(s) URLs always have a host.
            if let Some(host) = url.host() {
                outbound_address::check_host(host)?;
            }
        }
        Ok(url.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not delivered yet; another attempt is due at `next_attempt_at`.
    Pending,
    Delivered,
    /// Given up: every attempt within the retry window failed.
    Failed,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 3] = [
        DeliveryState::Pending,
        DeliveryState::Delivered,
        DeliveryState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// `whd_` + random; also the event's id in the payload.
    pub id: String,
    pub org_id: OrgId,
    pub event_type: String,
    pub url: String,
    /// The JSON body, the same bytes on every attempt.
    pub payload: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub created_at: i64,
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    /// The receiver's HTTP status on the last attempt, if it answered.
    pub last_status: Option<i64>,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
}

impl WebhookDelivery {
    pub fn new(org_id: OrgId, event_type: &str, url: &str, payload: String, now: i64) -> Self {
        Self {
            id: super::ids::random_id("whd_"),
            org_id,
            event_type: event_type.to_owned(),
            url: url.to_owned(),
            payload,
            state: DeliveryState::Pending,
            attempts: 0,
            created_at: now,
            next_attempt_at: Some(now),
            last_attempt_at: None,
            last_status: None,
            last_error: None,
            delivered_at: None,
        }
    }
}

/// What one attempt to deliver came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub at: i64,
    pub status: Option<i64>,
    /// `None` when the receiver answered 2xx.
    pub error: Option<String>,
    /// The new state, and when to try again if still pending.
    pub state: DeliveryState,
    pub next_attempt_at: Option<i64>,
}

impl DeliveryAttempt {
    /// When the delivery was delivered, if this attempt delivered it.
    pub fn delivered_at(&self) -> Option<i64> {
        (self.state == DeliveryState::Delivered).then_some(self.at)
    }
}

/// Exponential backoff: the n-th retry waits `base · 2^(n-1)`, and no
/// attempt is made later than `window` after the delivery was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base_seconds: i64,
    pub window_seconds: i64,
}

impl RetryPolicy {
    /// The outcome of attempt number `attempt` (1 for the first) of a
    /// delivery created at `created_at`, made at `at`.
    pub fn outcome(
        &self,
        created_at: i64,
        attempt: i64,
        at: i64,
        status: Option<i64>,
        error: Option<String>,
    ) -> DeliveryAttempt {
        if error.is_none() {
            return DeliveryAttempt {
                at,
                status,
                error,
                state: DeliveryState::Delivered,
                next_attempt_at: None,
            };
        }
        let shift = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(40);
        let wait = self.base_seconds.saturating_mul(1i64 << shift);
        let next = at.saturating_add(wait);
        let (state, next_attempt_at) = if next > created_at.saturating_add(self.window_seconds) {
            (DeliveryState::Failed, None)
        } else {
            (DeliveryState::Pending, Some(next))
        };
        DeliveryAttempt {
            at,
            status,
            error,
            state,
            next_attempt_at,
        }
    }
}

/// A credential that expires soon, with where its organisation wants to hear
/// about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiringCredential {
    /// `api_key` or `client`.
    pub kind: &'static str,
    pub id: String,
    pub org_id: OrgId,
    pub name: String,
    pub expires_at: i64,
    pub org_name: String,
    pub webhook_url: Option<String>,
    pub notification_email: Option<super::MailAddress>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        base_seconds: 30,
        window_seconds: 86_400,
    };

    const PUBLIC_ONLY: WebhookUrlRules = WebhookUrlRules {
        allow_http: false,
        allow_private_networks: false,
    };

    #[test]
    fn webhook_urls_must_be_https_and_public_unless_the_operator_allows_more() {
        assert_eq!(
            PUBLIC_ONLY.parse("https://hooks.example.com"),
            Ok("https://hooks.example.com/".to_owned())
        );
        for raw in ["http://hooks.example.com/", "ftp://x.example/", "not a url"] {
            assert!(PUBLIC_ONLY.parse(raw).is_err(), "{raw}");
        }
        let long = format!("https://x.example/{}", "a".repeat(2048));
        assert!(PUBLIC_ONLY.parse(&long).is_err());
        for raw in [
            "https://10.0.0.1/",
            "https://localhost/",
            "https://[::1]:8443/",
        ] {
            assert!(
                matches!(PUBLIC_ONLY.parse(raw), Err(InvalidWebhookUrl::NotPublic(_))),
                "{raw}"
            );
        }
        let internal = WebhookUrlRules {
            allow_http: true,
            allow_private_networks: true,
        };
        for raw in [
            "http://10.0.0.1/",
            "https://localhost/",
            "http://[::1]:8443/",
        ] {
            assert!(internal.parse(raw).is_ok(), "{raw}");
        }
    }

    #[test]
    fn success_ends_the_delivery() {
        let done = POLICY.outcome(0, 1, 5, Some(204), None);
        assert_eq!(done.state, DeliveryState::Delivered);
        assert_eq!(done.next_attempt_at, None);
    }

    #[test]
    fn retries_double_their_wait_until_the_window_closes() {
        let waits: Vec<i64> = (1..=4)
            .map(|n| {
                let o = POLICY.outcome(0, n, 100, Some(500), Some("500".into()));
                o.next_attempt_at.unwrap() - 100
            })
            .collect();
        assert_eq!(waits, [30, 60, 120, 240]);
        let late = POLICY.outcome(0, 12, 86_000, None, Some("timeout".into()));
        assert_eq!(late.state, DeliveryState::Failed);
        assert_eq!(late.next_attempt_at, None);
        let huge = POLICY.outcome(0, i64::MAX, 10, None, Some("x".into()));
        assert_eq!(huge.state, DeliveryState::Failed);
    }
}
