//! An entry of the management API's audit trail.

use serde_json::{Map, Value};

use super::OrgId;

/// One recorded management action or admin authentication.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: String,
    /// `None` for a failed authentication whose credential names no organisation.
    pub org_id: Option<OrgId>,
    /// `root`, `client:<id>`, `key:<id>`, or `anonymous`.
    pub actor: String,
    /// Such as `api_key.created` or `admin.authentication_failed`.
    pub action: String,
    pub target: Option<AuditTarget>,
    pub occurred_at: i64,
    pub source_ip: Option<String>,
    pub request_id: String,
    /// Field name to `{"old": .., "new": ..}`; never a secret.
    pub changes: Map<String, Value>,
}

impl AuditEvent {
    /// `ev_` + the time in nanoseconds + 64 random bits, both in hex: ids
    /// sort by time.
    pub fn new_id(at: chrono::DateTime<chrono::Utc>) -> String {
        format!(
            "ev_{:016x}{:016x}",
            at.timestamp_nanos_opt().unwrap_or_default(),
            rand::random::<u64>()
        )
    }
}

/// What an event is about: `api_key`, `client`, `organisation` or `credential`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditTarget {
    pub kind: String,
    pub id: String,
}
