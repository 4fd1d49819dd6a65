//! The operator's root token when none is configured: generated on first
//! start, logged exactly once, stored only as a hash, and the same on
//! every later start.

use std::path::Path;

use crate::on_both_backends;
use crate::support::helpers::{Backend, TestDatabase};
use crate::support::server_process::ServerProcess;

/// Every `kwr_…` token in a log.
fn tokens_in(text: &str) -> Vec<String> {
    text.match_indices("kwr_")
        .map(|(at, _)| {
            text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

async fn orgs_status(base: &str, token: &str) -> u16 {
    keyward::tls::client()
        .get(format!("{base}/admin/v1/orgs"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn a_generated_root_token_is_logged_once_and_kept(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(backend, dir.path()).await;
    let server = generating_a_root_token(dir.path(), &db.url).await;
    let base = server.base.clone();
    let tokens = tokens_in(&startup_log(&server).await);
    assert_eq!(tokens.len(), 1, "logged exactly once: {tokens:?}");
    let token = &tokens[0];
    assert_eq!(orgs_status(&base, token).await, 200);
    assert_eq!(orgs_status(&base, &format!("{token}x")).await, 401);
    drop(server);

    let store = keyward::storage::connect(&db.url, Default::default())
        .await
        .unwrap();
    let stored = store.root_credential().await.unwrap().unwrap();
    assert!(stored.starts_with("sha256:"), "only a hash is stored");
    assert!(!stored.contains(token.as_str()));

    let server = generating_a_root_token(dir.path(), &db.url).await;
    let base = server.base.clone();
    assert!(
        tokens_in(&startup_log(&server).await).is_empty(),
        "not logged again"
    );
    assert_eq!(orgs_status(&base, token).await, 200);
}

/// The log up to the first request's line: start-up lines, written in order
/// before it, are all there by then.
async fn startup_log(server: &ServerProcess) -> String {
    server
        .log_once_it_holds("/healthz", std::time::Duration::from_secs(10))
        .await
}

/// The binary with no root token configured.
async fn generating_a_root_token(dir: &Path, database_url: &str) -> ServerProcess {
    ServerProcess::start_with(dir, database_url, &[("KEYWARD_ROOT_TOKEN", None)]).await
}

on_both_backends!(a_generated_root_token_is_logged_once_and_kept);
