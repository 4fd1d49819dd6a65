//! `/admin/v1/orgs/{org_id}/webhook-deliveries`: what was sent to the
//! organisation's webhook URL and how far each delivery got.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::auth::{AdminCaller, AUDIT_READ};
use super::input::{page_of, page_request, param, query_params};
use super::orgs::org_of;
use super::problem::Problem;
use crate::domain::{DeliveryState, WebhookDelivery};
use crate::startup::AppState;
use crate::time::rfc3339;

pub async fn list_deliveries(
    caller: AdminCaller,
    path: web::Path<String>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let org = org_of(&caller, &path)?;
    caller.require(&org, AUDIT_READ)?;
    let params = query_params(&req, &["limit", "cursor", "state"])?;
    let delivery_state = param(&params, "state")
        .map(|raw| {
            DeliveryState::parse(raw).ok_or_else(|| {
                Problem::invalid_field("state", "must be pending, delivered or failed")
            })
        })
        .transpose()?;
    let page = page_request(&params)?;
    let deliveries = state
        .store
        .list_webhook_deliveries(&org, delivery_state, &page)
        .await?;
    let body = page_of(&page, &deliveries, |d| (d.created_at, d.id.as_str()), view);
    Ok(HttpResponse::Ok().json(body))
}

fn view(delivery: &WebhookDelivery) -> Value {
    json!({
        "id": delivery.id,
        "event_type": delivery.event_type,
        "url": delivery.url,
        "state": delivery.state.as_str(),
        "attempts": delivery.attempts,
        "created_at": rfc3339(delivery.created_at),
        "next_attempt_at": delivery.next_attempt_at.map(rfc3339),
        "last_attempt_at": delivery.last_attempt_at.map(rfc3339),
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "delivered_at": delivery.delivered_at.map(rfc3339),
        "payload": serde_json::from_str::<Value>(&delivery.payload).unwrap_or(Value::Null),
    })
}
