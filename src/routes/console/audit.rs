//! An organisation's audit trail, newest first, filtered by action, target
//! and date.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use maud::html;
use serde::Deserialize;

use super::error::ConsoleError;
use super::layout::{when, Section};
use super::org_page::OrgPage;
use super::paging;
use super::session::SignedIn;
use crate::management::{AuditFilter, Management};

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    /// A day, `YYYY-MM-DD` (UTC): events from its start.
    #[serde(default)]
    from: String,
    /// A day: events until its end.
    #[serde(default)]
    to: String,
    /// `<occurred_at>.<id>` of the last event of the previous page.
    #[serde(default)]
    after: String,
}

/// The start of the day `raw`, `days` days later, as RFC 3339.
fn day_start(raw: &str, days: u64, field: &str) -> Result<Option<String>, ConsoleError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let day = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.checked_add_days(chrono::Days::new(days)))
        .ok_or_else(|| ConsoleError::Invalid(format!("{field}: not a date")))?;
    Ok(Some(format!("{day}T00:00:00Z")))
}

fn given(raw: &str) -> Option<String> {
    Some(raw.trim().to_owned()).filter(|s| !s.is_empty())
}

pub async fn list(
    path: web::Path<String>,
    query: web::Query<AuditQuery>,
    signed_in: SignedIn,
    management: web::Data<Management>,
) -> Result<HttpResponse, ConsoleError> {
    let org = OrgPage::open(&signed_in, &management, &path, Section::Audit).await?;
    let filter = AuditFilter {
        action: given(&query.action),
        target_id: given(&query.target),
        since: day_start(&query.from, 0, "from")?,
        until: day_start(&query.to, 1, "to")?,
    };
    let mut events = management
        .list_audit_events(
            &org.caller(),
            &org.org.id,
            filter,
            paging::request(&query.after),
        )
        .await?;
    let base = org.url("/audit");
    let filters = [
        ("action", query.action.as_str()),
        ("target", &query.target),
        ("from", &query.from),
        ("to", &query.to),
    ];
    let next = paging::next_page(
        &mut events,
        |e| (e.occurred_at, e.id.as_str()),
        &base,
        &filters,
    );
    let body = html! {
        h1 { "Audit trail" }
        form.filters method="get" action=(base) {
            div {
                label for="action" { "Action" }
                input #action type="text" name="action" value=(query.action) placeholder="api_key.created";
            }
            div {
                label for="target" { "Target id" }
                input #target type="text" name="target" value=(query.target);
            }
            div {
                label for="from" { "From" }
                input #from type="date" name="from" value=(query.from);
            }
            div {
                label for="to" { "To" }
                input #to type="date" name="to" value=(query.to);
            }
            div { button.secondary type="submit" { "Filter" } }
        }
        @if events.is_empty() {
            p.muted { "No events match." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr {
                        th scope="col" { "When" }
                        th scope="col" { "Action" }
                        th scope="col" { "Actor" }
                        th.optional scope="col" { "Target" }
                        th.optional scope="col" { "From" }
                        th.optional scope="col" { "Changes" }
                    } }
                    tbody {
                        @for event in &events {
                            tr {
                                td.nowrap { (when(event.occurred_at)) }
                                td { code { (event.action) } }
                                td { code { (event.actor) } }
                                td.optional { @if let Some(target) = &event.target { code { (target.id) } } }
                                td.optional { (event.source_ip.as_deref().unwrap_or("")) }
                                td.optional {
                                    @if !event.changes.is_empty() {
                                        details.changes {
                                            summary { (event.changes.len()) " fields" }
                                            pre { (serde_json::to_string_pretty(&event.changes).unwrap_or_default()) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p.pager { a href=(next) { "Older events" } }
        }
    };
    Ok(org.page("Audit trail", body))
}
