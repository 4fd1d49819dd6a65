//! An entry of the request log: one request of a known credential.

use std::net::IpAddr;

use super::OrgId;

/// One API key check, key introspection or token request, as listed. Never
/// the key, secret or token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// `rq_` + the time in nanoseconds + a number, both in hex
    /// (`RequestRecord::id_of`).
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

/// One entry as queued on the request's path, before it has a number: the
/// least work a request does for the log (no formatting, static codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestEntry {
    /// Nanoseconds since the epoch: the order of one credential's entries.
    pub occurred_at_ns: i64,
    pub credential_id: String,
    pub org_id: OrgId,
    pub endpoint: &'static str,
    pub code: &'static str,
    pub resource_server: Option<String>,
    pub client_ip: Option<IpAddr>,
    pub request_id: String,
}

impl RequestRecord {
    /// The id of the entry stored at `occurred_at_ns` with the (random)
    /// `number` that tells apart entries of one nanosecond: ids sort by
    /// time, and say nothing of how many entries other credentials have.
    pub fn id_of(occurred_at_ns: i64, number: i64) -> String {
        format!("rq_{occurred_at_ns:016x}{number:016x}")
    }

    /// The (nanoseconds, number) of an id made by `id_of`: its place in
    /// the list.
    pub fn position_of(id: &str) -> Option<(i64, i64)> {
        let hex = id
            .strip_prefix("rq_")
            .filter(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))?;
        let half = |digits: &str| u64::from_str_radix(digits, 16).ok().map(|n| n as i64);
        Some((half(&hex[..16])?, half(&hex[16..])?))
    }

    /// The stored endpoint name as the static one it was written from.
    pub fn endpoint_of(stored: &str) -> &'static str {
        ["verify", "introspect", "token"]
            .into_iter()
            .find(|e| *e == stored)
            .unwrap_or("unknown")
    }
}
