//! `GET …/api-keys/{key_id}/requests` and `GET …/clients/{client_id}/requests`:
//! a credential's request log, newest first.

use actix_web::{web, HttpRequest, HttpResponse};

use super::input::{org_id, page_of, page_request, param, query_params};
use super::problem::Problem;
use crate::domain::{ApiKeyId, ClientId, RequestRecord};
use crate::management::views::RequestRecordView;
use crate::management::{Caller, Management, RequestFilter};
use crate::storage::PageRequest;

pub async fn of_api_key(
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let org = org_id(&path.0)?;
    let id = ApiKeyId::parse(&path.1).map_err(|_| Problem::not_found())?;
    let (filter, page) = filter_and_page(&req)?;
    let records = management
        .api_key_requests(&caller, &org, &id, filter, page.clone())
        .await?;
    Ok(respond(&page, &records))
}

pub async fn of_client(
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let org = org_id(&path.0)?;
    let id = ClientId::parse(&path.1).map_err(|_| Problem::not_found())?;
    let (filter, page) = filter_and_page(&req)?;
    let records = management
        .client_requests(&caller, &org, &id, filter, page.clone())
        .await?;
    Ok(respond(&page, &records))
}

fn filter_and_page(req: &HttpRequest) -> Result<(RequestFilter, PageRequest), Problem> {
    let params = query_params(req, &["limit", "cursor", "code", "since", "until"])?;
    let given = |name: &str| param(&params, name).map(str::to_owned);
    let filter = RequestFilter {
        code: given("code"),
        since: given("since"),
        until: given("until"),
    };
    Ok((filter, page_request(&params)?))
}

fn respond(page: &PageRequest, records: &[RequestRecord]) -> HttpResponse {
    HttpResponse::Ok().json(page_of(
        page,
        records,
        |r| (r.occurred_at, r.id.as_str()),
        RequestRecordView::of,
    ))
}
