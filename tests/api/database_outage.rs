//! PostgreSQL goes away mid-service: the node reaches it through a TCP proxy
//! that the test cuts and restores. Warm requests answer from cache for the
//! bounded staleness, then fail closed; what needs the database gets 503;
//! usage and audit writes wait and land when it returns; the pool reconnects.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyward::domain::Plan;
use keyward::time::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

use crate::support::helpers::{
    start_with_clock, status_and_json, test_settings, Backend, TestApp, TestDatabase, API,
    ROOT_TOKEN,
};
use crate::support::metrics_scrape::Scrape;

/// Forwards TCP to PostgreSQL until cut: then it drops every open connection
/// and refuses new ones, as a dead server or a partition would.
struct CuttableProxy {
    port: u16,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accepting: tokio::task::JoinHandle<()>,
}

impl CuttableProxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (is_cut, open) = (cut.clone(), links.clone());
        let accepting = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if is_cut.load(Ordering::SeqCst) {
                    continue; // dropped: the connection closes at once
                }
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                open.lock().unwrap().push(link.abort_handle());
            }
        });
        Self {
            port,
            cut,
            links,
            accepting,
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.cut();
        self.accepting.abort();
    }
}

/// A node on a fresh PostgreSQL database that it reaches through the proxy.
/// A node whose clock the test moves, so that records age without waiting.
async fn node_behind_proxy(max_staleness: u64) -> (TestApp, CuttableProxy, Arc<ManualClock>) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(Backend::Postgres, dir.path()).await;
    let url = url::Url::parse(&db.url).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = CuttableProxy::start(upstream).await;
    let mut settings = test_settings(dir.path(), &db);
    let mut via_proxy = url.clone();
    via_proxy.set_host(Some("127.0.0.1")).unwrap();
    via_proxy.set_port(Some(proxy.port)).unwrap();
    settings.database_url = keyward::configuration::DatabaseUrl::new(via_proxy.to_string());
    settings.status_cache_ttl_seconds = 1;
    settings.max_staleness_seconds = max_staleness;
    // The test's own store (app.store) connects directly, past the proxy.
    let clock = ManualClock::starting_now();
    let app = start_with_clock(settings, db, dir, clock.clone()).await;
    (app, proxy, clock)
}

async fn token_request(app: &TestApp, id: &str, secret: &str) -> (u16, Value, Option<String>) {
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("resource", API)])
        .send()
        .await
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = status_and_json(response).await;
    (status, body, retry_after)
}

async fn ready(app: &TestApp) -> u16 {
    app.http
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_node_rides_out_a_postgres_outage_and_recovers_without_a_restart() {
    let (app, proxy, clock) = node_behind_proxy(4).await;
    let rs = app.create_resource_server(&[API]).await;
    let org = app.create_org(Plan::Enterprise).await;
    let client = app
        .create_client_in(&org, &["payouts:read"], &[API], None)
        .await;
    let key = app
        .create_api_key(&org, &["payouts:read"], |k| {
            k.rate_limit_per_minute = Some(1000)
        })
        .await
        .unwrap();
    let auditor = app.admin_token(&org, &["keyward:audit:read"]).await;

    // Warm: each credential verified once.
    let (status, issued, _) = token_request(&app, &client.id, &client.secret).await;
    assert_eq!(status, 200, "{issued}");
    let token = issued["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.introspect(&rs, &token, &[]).await.1["active"], true);
    assert_eq!(
        app.verify_key(&rs, json!({"key": key.key})).await.1["code"],
        "VALID"
    );
    let mut valid_checks = 1;

    proxy.cut();
    // Past the freshness of the cached records, within the staleness bound.
    clock.advance(Duration::from_millis(1500));
    let (status, body, _) = token_request(&app, &client.id, &client.secret).await;
    assert_eq!(
        status, 200,
        "a warm token request answers from cache: {body}"
    );
    assert_eq!(app.introspect(&rs, &token, &[]).await.1["active"], true);
    let (status, verdict) = app.verify_key(&rs, json!({"key": key.key})).await;
    assert_eq!((status, verdict["code"].as_str()), (200, Some("VALID")));
    valid_checks += 1;
    assert_eq!(ready(&app).await, 503);

    // What needs the database gets 503 with Retry-After, never a 500.
    let stranger = app
        .create_client_in(&org, &["payouts:read"], &[API], None)
        .await;
    let (status, body, retry) = token_request(&app, &stranger.id, &stranger.secret).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert!(retry.is_some());
    let response = app
        .http
        .get(app.url(&format!("/admin/v1/orgs/{org}/audit-events")))
        .bearer_auth(&auditor)
        .header("X-Request-Id", "during-the-outage")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_some());
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "SERVICE_UNAVAILABLE");
    let scrape = Scrape::of(&app).await;
    assert!(scrape.get("keyward_stale_answers_total", &[]) >= 2.0);
    assert!(
        scrape.get("keyward_audit_queue_depth", &[]) >= 1.0,
        "the audit event waits"
    );

    // Past the staleness bound the node fails closed.
    clock.advance(Duration::from_secs(4));
    let (status, body, retry) = token_request(&app, &client.id, &client.secret).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert!(retry.is_some());
    let (status, _) = app.verify_key(&rs, json!({"key": key.key})).await;
    assert_eq!(status, 503);

    // PostgreSQL returns: the pool reconnects and the held writes land.
    proxy.restore();
    let mut recovered = false;
    for _ in 0..100 {
        if ready(&app).await == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "/readyz recovers without a restart");
    let (status, body, _) = token_request(&app, &client.id, &client.secret).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.verify_key(&rs, json!({"key": key.key})).await.1["code"],
        "VALID"
    );
    valid_checks += 1;

    let path = format!("/admin/v1/orgs/{org}/api-keys/{}", key.id);
    let mut counted = Value::Null;
    for _ in 0..50 {
        counted = app.admin(Method::GET, &path, ROOT_TOKEN, None).await.1["request_count"].clone();
        if counted == valid_checks {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(counted, valid_checks, "usage from the outage is written");
    let events = format!("/admin/v1/orgs/{org}/audit-events?action=admin.authenticated");
    let (status, page) = app.admin(Method::GET, &events, &auditor, None).await;
    assert_eq!(status, 200, "{page}");
    let held = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["request_id"] == "during-the-outage");
    assert!(held, "the audit event of the outage is written: {page}");
    assert_eq!(
        Scrape::of(&app).await.get("keyward_audit_queue_depth", &[]),
        0.0
    );
}
