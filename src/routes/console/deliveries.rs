//! The organisation's deliveries, emails and webhooks in one list, as the
//! management API shows them (recipient or URL, state, attempts, the class
//! of the last failure), never a body, a payload or a secret. Both lists
//! are ordered by (created_at, id), so one cursor pages through the two.

use maud::{html, Markup};

use super::error::ConsoleError;
use super::layout::when;
use super::org_page::OrgPage;
use super::paging;
use crate::domain::{EmailDelivery, WebhookDelivery};
use crate::management::Management;

/// One row: an email to one recipient or a webhook to one URL.
pub struct DeliveryRow {
    id: String,
    created_at: i64,
    kind: &'static str,
    event_type: String,
    to: String,
    state: &'static str,
    attempts: i64,
    next_attempt_at: Option<i64>,
    last_error: Option<String>,
}

impl DeliveryRow {
    fn of_email(email: EmailDelivery) -> Self {
        Self {
            id: email.id,
            created_at: email.created_at,
            kind: "email",
            event_type: email.event_type,
            to: email.recipient,
            state: email.state.as_str(),
            attempts: email.attempts,
            next_attempt_at: email.next_attempt_at,
            last_error: email.last_error,
        }
    }

    fn of_webhook(webhook: WebhookDelivery) -> Self {
        Self {
            id: webhook.id,
            created_at: webhook.created_at,
            kind: "webhook",
            event_type: webhook.event_type,
            to: webhook.url,
            state: webhook.state.as_str(),
            attempts: webhook.attempts,
            next_attempt_at: webhook.next_attempt_at,
            last_error: webhook.last_error,
        }
    }
}

/// Which deliveries to list: a kind (`email`, `webhook`) and a state, each
/// empty for all, from the cursor `after`.
pub struct DeliveryFilter<'q> {
    pub kind: &'q str,
    pub state: &'q str,
    pub after: &'q str,
}

/// A page of deliveries and the link to the next one, if any.
pub async fn page_of(
    org: &OrgPage<'_>,
    management: &Management,
    filter: &DeliveryFilter<'_>,
    base: &str,
) -> Result<(Vec<DeliveryRow>, Option<String>), ConsoleError> {
    let (emails, webhooks) = match filter.kind {
        "" => (true, true),
        "email" => (true, false),
        "webhook" => (false, true),
        _ => {
            return Err(ConsoleError::Invalid(
                "kind: must be email or webhook".into(),
            ))
        }
    };
    let page = paging::request(filter.after);
    let state = Some(filter.state).filter(|s| !s.is_empty());
    let (caller, org_id) = (org.caller(), &org.org.id);
    let mut rows = Vec::new();
    if emails {
        let found = management
            .list_email_deliveries(&caller, org_id, state, &page)
            .await?;
        rows.extend(found.into_iter().map(DeliveryRow::of_email));
    }
    if webhooks {
        let found = management
            .list_webhook_deliveries(&caller, org_id, state, &page)
            .await?;
        rows.extend(found.into_iter().map(DeliveryRow::of_webhook));
    }
    rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let filters = [("kind", filter.kind), ("state", filter.state)];
    let next = paging::next_page(&mut rows, |r| (r.created_at, r.id.as_str()), base, &filters);
    Ok((rows, next))
}

/// The filters, the table and the link to the next page.
pub fn section(
    action: &str,
    filter: &DeliveryFilter<'_>,
    rows: &[DeliveryRow],
    next: Option<&str>,
) -> Markup {
    let option = |current: &str, value: &str, label: &str| {
        html! { option value=(value) selected[value == current] { (label) } }
    };
    html! {
        h2 #deliveries { "Deliveries" }
        form.filters method="get" action=(action) {
            div {
                label for="kind" { "Kind" }
                select #kind name="kind" {
                    (option(filter.kind, "", "Any"))
                    (option(filter.kind, "email", "Email"))
                    (option(filter.kind, "webhook", "Webhook"))
                }
            }
            div {
                label for="state" { "State" }
                select #state name="state" {
                    (option(filter.state, "", "Any"))
                    (option(filter.state, "pending", "Pending"))
                    (option(filter.state, "delivered", "Delivered"))
                    (option(filter.state, "failed", "Failed"))
                }
            }
            div { button.secondary type="submit" { "Filter" } }
        }
        @if rows.is_empty() {
            p.muted { "No deliveries." }
        } @else {
            div.table-wrap {
                table #delivery-list {
                    thead { tr {
                        th scope="col" { "Created" }
                        th scope="col" { "Kind" }
                        th scope="col" { "Event" }
                        th scope="col" { "To" }
                        th scope="col" { "State" }
                        th scope="col" { "Attempts" }
                        th.optional scope="col" { "Next attempt" }
                        th.optional scope="col" { "Last error" }
                    } }
                    tbody {
                        @for row in rows {
                            tr {
                                td { (when(row.created_at)) }
                                td { (row.kind) }
                                td { code { (row.event_type) } }
                                td { (row.to) }
                                td { (row.state) }
                                td { (row.attempts) }
                                td.optional { @if let Some(at) = row.next_attempt_at { (when(at)) } }
                                td.optional { (row.last_error.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p.pager { a href=(next) { "More deliveries" } }
        }
    }
}
