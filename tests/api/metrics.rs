//! `GET /metrics`: real traffic moves the published numbers, read back by
//! parsing the Prometheus text format.

use keyward::domain::Plan;
use reqwest::Method;
use serde_json::json;

use crate::on_both_backends;
use crate::support::helpers::{
    spawn_app, spawn_app_with, Backend, TestApp, TestClient, API, ROOT_TOKEN,
};
use crate::support::metrics_scrape::Scrape;

async fn wrong_secret_token_request(app: &TestApp, client: &TestClient) -> u16 {
    app.http
        .post(app.url("/oauth/token"))
        .basic_auth(&client.id, Some("kws_not-the-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn traffic_moves_the_metrics(backend: Backend) {
    let app = spawn_app(backend).await;
    let rs = app.create_resource_server(&[API]).await;
    let client = app.create_client(&["payouts:read"], &[API]).await;
    let org = app.create_org(Plan::Enterprise).await;
    let key = app
        .create_api_key(&org, &["payouts:read"], |_| {})
        .await
        .unwrap();
    let before = Scrape::of(&app).await;

    let token = app.token(&client, &[("resource", API)]).await;
    assert_eq!(app.introspect(&rs, &token, &[]).await.1["active"], true);
    assert_eq!(
        app.introspect(&rs, "not-a-token", &[]).await.1["active"],
        false
    );
    let verdict = app.verify_key(&rs, json!({ "key": key.key })).await.1;
    assert_eq!(verdict["code"], "VALID");
    let unknown = app.verify_key(&rs, json!({ "key": "kw_nope" })).await.1;
    assert_eq!(unknown["code"], "NOT_FOUND");
    assert_eq!(wrong_secret_token_request(&app, &client).await, 401);
    let org_path = format!("/admin/v1/orgs/{org}");
    assert_eq!(
        app.admin(Method::GET, &org_path, ROOT_TOKEN, None).await.0,
        200
    );
    let missing = app.http.get(app.url("/no/such/path")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let brew = reqwest::Method::from_bytes(b"BREW").unwrap();
    let made_up = app
        .http
        .request(brew, app.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(made_up.status(), 405);

    let after = Scrape::of(&app).await;
    let moved =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    let requests = "keyward_http_requests_total";
    let token_route = [("method", "POST"), ("route", "/oauth/token")];
    assert_eq!(
        moved(
            requests,
            &[token_route[0], token_route[1], ("status", "200")]
        ),
        1.0
    );
    assert_eq!(
        moved(
            requests,
            &[token_route[0], token_route[1], ("status", "401")]
        ),
        1.0
    );
    let admin = [
        ("method", "GET"),
        ("route", "/admin/v1/orgs/{org_id}"),
        ("status", "200"),
    ];
    assert_eq!(moved(requests, &admin), 1.0);
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert_eq!(moved(requests, &unmatched), 1.0);
    let other = [
        ("method", "other"),
        ("route", "/healthz"),
        ("status", "405"),
    ];
    assert_eq!(
        moved(requests, &other),
        1.0,
        "made-up methods share one label"
    );
    assert!(
        !after
            .all_label_values()
            .iter()
            .any(|v| v.contains(org.as_str()) || v.contains("/no/such") || *v == "BREW"),
        "routes are patterns, never raw paths"
    );
    let latency = "keyward_http_request_duration_seconds_count";
    assert_eq!(moved(latency, &token_route), 2.0);
    let inf = [token_route[0], token_route[1], ("le", "+Inf")];
    assert_eq!(
        moved("keyward_http_request_duration_seconds_bucket", &inf),
        2.0
    );

    assert_eq!(moved("keyward_tokens_issued_total", &[]), 1.0);
    let introspections = "keyward_introspections_total";
    assert_eq!(moved(introspections, &[("result", "active")]), 1.0);
    assert_eq!(moved(introspections, &[("result", "inactive")]), 1.0);
    let verifications = "keyward_key_verifications_total";
    assert_eq!(moved(verifications, &[("code", "VALID")]), 1.0);
    assert_eq!(moved(verifications, &[("code", "NOT_FOUND")]), 1.0);
    // Generated secrets are checked by digest: no argon2, right or wrong.
    assert_eq!(moved("keyward_argon2_verifications_total", &[]), 0.0);
    assert!(after.has("keyward_secret_hashes_rewritten_total"));
    assert!(moved("keyward_rate_limit_checks_total", &[]) >= 1.0);
    assert_eq!(after.get("keyward_rate_limited_total", &[]), 0.0);
    assert!(after.has("keyward_rate_limited_total"));

    assert_eq!(
        after.get(
            "keyward_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert!(after.get("keyward_db_pool_connections", &[]) >= 1.0);
    assert!(
        after.get("keyward_db_pool_max_connections", &[])
            >= after.get("keyward_db_pool_connections", &[])
    );
    assert!(after.has("keyward_db_pool_idle_connections"));
    assert_eq!(
        after.get("keyward_rate_limiter_redis", &[]),
        0.0,
        "no redis configured"
    );
    assert!(after.has("keyward_usage_queue_depth"));
    assert_eq!(after.get("keyward_usage_flush_failures_total", &[]), 0.0);
    assert!(after.has("keyward_usage_flush_failures_total"));
}

async fn rate_limits_changes_and_the_usage_queue_are_published(backend: Backend) {
    let app = spawn_app(backend).await;
    let (rs, org, key) = app
        .key_to_check(|k| k.rate_limit_per_minute = Some(1))
        .await;
    let before = Scrape::of(&app).await;
    for _ in 0..2 {
        app.verify_key(&rs, json!({ "key": key.key })).await;
    }
    let scrape = Scrape::of(&app).await;
    let limited = scrape.get(
        "keyward_key_verifications_total",
        &[("code", "RATE_LIMITED")],
    );
    assert_eq!(limited, 1.0);
    assert!(scrape.get("keyward_rate_limited_total", &[]) >= 1.0);
    assert!(
        scrape.get("keyward_usage_queue_depth", &[]) >= 1.0,
        "usage waits for the flush"
    );

    // A change made through the management API evicts the cached key and
    // reaches the change feed.
    let deactivate = format!("/admin/v1/orgs/{org}/api-keys/{}/deactivate", key.id);
    assert_eq!(
        app.admin(Method::POST, &deactivate, ROOT_TOKEN, None)
            .await
            .0,
        200
    );
    let mut after = Scrape::of(&app).await;
    for _ in 0..50 {
        if after.get("keyward_change_notifications_total", &[])
            > before.get("keyward_change_notifications_total", &[])
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        after = Scrape::of(&app).await;
    }
    let evictions = [("cache", "api_key")];
    assert!(
        after.get("keyward_cache_evictions_total", &evictions)
            > before.get("keyward_cache_evictions_total", &evictions)
    );
    assert!(
        after.get("keyward_change_notifications_total", &[])
            > before.get("keyward_change_notifications_total", &[])
    );
    // The usage flusher runs every second.
    for _ in 0..50 {
        if Scrape::of(&app).await.get("keyward_usage_queue_depth", &[]) == 0.0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the usage queue did not drain");
}

#[tokio::test]
async fn the_redis_limiter_state_is_one_while_redis_serves() {
    let _redis = crate::shared_limits::redis_turn().await;
    let url =
        std::env::var("KEYWARD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let app = spawn_app_with(Backend::Sqlite, |s| s.redis_url = Some(url)).await;
    let (rs, _, key) = app.key_to_check(|_| {}).await;
    assert_eq!(
        app.verify_key(&rs, json!({ "key": key.key })).await.1["code"],
        "VALID"
    );
    assert_eq!(
        Scrape::of(&app)
            .await
            .get("keyward_rate_limiter_redis", &[]),
        1.0
    );

    let unreachable = spawn_app_with(Backend::Sqlite, |s| {
        s.redis_url = Some("redis://127.0.0.1:1".into())
    })
    .await;
    let (rs, _, key) = unreachable.key_to_check(|_| {}).await;
    let verdict = unreachable
        .verify_key(&rs, json!({ "key": key.key }))
        .await
        .1;
    assert_eq!(verdict["code"], "VALID", "falls back to local budgets");
    let scrape = Scrape::of(&unreachable).await;
    assert_eq!(scrape.get("keyward_rate_limiter_redis", &[]), 0.0);
}

/// Apps in one process keep their own numbers.
#[tokio::test]
async fn each_app_counts_only_its_own_traffic() {
    let first = spawn_app(Backend::Sqlite).await;
    let second = spawn_app(Backend::Sqlite).await;
    let client = first.create_client(&["payouts:read"], &[API]).await;
    first.token(&client, &[]).await;
    assert_eq!(
        Scrape::of(&first)
            .await
            .get("keyward_tokens_issued_total", &[]),
        1.0
    );
    assert_eq!(
        Scrape::of(&second)
            .await
            .get("keyward_tokens_issued_total", &[]),
        0.0
    );
}

on_both_backends!(
    traffic_moves_the_metrics,
    rate_limits_changes_and_the_usage_queue_are_published,
);
