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
mod discovery;
mod example_resource_server;
mod helpers;
mod hot_path;
mod idempotency;
mod introspection;
mod jwt_verify;
mod keys;
mod openapi;
mod rate_limits;
mod replicas;
mod root_token;
mod shared_limits;
mod storage;
mod token;
mod token_errors;
mod usage;
