//! The management API under `/admin/v1`: JSON in and out, RFC 9457
//! problem details for errors, every list paginated. Each handler parses
//! the request, calls its use case in `crate::management` and renders the
//! answer.

pub mod api_keys;
pub mod audit;
pub mod audit_events;
pub mod auth;
pub mod client_keys;
pub mod clients;
pub mod federation;
mod input;
pub mod orgs;
pub mod problem;
pub mod request_log;
pub mod webhooks;
