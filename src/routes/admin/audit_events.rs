//! `GET /admin/v1/orgs/{org_id}/audit-events`: an organisation's audit
//! trail, newest first.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::auth::{AdminCaller, AUDIT_READ};
use super::input::{page_of, page_request, param, query_params};
use super::orgs::org_of;
use super::problem::Problem;
use crate::domain::AuditEvent;
use crate::startup::AppState;
use crate::storage::AuditQuery;

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
        "occurred_at": crate::time::rfc3339(event.occurred_at),
        "source_ip": event.source_ip,
        "request_id": event.request_id,
        "changes": event.changes,
    })
}
