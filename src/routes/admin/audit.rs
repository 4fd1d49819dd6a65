//! The request side of the audit trail: who called from where, for the
//! events of management calls and of admin authentications.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::{web, HttpRequest};
use serde_json::Map;

use crate::domain::TrustedProxies;
use crate::management::{audit_event, Actor, AuditSubject, Caller};
use crate::routes::RequestId;
use crate::services::audit_writer::AuditWriter;
use crate::services::{AuthenticatedClient, FederatedSignIn};

/// The request's id (see `routes::request_id`), the one its log lines and
/// its `X-Request-Id` response header carry.
pub fn request_id(req: &HttpRequest) -> String {
    RequestId::of(req)
        .unwrap_or_else(RequestId::generate)
        .as_str()
        .to_owned()
}

/// `actor`, calling with `req`.
pub fn caller(req: &HttpRequest, actor: Actor) -> Caller {
    Caller {
        actor,
        source_ip: source_ip(req),
        request_id: request_id(req),
    }
}

/// The client's address, as the trusted proxies tell it.
pub fn source_ip(req: &HttpRequest) -> Option<IpAddr> {
    let proxies = req.app_data::<web::Data<TrustedProxies>>()?;
    crate::routes::client_ip::request_client_ip(req, proxies)
}

/// Appends an event of a call that is not a management use case (an
/// authentication, a revocation at the OAuth endpoint).
pub async fn record(
    audit: &AuditWriter,
    caller: &Caller,
    action: &str,
    target: AuditSubject<'_>,
    changes: Map<String, serde_json::Value>,
    now: chrono::DateTime<chrono::Utc>,
) {
    audit
        .append(audit_event(caller, action, target, changes, now))
        .await;
}

/// Records a sign-in by workload identity federation: the client, and the
/// issuer, subject and binding that signed it in; written behind, as it
/// comes with every such token request.
pub fn record_federated_sign_in(
    req: &HttpRequest,
    audit: &AuditWriter,
    client: &Arc<AuthenticatedClient>,
    sign_in: FederatedSignIn,
    now: chrono::DateTime<chrono::Utc>,
) {
    let client = client.clone();
    let (source_ip, request_id) = (source_ip(req), request_id(req));
    audit.append_behind(move || {
        let record = &client.credentials.client;
        let caller = Caller {
            actor: Actor::OrgAdmin {
                org_id: record.org_id.clone(),
                scopes: client.grantable.clone(),
                credential: format!("client:{}", record.id),
            },
            source_ip,
            request_id,
        };
        let target = AuditSubject {
            org_id: Some(&record.org_id),
            kind: "client",
            id: Some(record.id.as_str()),
        };
        let mut changes = Map::new();
        for (name, value) in [
            ("issuer", sign_in.issuer),
            ("subject", sign_in.subject),
            ("binding", sign_in.binding),
        ] {
            changes.insert(name.into(), serde_json::json!({ "new": value }));
        }
        audit_event(&caller, "client.federated_sign_in", target, changes, now)
    });
}
