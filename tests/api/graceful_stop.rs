//! SIGTERM (or SIGINT) under load: the server stops taking connections,
//! answers every request that reached it, writes the pending usage counts
//! and exits 0. Every request either completes or is refused at connect.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::helpers::{Backend, TestDatabase, API};
use crate::support::server_process::ServerProcess;

const CALLERS: usize = 16;

/// What one `POST /v1/keys/verify` came to.
#[derive(Debug)]
enum Outcome {
    Valid,
    /// The connection was refused: the server had stopped accepting.
    Refused,
    /// Anything else: no answer, a wrong answer, or a response cut short.
    Broken(String),
}

/// A resource server (org of the operator) and an API key to check.
async fn key_to_check(server: &ServerProcess) -> (String, String, String, String) {
    let org = server.create_org().await;
    let rs = server
        .admin_ok(
            Method::POST,
            &format!("/admin/v1/orgs/{org}/clients"),
            Some(json!({"name": "api", "scopes": ["keyward:introspect"],
                        "audiences": [API], "resource_server": true})),
            201,
        )
        .await;
    let key = server
        .admin_ok(
            Method::POST,
            &format!("/admin/v1/orgs/{org}/api-keys"),
            Some(json!({"name": "load", "scopes": ["payouts:read"],
                        "rate_limit_per_minute": 10000})),
            201,
        )
        .await;
    let path = format!(
        "/admin/v1/orgs/{org}/api-keys/{}",
        key["id"].as_str().unwrap()
    );
    (
        rs["client_id"].as_str().unwrap().to_owned(),
        rs["client_secret"].as_str().unwrap().to_owned(),
        key["key"].as_str().unwrap().to_owned(),
        path,
    )
}

async fn verify_once(
    http: &reqwest::Client,
    url: &str,
    rs: &(String, String),
    key: &str,
) -> Outcome {
    let sent = http
        .post(url)
        .basic_auth(&rs.0, Some(&rs.1))
        .json(&json!({ "key": key }))
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) if e.is_connect() => return Outcome::Refused,
        Err(e) => return Outcome::Broken(format!("{e:?}")),
    };
    let status = response.status();
    match response.json::<Value>().await {
        Ok(body) if status == 200 && body["code"] == "VALID" => Outcome::Valid,
        Ok(body) => Outcome::Broken(format!("{status} {body}")),
        Err(e) => Outcome::Broken(format!("{status}, body cut short: {e:?}")),
    }
}

/// A verify request whose body arrives in two parts, so it is in flight
/// for as long as the test likes.
struct SlowVerify {
    stream: tokio::net::TcpStream,
    rest: String,
}

impl SlowVerify {
    async fn begin(address: &str, rs: &(String, String), key: &str) -> Self {
        use base64::Engine;
        use tokio::io::AsyncWriteExt;
        let body = json!({ "key": key }).to_string();
        let (first, rest) = body.split_at(body.len() / 2);
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", rs.0, rs.1));
        let head = format!(
            "POST /v1/keys/verify HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {credentials}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(first.as_bytes()).await.unwrap();
        Self {
            stream,
            rest: rest.to_owned(),
        }
    }

    /// Sends the rest of the body and reads the whole response.
    async fn finish(mut self) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut response = Vec::new();
        let sent = self.stream.write_all(self.rest.as_bytes()).await;
        let read = self.stream.read_to_end(&mut response).await;
        format!("{sent:?} {read:?} {}", String::from_utf8_lossy(&response))
    }
}

async fn sigterm_under_load_finishes_accepted_requests_and_counts_them(backend: Backend) {
    stop_under_load(backend, "TERM").await;
}

/// actix-web alone would treat SIGINT as a forced stop.
#[tokio::test]
async fn sigint_under_load_is_a_graceful_stop_too() {
    stop_under_load(Backend::Sqlite, "INT").await;
}

