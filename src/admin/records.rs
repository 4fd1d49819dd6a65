//! `keyward audit-events` and `keyward webhook-deliveries`.

use super::Output;
use crate::cli::{AuditEventsArgs, WebhookDeliveriesArgs};
use crate::management::views::{AuditEventView, WebhookDeliveryView};
use crate::management::{AuditFilter, Caller, Management};
use crate::storage::PageRequest;

pub(super) async fn audit_events(
    args: AuditEventsArgs,
    management: &Management,
) -> anyhow::Result<Output> {
    let org = super::orgs::id(&args.org)?;
    let filter = AuditFilter {
        action: args.action,
        target_id: args.target_id,
        since: args.since,
        until: args.until,
    };
    let events = management
        .list_audit_events(&Caller::cli(), &org, filter, PageRequest::everything())
        .await?;
    Ok(Output::list(
        "audit_events",
        &events,
        AuditEventView::of,
        |e| {
            let target = e.target.as_ref().map_or("", |t| t.id.as_str());
            let at = crate::time::rfc3339(e.occurred_at);
            format!("{at}\t{}\t{}\t{target}", e.actor, e.action)
        },
    ))
}

pub(super) async fn webhook_deliveries(
    args: WebhookDeliveriesArgs,
    management: &Management,
) -> anyhow::Result<Output> {
    let org = super::orgs::id(&args.org)?;
    let deliveries = management
        .list_webhook_deliveries(
            &Caller::cli(),
            &org,
            args.state.as_deref(),
            &PageRequest::everything(),
        )
        .await?;
    Ok(Output::list(
        "webhook_deliveries",
        &deliveries,
        WebhookDeliveryView::of,
        |d| {
            let at = crate::time::rfc3339(d.created_at);
            format!("{at}\t{}\t{}\t{}", d.state.as_str(), d.event_type, d.url)
        },
    ))
}
