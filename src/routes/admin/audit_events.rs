//! `GET /admin/v1/orgs/{org_id}/audit-events`: an organisation's audit
//! trail, newest first.

use actix_web::{web, HttpRequest, HttpResponse};

use super::input::{org_id, page_of, page_request, param, query_params};
use super::problem::Problem;
use crate::management::views::AuditEventView;
use crate::management::{AuditFilter, Caller, Management};

pub async fn list(
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let org = org_id(&path)?;
    let params = query_params(
        &req,
        &["limit", "cursor", "action", "target_id", "since", "until"],
    )?;
    let page = page_request(&params)?;
    let given = |name: &str| param(&params, name).map(str::to_owned);
    let filter = AuditFilter {
        action: given("action"),
        target_id: given("target_id"),
        since: given("since"),
        until: given("until"),
    };
    let events = management
        .list_audit_events(&caller, &org, filter, page.clone())
        .await?;
    let body = page_of(
        &page,
        &events,
        |e| (e.occurred_at, e.id.as_str()),
        AuditEventView::of,
    );
    Ok(HttpResponse::Ok().json(body))
}
