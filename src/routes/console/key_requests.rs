//! An API key's request log: its latest checks on the key's page, and all
//! of them, newest first, on a page of their own.

use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::error::ConsoleError;
use super::layout::{when, Section};
use super::org_page::OrgPage;
use super::paging;
use super::session::SignedIn;
use crate::domain::{ApiKeyId, RequestRecord};
use crate::management::{Management, RequestFilter};
use crate::storage::PageRequest;

/// How many entries the key's page shows.
const LATEST: usize = 10;

#[derive(Deserialize)]
pub struct RequestsQuery {
    /// `<occurred_at>.<id>` of the last entry of the previous page.
    #[serde(default)]
    after: String,
}

/// The key's latest entries, with a link to all of them when there are more.
pub async fn latest(
    org: &OrgPage<'_>,
    management: &Management,
    key: &ApiKeyId,
) -> Result<Markup, ConsoleError> {
    let page = PageRequest {
        limit: LATEST as i64 + 1,
        after: None,
    };
    let mut records = management
        .api_key_requests(
            &org.caller(),
            &org.org.id,
            key,
            RequestFilter::default(),
            page,
        )
        .await?;
    let more = records.len() > LATEST;
    records.truncate(LATEST);
    let all = org.url(&format!("/api-keys/{key}/requests"));
    Ok(html! {
        h2 #requests { "Requests" }
        (table(&records))
        @if more {
            p.pager { a href=(all) { "All requests" } }
        }
    })
}

pub async fn list(
    path: web::Path<(String, String)>,
    query: web::Query<RequestsQuery>,
    signed_in: SignedIn,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let org = OrgPage::open(&signed_in, &management, &path.0, Section::ApiKeys).await?;
    let key = ApiKeyId::parse(&path.1).map_err(|_| ConsoleError::NotFound)?;
    let mut records = management
        .api_key_requests(
            &org.caller(),
            &org.org.id,
            &key,
            RequestFilter::default(),
            paging::request(&query.after),
        )
        .await?;
    let key_page = org.url(&format!("/api-keys/{key}"));
    let base = format!("{key_page}/requests");
    let next = paging::next_page(&mut records, |r| (r.occurred_at, r.id.as_str()), &base, &[]);
    let body = html! {
        p { a href=(key_page) { "← The key" } }
        h1 { "Requests" }
        (table(&records))
        @if let Some(next) = next {
            p.pager { a href=(next) { "Older requests" } }
        }
    };
    Ok(org.page("Requests", body))
}

fn table(records: &[RequestRecord]) -> Markup {
    html! {
        @if records.is_empty() {
            p.muted { "No requests on record. The request log keeps them when the setting request_log is on." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr {
                        th scope="col" { "When" }
                        th scope="col" { "Result" }
                        th scope="col" { "Endpoint" }
                        th.optional scope="col" { "Resource server" }
                        th.optional scope="col" { "Client address" }
                        th.optional scope="col" { "Request id" }
                    } }
                    tbody {
                        @for record in records {
                            tr {
                                td.nowrap { (when(record.occurred_at)) }
                                td { code { (record.code) } }
                                td { (record.endpoint) }
                                td.optional { @if let Some(rs) = &record.resource_server { code { (rs) } } }
                                td.optional { (record.client_ip.as_deref().unwrap_or("")) }
                                td.optional { code { (record.request_id) } }
                            }
                        }
                    }
                }
            }
        }
    }
}
