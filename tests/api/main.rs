//! Black-box API tests: the real server on a random port, real clients,
//! SQLite and PostgreSQL.

mod cli;
mod discovery;
mod helpers;
mod hot_path;
mod jwt_verify;
mod keys;
mod openapi;
mod storage;
mod token;
mod token_errors;
