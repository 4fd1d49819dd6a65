//! An entry of the request log: one request of a known credential.

use super::OrgId;

/// One API key check, key introspection or token request. Never the key,
/// secret or token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub id: String,
    pub occurred_at: i64,
    /// The API key's id or the client's id.
    pub credential_id: String,
    pub org_id: OrgId,
    /// `verify`, `introspect` or `token`.
    pub endpoint: &'static str,
    /// A key check's code (`VALID`, `RATE_LIMITED`, ...), `ISSUED`, or the
    /// OAuth error of a refused token request.
    pub code: String,
    /// The client id of the resource server that checked the key.
    pub resource_server: Option<String>,
    pub client_ip: Option<String>,
    pub request_id: String,
}

impl RequestRecord {
    /// `rq_` + the time in nanoseconds + 64 random bits, both in hex: ids
    /// sort by time.
    pub fn new_id(at: chrono::DateTime<chrono::Utc>) -> String {
        format!(
            "rq_{:016x}{:016x}",
            at.timestamp_nanos_opt().unwrap_or_default(),
            rand::random::<u64>()
        )
    }

    /// The stored endpoint name as the static one it was written from.
    pub fn endpoint_of(stored: &str) -> &'static str {
        ["verify", "introspect", "token"]
            .into_iter()
            .find(|e| *e == stored)
            .unwrap_or("unknown")
    }
}
