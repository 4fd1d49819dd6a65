//! What an organisation's admins read back: its audit trail, newest
//! first, and what was sent to its webhook URL and by email.

use super::{Caller, Management, ManagementError};
use crate::domain::management_scope::AUDIT_READ;
use crate::domain::{AuditEvent, DeliveryState, EmailDelivery, OrgId, WebhookDelivery};
use crate::storage::{AuditQuery, PageRequest};

/// Filters of the audit trail: an action, a target's id, and times in
/// RFC 3339 (`since` included, `until` not).
#[derive(Debug, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub target_id: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

impl Management {
    pub async fn list_audit_events(
        &self,
        caller: &Caller,
        org: &OrgId,
        filter: AuditFilter,
        page: PageRequest,
    ) -> Result<Vec<AuditEvent>, ManagementError> {
        caller.actor.require(org, AUDIT_READ)?;
        let text = |field: &'static str, value: Option<String>| match value {
            Some(v) if v.is_empty() || v.len() > 128 => Err(ManagementError::invalid(
                field,
                "must be between 1 and 128 characters",
            )),
            v => Ok(v),
        };
        let query = AuditQuery {
            page,
            action: text("action", filter.action)?,
            target_id: text("target_id", filter.target_id)?,
            since: time("since", filter.since)?,
            until: time("until", filter.until)?,
        };
        Ok(self.store.list_audit_events(org, &query).await?)
    }

    /// Deliveries, newest first, in one state (`pending`, `delivered`,
    /// `failed`) or all.
    pub async fn list_webhook_deliveries(
        &self,
        caller: &Caller,
        org: &OrgId,
        state: Option<&str>,
        page: &PageRequest,
    ) -> Result<Vec<WebhookDelivery>, ManagementError> {
        caller.actor.require(org, AUDIT_READ)?;
        let state = delivery_state(state)?;
        Ok(self.store.list_webhook_deliveries(org, state, page).await?)
    }

    /// Emails (one per recipient) in order of creation, in one state or all.
    pub async fn list_email_deliveries(
        &self,
        caller: &Caller,
        org: &OrgId,
        state: Option<&str>,
        page: &PageRequest,
    ) -> Result<Vec<EmailDelivery>, ManagementError> {
        caller.actor.require(org, AUDIT_READ)?;
        let state = delivery_state(state)?;
        Ok(self.store.list_email_deliveries(org, state, page).await?)
    }
}

fn delivery_state(raw: Option<&str>) -> Result<Option<DeliveryState>, ManagementError> {
    raw.map(|raw| {
        DeliveryState::parse(raw).ok_or_else(|| {
            ManagementError::invalid("state", "must be pending, delivered or failed")
        })
    })
    .transpose()
}

/// An RFC 3339 time of a filter, as Unix seconds.
pub(super) fn time(
    field: &'static str,
    value: Option<String>,
) -> Result<Option<i64>, ManagementError> {
    value
        .map(|raw| {
            chrono::DateTime::parse_from_rfc3339(&raw)
                .map(|t| t.timestamp())
                .map_err(|_| ManagementError::invalid(field, "must be an RFC 3339 time"))
        })
        .transpose()
}
