//! Black-box API tests: the real server on a random port, real clients,
//! SQLite and PostgreSQL.

mod api_keys;
mod cli;
mod discovery;
mod helpers;
mod hot_path;
mod idempotency;
mod introspection;
mod jwt_verify;
mod keys;
mod openapi;
mod replicas;
mod storage;
mod token;
mod token_errors;
