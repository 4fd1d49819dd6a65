//! `kill -9` in the middle of management writes: after a restart on the
//! same database, every write that was acknowledged (2xx) is there.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::on_both_backends;
use crate::support::helpers::{Backend, TestDatabase};
use crate::support::server_process::ServerProcess;

const WRITERS: usize = 8;
const ACKNOWLEDGED_BEFORE_CRASH: usize = 120;

/// A write the server acknowledged, and how to see it afterwards.
#[derive(Debug)]
enum Acknowledged {
    /// A client or API key created at this path.
    Created { path: String },
    /// The client at `path` renamed to `rename-<n>`.
    Renamed { path: String, n: u64 },
}

/// One writer: creates a client, renames it, creates an API key, again and
/// again, until the server is gone.
async fn write_until_gone(server_url: String, org: String, acks: Arc<Mutex<Vec<Acknowledged>>>) {
    let http = keyward::tls::client();
    let root = crate::support::helpers::ROOT_TOKEN;
    let call = |method: Method, path: String, body: serde_json::Value| {
        let request = http
            .request(method, format!("{server_url}{path}"))
            .bearer_auth(root)
            .json(&body);
        async move {
            let response = request.send().await.ok()?;
            let status = response.status();
            let body: serde_json::Value = response.json().await.ok()?;
            assert!(status.is_success(), "{status} {body}");
            Some(body)
        }
    };
    for n in 0.. {
        let clients = format!("/admin/v1/orgs/{org}/clients");
        let body = json!({"name": format!("client-{n}"), "scopes": ["payouts:read"]});
        let Some(client) = call(Method::POST, clients.clone(), body).await else {
            return;
        };
        let path = format!("{clients}/{}", client["client_id"].as_str().unwrap());
        acks.lock()
            .unwrap()
            .push(Acknowledged::Created { path: path.clone() });

        let rename = json!({"name": format!("rename-{n}")});
        if call(Method::PATCH, path.clone(), rename).await.is_none() {
            return;
        }
        acks.lock().unwrap().push(Acknowledged::Renamed { path, n });

        let keys = format!("/admin/v1/orgs/{org}/api-keys");
        let body = json!({"name": format!("key-{n}"), "scopes": ["payouts:read"]});
        let Some(key) = call(Method::POST, keys.clone(), body).await else {
            return;
        };
        let path = format!("{keys}/{}", key["id"].as_str().unwrap());
        acks.lock().unwrap().push(Acknowledged::Created { path });
    }
}

async fn acknowledged_writes_survive_kill_9(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(backend, dir.path()).await;
    let mut server = ServerProcess::start(dir.path(), &db.url).await;
    let org = server.create_org().await;

    let acks = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            tokio::spawn(write_until_gone(
                server.base.clone(),
                org.clone(),
                acks.clone(),
            ))
        })
        .collect();
    let started = Instant::now();
    while acks.lock().unwrap().len() < ACKNOWLEDGED_BEFORE_CRASH {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "writes too slow"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.crash();
    for writer in writers {
        writer.await.unwrap();
    }

    let restarted = ServerProcess::start(dir.path(), &db.url).await;
    let acks = std::mem::take(&mut *acks.lock().unwrap());
    for ack in &acks {
        match ack {
            Acknowledged::Created { path } => {
                restarted.admin_ok(Method::GET, path, None, 200).await;
            }
            Acknowledged::Renamed { path, n } => {
                let client = restarted.admin_ok(Method::GET, path, None, 200).await;
                assert_eq!(client["name"], format!("rename-{n}"), "{path}");
            }
        }
    }
}

on_both_backends!(acknowledged_writes_survive_kill_9);