async fn stop_under_load(backend: Backend, signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(backend, dir.path()).await;
    let mut server = ServerProcess::start(dir.path(), &db.url).await;
    let (rs_id, rs_secret, key, key_path) = key_to_check(&server).await;

    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let url = server.url("/v1/keys/verify");
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (outcomes, url, key) = (outcomes.clone(), url.clone(), key.clone());
            let rs = (rs_id.clone(), rs_secret.clone());
            tokio::spawn(async move {
                // Each caller is a resource server with its own keep-alive pool.
                let http = keyward::tls::client();
                let started = Instant::now();
                // Until the server refuses connections: after that, it is gone.
                while started.elapsed() < Duration::from_secs(60) {
                    let outcome = verify_once(&http, &url, &rs, &key).await;
                    let refused = matches!(outcome, Outcome::Refused);
                    outcomes.lock().unwrap().push(outcome);
                    if refused {
                        break;
                    }
                }
            })
        })
        .collect();

    // Signal while the load is in full swing.
    let started = Instant::now();
    while outcomes.lock().unwrap().len() < 300 {
        assert!(started.elapsed() < Duration::from_secs(30), "no load");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let address = server.base.trim_start_matches("http://").to_owned();
    let in_flight = SlowVerify::begin(&address, &(rs_id.clone(), rs_secret.clone()), &key).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.signal(signal);
    // Stops taking connections at once, while the slow request is still in
    // flight: a new connect gets no handshake.
    let started = Instant::now();
    while connects_within(&address, Duration::from_millis(300)).await {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still accepting"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let response = in_flight.finish().await.to_ascii_lowercase();
    assert!(
        response.contains("http/1.1 200")
            && response.contains(r#""code":"valid""#)
            && response.contains("connection: close"),
        "the request in flight at the signal: {response}"
    );
    let status = server.exit_status(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "{}", server.log());
    for caller in callers {
        caller.await.unwrap();
    }

    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let valid = count(|o| matches!(o, Outcome::Valid));
    let refused = count(|o| matches!(o, Outcome::Refused));
    let broken: Vec<&String> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Broken(what) => Some(what),
            _ => None,
        })
        .collect();
    assert!(broken.is_empty(), "{broken:?}");
    assert_eq!(refused, CALLERS, "every caller ends refused at connect");
    assert_eq!(valid + refused, outcomes.len());
    assert!(valid >= 300);

    // Every completed check (and the slow one) is counted, and nothing
    // else: a request the server answered is one the caller received.
    let restarted = ServerProcess::start(dir.path(), &db.url).await;
    let stored = restarted.admin_ok(Method::GET, &key_path, None, 200).await;
    assert_eq!(
        stored["request_count"].as_u64(),
        Some(valid as u64 + 1),
        "the stopped server's log:\n{}",
        server.log()
    );
}

/// A server on a fresh SQLite database with one setting changed.
async fn sqlite_server_with(
    name: &str,
    value: &str,
) -> (tempfile::TempDir, TestDatabase, ServerProcess) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(Backend::Sqlite, dir.path()).await;
    let server = ServerProcess::start_with(dir.path(), &db.url, &[(name, Some(value))]).await;
    (dir, db, server)
}

/// Whether a TCP handshake with `address` completes within `limit`.
async fn connects_within(address: &str, limit: Duration) -> bool {
    matches!(
        tokio::time::timeout(limit, tokio::net::TcpStream::connect(address)).await,
        Ok(Ok(_))
    )
}

/// With `shutdown_drain_seconds`, a stopping server answers not ready and
/// still serves new connections for that long, each response closing its
/// connection; then it refuses connections and exits 0.
#[tokio::test]
async fn the_drain_window_serves_new_connections_while_not_ready() {
    let (_dir, _db, mut server) = sqlite_server_with("KEYWARD_SHUTDOWN_DRAIN_SECONDS", "3").await;
    let http = keyward::tls::client();
    let readyz = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), 200);
    assert!(readyz.headers().get("connection").is_none());

    server.signal("TERM");
    let signalled = Instant::now();
    let stopping = loop {
        let readyz = http.get(server.url("/readyz")).send().await.unwrap();
        if readyz.status() == 503 {
            break readyz;
        }
        assert!(signalled.elapsed() < Duration::from_secs(3), "still ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(stopping.headers()["connection"], "close");
    let body: Value = stopping.json().await.unwrap();
    assert_eq!(body["status"], "stopping");
    // A client that comes now, on a new connection, is still served.
    let fresh = keyward::tls::client()
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200);
    assert_eq!(fresh.headers()["connection"], "close");

    let status = server.exit_status(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "{}", server.log());
    assert!(signalled.elapsed() >= Duration::from_secs(3), "left early");
    let after = http.get(server.url("/healthz")).send().await.unwrap_err();
    assert!(after.is_connect(), "{after:?}");
}

on_both_backends!(sigterm_under_load_finishes_accepted_requests_and_counts_them);

/// A request that never finishes holds the stop up only until the shutdown
/// timeout (the drain's wait, then actix-web's own).
#[tokio::test]
async fn a_stuck_request_holds_the_stop_only_until_the_timeout() {
    let (_dir, _db, mut server) = sqlite_server_with("KEYWARD_SHUTDOWN_TIMEOUT_SECONDS", "1").await;
    let (rs_id, rs_secret, key, _) = key_to_check(&server).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let _stuck = SlowVerify::begin(&address, &(rs_id, rs_secret), &key).await;
    server.signal("TERM");
    let signalled = Instant::now();
    let status = server.exit_status(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "{}", server.log());
    assert!(
        signalled.elapsed() >= Duration::from_secs(1),
        "did not wait"
    );
    assert!(
        server
            .log()
            .contains("connections still open at the shutdown timeout"),
        "{}",
        server.log()
    );
}
