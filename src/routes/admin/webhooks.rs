//! `/admin/v1/orgs/{org_id}/webhook-deliveries` and `…/email-deliveries`:
//! what was sent to the organisation's webhook URL and by email, and how
//! far each delivery got.

use actix_web::{web, HttpRequest, HttpResponse};

use super::input::{org_id, page_of, page_request, param, query_params};
use super::problem::Problem;
use crate::management::views::{EmailDeliveryView, WebhookDeliveryView};
use crate::management::{Caller, Management};

pub async fn list_deliveries(
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let org = org_id(&path)?;
    let params = query_params(&req, &["limit", "cursor", "state"])?;
    let page = page_request(&params)?;
    let deliveries = management
        .list_webhook_deliveries(&caller, &org, param(&params, "state"), &page)
        .await?;
    let body = page_of(
        &page,
        &deliveries,
        |d| (d.created_at, d.id.as_str()),
        WebhookDeliveryView::of,
    );
    Ok(HttpResponse::Ok().json(body))
}

pub async fn list_emails(
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let org = org_id(&path)?;
    let params = query_params(&req, &["limit", "cursor", "state"])?;
    let page = page_request(&params)?;
    let emails = management
        .list_email_deliveries(&caller, &org, param(&params, "state"), &page)
        .await?;
    let body = page_of(
        &page,
        &emails,
        |e| (e.created_at, e.id.as_str()),
        EmailDeliveryView::of,
    );
    Ok(HttpResponse::Ok().json(body))
}
