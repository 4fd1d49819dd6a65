//! The operator's root token when none is configured: generated on first
//! start, logged exactly once, stored only as a hash, and the same on
//! every later start.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::cli::Child;
use crate::helpers::{Backend, TestDatabase};
use crate::on_both_backends;

/// Starts `keyward serve` with its log (stderr) in `log`, and waits until it answers.
async fn serve(dir: &Path, database_url: &str, log: &Path) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("KEYWARD_")) {
        command.env_remove(key);
    }
    let child = command
        .current_dir(dir)
        .env("KEYWARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("KEYWARD_DATABASE_URL", database_url)
        .env("KEYWARD_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let child = Child(child);
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{base}/healthz")).await.is_ok() {
            return (child, base);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not come up");
}

/// Every `kwr_…` token in a log.
fn tokens_in(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap();
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
    reqwest::Client::new()
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
    let first_log = dir.path().join("first.log");
    let (server, base) = serve(dir.path(), &db.url, &first_log).await;
    let tokens = tokens_in(&first_log);
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

    let second_log = dir.path().join("second.log");
    let (_server, base) = serve(dir.path(), &db.url, &second_log).await;
    assert!(tokens_in(&second_log).is_empty(), "not logged again");
    assert_eq!(orgs_status(&base, token).await, 200);
}

on_both_backends!(a_generated_root_token_is_logged_once_and_kept);
