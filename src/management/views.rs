//! What the management API and the CLI show of each resource. Secrets and
//! their hashes are not here; a one-time secret is shown beside the view by
//! the call that made it.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::{
    ApiKey, Audience, AuditEvent, Client, EffectiveRateLimit, EmailDelivery, FederatedSubject,
    IssuerKeys, Organisation, PublicJwk, RateLimitSource, RateTiers, RequestRecord, TrustedIssuer,
    WebhookDelivery,
};
use crate::time::rfc3339;

#[derive(Debug, Serialize)]
pub struct OrganisationView {
    pub id: String,
    pub name: String,
    pub plan: &'static str,
    pub webhook_url: Option<String>,
    /// `null`: notification emails go to the owners and admins.
    pub notification_email: Option<String>,
    pub created_at: String,
}

impl OrganisationView {
    pub fn of(org: &Organisation) -> Self {
        Self {
            id: org.id.as_str().to_owned(),
            name: org.name.as_str().to_owned(),
            plan: org.plan.as_str(),
            webhook_url: org.webhook_url.clone(),
            notification_email: org
                .notification_email
                .as_ref()
                .map(|a| a.as_str().to_owned()),
            created_at: rfc3339(org.created_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ClientView {
    pub client_id: String,
    pub org_id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub audiences: Vec<String>,
    pub status: &'static str,
    pub resource_server: bool,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: Option<String>,
    pub ip_allowlist: Vec<String>,
    /// Its own limit; `null` when it has none.
    pub rate_limit_per_minute: Option<u32>,
    pub effective_rate_limit: EffectiveRateLimitView,
    pub last_used_at: Option<String>,
    pub request_count: i64,
    /// `null`: a secret (either method) or a registered key.
    pub token_endpoint_auth_method: Option<&'static str>,
    pub public_keys: Vec<ClientKeyView>,
    pub jwks_uri: Option<String>,
    /// Token requests without a DPoP proof are refused.
    pub dpop_bound_access_tokens: bool,
    /// The workloads whose platform tokens sign in as this client.
    pub federated_subjects: Vec<FederatedSubject>,
}

/// A trusted issuer as the management API shows it.
#[derive(Debug, Serialize)]
pub struct TrustedIssuerView {
    pub id: String,
    pub issuer: String,
    /// `discovery`, `jwks_uri` or `static`.
    pub keys_from: &'static str,
    pub jwks_uri: Option<String>,
    pub jwks: Option<Value>,
    /// `null`: tokens must name Keyward's issuer.
    pub audience: Option<String>,
    pub created_at: String,
}

impl TrustedIssuerView {
    pub fn of(issuer: &TrustedIssuer) -> Self {
        let (keys_from, jwks_uri, jwks) = match &issuer.keys {
            IssuerKeys::Discovery => ("discovery", None, None),
            IssuerKeys::JwksUri(uri) => ("jwks_uri", Some(uri.clone()), None),
            IssuerKeys::Static(set) => ("static", None, Some(set.clone())),
        };
        Self {
            id: issuer.id.clone(),
            issuer: issuer.issuer.clone(),
            keys_from,
            jwks_uri,
            jwks,
            audience: issuer.audience.clone(),
            created_at: rfc3339(issuer.created_at),
        }
    }
}

/// A registered public key: its JWK and RFC 7638 thumbprint.
#[derive(Debug, Serialize)]
pub struct ClientKeyView {
    pub kid: String,
    pub thumbprint: String,
    pub jwk: Value,
}

impl ClientKeyView {
    pub fn of(key: &PublicJwk) -> Self {
        Self {
            kid: key.kid().to_owned(),
            thumbprint: key.thumbprint().to_owned(),
            jwk: key.to_json(),
        }
    }
}

/// The limit the rate limiter applies and where it comes from: the
/// credential's own (`credential`), the highest tier among its scopes
/// (`scope`, naming it), or the default of its kind (`default`: 60 a minute
/// for a key, none for a client). `per_minute: null` is no limit.
#[derive(Debug, Serialize)]
pub struct EffectiveRateLimitView {
    pub per_minute: Option<u32>,
    pub source: &'static str,
    pub scope: Option<String>,
}

impl EffectiveRateLimitView {
    pub fn of(limit: &EffectiveRateLimit) -> Self {
        Self {
            per_minute: limit.per_minute,
            source: limit.source.as_str(),
            scope: match &limit.source {
                RateLimitSource::Scope(scope) => Some(scope.as_str().to_owned()),
                _ => None,
            },
        }
    }
}

impl ClientView {
    pub fn of(client: &Client, tiers: &RateTiers) -> Self {
        Self {
            client_id: client.id.as_str().to_owned(),
            org_id: client.org_id.as_str().to_owned(),
            name: client.name.as_str().to_owned(),
            scopes: client
                .scopes
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            audiences: client
                .audiences
                .iter()
                .map(|a| Audience::as_str(a).to_owned())
                .collect(),
            status: client.status.as_str(),
            resource_server: client.resource_server,
            created_at: rfc3339(client.created_at),
            updated_at: rfc3339(client.updated_at),
            expires_at: client.expires_at.map(rfc3339),
            ip_allowlist: client.ip_allowlist.entries().collect(),
            rate_limit_per_minute: client.rate_limit_per_minute,
            effective_rate_limit: EffectiveRateLimitView::of(&tiers.of_client(client)),
            last_used_at: client.last_used_at.map(rfc3339),
            request_count: client.request_count,
            token_endpoint_auth_method: client.auth_method.map(|m| m.as_str()),
            public_keys: client.public_keys.iter().map(ClientKeyView::of).collect(),
            jwks_uri: client.jwks_uri.clone(),
            dpop_bound_access_tokens: client.dpop_bound_access_tokens,
            federated_subjects: client.federated_subjects.iter().cloned().collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ApiKeyView {
    pub id: String,
    pub org_id: String,
    pub name: String,
    /// The start of the key: enough to recognise it, nothing secret.
    pub prefix: String,
    /// `active`, `deactivated` or `expired`, as of the view's time.
    pub status: &'static str,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub request_count: i64,
    /// Its own limit; `null` when it has none.
    pub rate_limit_per_minute: Option<u32>,
    pub effective_rate_limit: EffectiveRateLimitView,
    pub ip_allowlist: Vec<String>,
    pub metadata: Map<String, Value>,
}

impl ApiKeyView {
    pub fn at(key: &ApiKey, now: i64, tiers: &RateTiers) -> Self {
        Self {
            id: key.id.as_str().to_owned(),
            org_id: key.org_id.as_str().to_owned(),
            name: key.name.as_str().to_owned(),
            prefix: key.id.key_prefix(),
            status: key.display_status(now),
            scopes: key.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            created_at: rfc3339(key.created_at),
            updated_at: rfc3339(key.updated_at),
            expires_at: key.expires_at.map(rfc3339),
            last_used_at: key.last_used_at.map(rfc3339),
            request_count: key.request_count,
            rate_limit_per_minute: key.rate_limit_per_minute,
            effective_rate_limit: EffectiveRateLimitView::of(&tiers.of_key(key)),
            ip_allowlist: key.ip_allowlist.entries().collect(),
            metadata: key.metadata.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AuditEventView {
    pub id: String,
    pub org_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub target: Option<AuditTargetView>,
    pub occurred_at: String,
    pub source_ip: Option<String>,
    pub request_id: String,
    pub changes: Map<String, Value>,
}

#[derive(Debug, Serialize)]
pub struct AuditTargetView {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

impl AuditEventView {
    pub fn of(event: &AuditEvent) -> Self {
        Self {
            id: event.id.clone(),
            org_id: event.org_id.as_ref().map(|o| o.as_str().to_owned()),
            actor: event.actor.clone(),
            action: event.action.clone(),
            target: event.target.as_ref().map(|t| AuditTargetView {
                kind: t.kind.clone(),
                id: t.id.clone(),
            }),
            occurred_at: rfc3339(event.occurred_at),
            source_ip: event.source_ip.clone(),
            request_id: event.request_id.clone(),
            changes: event.changes.clone(),
        }
    }
}

/// An entry of the request log; never a key, secret or token.
#[derive(Debug, Serialize)]
pub struct RequestRecordView {
    pub id: String,
    pub occurred_at: String,
    pub credential_id: String,
    pub org_id: String,
    pub endpoint: &'static str,
    pub code: String,
    pub resource_server: Option<String>,
    pub client_ip: Option<String>,
    pub request_id: String,
}

impl RequestRecordView {
    pub fn of(record: &RequestRecord) -> Self {
        Self {
            id: record.id.clone(),
            occurred_at: rfc3339(record.occurred_at),
            credential_id: record.credential_id.clone(),
            org_id: record.org_id.as_str().to_owned(),
            endpoint: record.endpoint,
            code: record.code.clone(),
            resource_server: record.resource_server.clone(),
            client_ip: record.client_ip.clone(),
            request_id: record.request_id.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct WebhookDeliveryView {
    pub id: String,
    pub event_type: String,
    pub url: String,
    pub state: &'static str,
    pub attempts: i64,
    pub created_at: String,
    pub next_attempt_at: Option<String>,
    pub last_attempt_at: Option<String>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
    pub payload: Value,
}

impl WebhookDeliveryView {
    pub fn of(delivery: &WebhookDelivery) -> Self {
        Self {
            id: delivery.id.clone(),
            event_type: delivery.event_type.clone(),
            url: delivery.url.clone(),
            state: delivery.state.as_str(),
            attempts: delivery.attempts,
            created_at: rfc3339(delivery.created_at),
            next_attempt_at: delivery.next_attempt_at.map(rfc3339),
            last_attempt_at: delivery.last_attempt_at.map(rfc3339),
            last_status: delivery.last_status,
            last_error: delivery.last_error.clone(),
            delivered_at: delivery.delivered_at.map(rfc3339),
            payload: serde_json::from_str(&delivery.payload).unwrap_or(Value::Null),
        }
    }
}

/// An email and how far its delivery got; never its body, which may carry
/// a password link.
#[derive(Debug, Serialize)]
pub struct EmailDeliveryView {
    pub id: String,
    pub event_type: String,
    pub recipient: String,
    pub subject: String,
    pub state: &'static str,
    pub attempts: i64,
    pub created_at: String,
    pub next_attempt_at: Option<String>,
    pub last_attempt_at: Option<String>,
    /// The mail server's reply code on the last attempt, if it answered.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
}

impl EmailDeliveryView {
    pub fn of(email: &EmailDelivery) -> Self {
        Self {
            id: email.id.clone(),
            event_type: email.event_type.clone(),
            recipient: email.recipient.clone(),
            subject: email.subject.clone(),
            state: email.state.as_str(),
            attempts: email.attempts,
            created_at: rfc3339(email.created_at),
            next_attempt_at: email.next_attempt_at.map(rfc3339),
            last_attempt_at: email.last_attempt_at.map(rfc3339),
            last_status: email.last_status,
            last_error: email.last_error.clone(),
            delivered_at: email.delivered_at.map(rfc3339),
        }
    }
}

/// A view as the JSON the audit trail compares.
pub(super) fn json(view: &impl Serialize) -> Value {
    serde_json::to_value(view).unwrap_or(Value::Null)
}
