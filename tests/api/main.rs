//! Black-box API tests: the real server on a random port, real clients,
//! SQLite and PostgreSQL.

mod api_keys;
mod cli;
mod client_ip_allowlist;
mod discovery;
mod helpers;
mod hot_path;
mod introspection;
mod jwt_verify;
mod keys;
mod openapi;
mod replicas;
mod storage;
mod token;
mod token_errors;
