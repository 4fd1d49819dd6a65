//! The management API under `/admin/v1`: JSON in and out, RFC 9457
//! problem details for errors, every list paginated.

pub mod api_keys;
pub mod audit;
pub mod audit_events;
pub mod auth;
pub mod clients;
mod fields;
mod input;
pub mod orgs;
pub mod problem;
pub mod views;
pub mod webhooks;
