//! The audit trail: recording management changes and admin
//! authentications (read back by `audit_events`). Events hold the non-secret fields of the views, never a secret, key,
//! hash or token.

use actix_web::HttpRequest;
use serde_json::{json, Map, Value};

use crate::domain::{AuditEvent, AuditTarget, OrgId};
use crate::routes::RequestId;
use crate::startup::AppState;

/// The request's id (see `routes::request_id`), the one its log lines and
/// its `X-Request-Id` response header carry.
pub fn request_id(req: &HttpRequest) -> String {
    RequestId::of(req)
        .unwrap_or_else(RequestId::generate)
        .as_str()
        .to_owned()
}

/// What an event is about; an empty `id` names nothing (a failed
/// authentication whose credential is unknown).
pub struct Target<'a> {
    pub org_id: Option<&'a OrgId>,
    pub kind: &'static str,
    pub id: &'a str,
}

/// Appends an event after its change succeeded. A failure is logged and
/// does not fail the request: the change is already made.
pub async fn record(
    state: &AppState,
    req: &HttpRequest,
    actor: &str,
    action: &str,
    target: Target<'_>,
    changes: Map<String, Value>,
) {
    let now = chrono::Utc::now();
    let event = AuditEvent {
        id: AuditEvent::new_id(now),
        org_id: target.org_id.cloned(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: (!target.id.is_empty()).then(|| AuditTarget {
            kind: target.kind.to_owned(),
            id: target.id.to_owned(),
        }),
        occurred_at: now.timestamp(),
        source_ip: crate::routes::client_ip::request_client_ip(req, &state.trusted_proxies)
            .map(|ip| ip.to_string()),
        request_id: request_id(req),
        changes,
    };
    state.audit.append(event).await;
}

/// Fields of a view that change by themselves or say nothing about a change.
const NOT_CHANGES: [&str; 5] = [
    "updated_at",
    "created_at",
    "last_used_at",
    "request_count",
    "org_id",
];

/// `{field: {"old": .., "new": ..}}` for each field of two views that differs.
pub fn diff(old: &Value, new: &Value) -> Map<String, Value> {
    let mut changes = Map::new();
    if let Value::Object(fields) = new {
        for (name, value) in fields {
            if NOT_CHANGES.contains(&name.as_str()) || old.get(name) == Some(value) {
                continue;
            }
            let before = old.get(name).cloned().unwrap_or(Value::Null);
            changes.insert(name.clone(), json!({ "old": before, "new": value }));
        }
    }
    changes
}

/// `{field: {"new": ..}}` for the initial fields of a new resource's view.
pub fn initial(view: &Value) -> Map<String, Value> {
    let mut changes = Map::new();
    if let Value::Object(fields) = view {
        for (name, value) in fields {
            if !NOT_CHANGES.contains(&name.as_str()) {
                changes.insert(name.clone(), json!({ "new": value }));
            }
        }
    }
    changes
}

/// One field's change.
pub fn change(name: &str, old: Value, new: Value) -> Map<String, Value> {
    let mut changes = Map::new();
    changes.insert(name.to_owned(), json!({ "old": old, "new": new }));
    changes
}
