//! Black-box API tests: the real server on a random port, real clients,
//! SQLite and PostgreSQL.

mod admin_api_keys;
mod admin_audit;
mod admin_clients;
mod admin_idempotency;
mod admin_orgs;
mod api_keys;
mod brute_force;
mod cli;
mod client_ip_allowlist;
mod crash_safety;
mod database_outage;
mod discovery;
mod example_resource_server;
mod expiry_warnings;
mod graceful_stop;
mod healthcheck;
mod helpers;
mod hot_path;
mod idempotency;
mod introspection;
mod jwt_verify;
mod keys;
mod log_redaction;
mod metrics;
mod openapi;
mod rate_limits;
mod replicas;
mod request_id;
mod root_token;
mod server_process;
mod shared_limits;
mod storage;
mod token;
mod token_errors;
mod usage;
