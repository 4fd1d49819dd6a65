//! The audit events of management changes, computed from the views of what
//! changed: never a secret, key, hash or token.

use serde_json::{json, Map, Value};

use super::{Caller, Management};
use crate::domain::{AuditEvent, AuditTarget, OrgId};

/// What an event is about; `id: None` names nothing (a failed
/// authentication whose credential is unknown).
pub struct Target<'a> {
    pub org_id: Option<&'a OrgId>,
    pub kind: &'static str,
    pub id: Option<&'a str>,
}

/// The event of `action` by `caller` at `at`; its id orders it among the
/// events of the same second.
pub fn event(
    caller: &Caller,
    action: &str,
    target: Target<'_>,
    changes: Map<String, Value>,
    at: chrono::DateTime<chrono::Utc>,
) -> AuditEvent {
    AuditEvent {
        id: AuditEvent::new_id(at),
        org_id: target.org_id.cloned(),
        actor: caller.actor.identity().to_owned(),
        action: action.to_owned(),
        target: target.id.map(|id| AuditTarget {
            kind: target.kind.to_owned(),
            id: id.to_owned(),
        }),
        occurred_at: at.timestamp(),
        source_ip: caller.source_ip.map(|ip| ip.to_string()),
        request_id: caller.request_id.clone(),
        changes,
    }
}

impl Management {
    /// Appends an event after its change succeeded. A failure is logged and
    /// does not fail the call: the change is already made.
    pub(super) async fn record(
        &self,
        caller: &Caller,
        action: &str,
        target: Target<'_>,
        changes: Map<String, Value>,
    ) {
        let event = event(caller, action, target, changes, self.clock.now());
        self.audit.append(event).await;
    }
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
