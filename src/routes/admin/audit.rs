//! The audit trail: recording management changes and admin
//! authentications, and `GET /admin/v1/orgs/{org_id}/audit-events`.
//! Events hold the non-secret fields of the views, never a secret, key,
//! hash or token.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::auth::{AdminCaller, AUDIT_READ};
use super::input::{page_of, page_request, param, query_params};
use super::orgs::org_of;
use super::problem::Problem;
use crate::domain::{AuditEvent, AuditTarget, OrgId};
use crate::routes::RequestId;
use crate::startup::AppState;
use crate::storage::AuditQuery;

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

pub async fn list(
    caller: AdminCaller,
    path: web::Path<String>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let org = org_of(&caller, &path)?;
    caller.require(&org, AUDIT_READ)?;
    let params = query_params(
        &req,
        &["limit", "cursor", "action", "target_id", "since", "until"],
    )?;
    let text = |name: &str| -> Result<Option<String>, Problem> {
        match param(&params, name) {
            Some(v) if v.is_empty() || v.len() > 128 => Err(Problem::invalid_field(
                name,
                "must be between 1 and 128 characters",
            )),
            v => Ok(v.map(str::to_owned)),
        }
    };
    let time = |name: &str| -> Result<Option<i64>, Problem> {
        param(&params, name)
            .map(|raw| {
                chrono::DateTime::parse_from_rfc3339(raw)
                    .map(|t| t.timestamp())
                    .map_err(|_| Problem::invalid_field(name, "must be an RFC 3339 time"))
            })
            .transpose()
    };
    let query = AuditQuery {
        page: page_request(&params)?,
        action: text("action")?,
        target_id: text("target_id")?,
        since: time("since")?,
        until: time("until")?,
    };
    let events = state.store.list_audit_events(&org, &query).await?;
    let body = page_of(
        &query.page,
        &events,
        |e| (e.occurred_at, e.id.as_str()),
        view,
    );
    Ok(HttpResponse::Ok().json(body))
}

fn view(event: &AuditEvent) -> Value {
    json!({
        "id": event.id,
        "org_id": event.org_id.as_ref().map(|o| o.as_str()),
        "actor": event.actor,
        "action": event.action,
        "target": event.target.as_ref().map(|t| json!({"type": t.kind, "id": t.id})),
        "occurred_at": crate::routes::rfc3339(event.occurred_at),
        "source_ip": event.source_ip,
        "request_id": event.request_id,
        "changes": event.changes,
    })
}
