//! What the tests share: test servers and clients, the resource server's
//! own token check, the server as a process and as a command, `/metrics` parsed, the
//! idempotency harness, an SMTP sink and a throwaway CA for its TLS.

pub mod browser;
pub mod cli_process;
pub mod client_keys;
pub mod console_client;
pub mod helpers;
pub mod idempotency_harness;
pub mod installed_clients;
pub mod jwt_verify;
pub mod metrics_scrape;
pub mod server_process;
pub mod smtp_sink;
pub mod test_ca;
