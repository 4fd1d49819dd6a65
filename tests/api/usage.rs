//! Usage written behind the requests: per-minute rows, `request_count` and
//! `last_used_at`, exact under concurrency and across a graceful stop.

use std::time::{Duration, Instant};

use keyward::domain::{ApiKeyId, Plan};
use reqwest::Method;
use serde_json::json;

use crate::on_both_backends;
use crate::support::helpers::{
    spawn_app, spawn_app_with, Backend, TestApiKey, TestApp, API, ROOT_TOKEN,
};

async fn request_count(app: &TestApp, org: &keyward::domain::OrgId, key: &TestApiKey) -> i64 {
    let id = ApiKeyId::parse(&key.id).unwrap();
    app.store.get_api_key(org, &id).await.unwrap().request_count
}

async fn checks_by_many_callers_are_all_counted(backend: Backend) {
    let app = spawn_app(backend).await;
    let rs = app.create_resource_server(&[API]).await;
    let org = app.create_org(Plan::Enterprise).await;
    let key = app
        .create_api_key(&org, &["payouts:read"], |k| {
            k.rate_limit_per_minute = Some(10_000)
        })
        .await
        .unwrap();

    // 50 callers at once, 40 checks each, by verify and by introspection.
    let callers = (0..50).map(|caller| {
        let (app, rs, key) = (&app, &rs, &key);
        async move {
            for i in 0..40 {
                if (caller + i) % 2 == 0 {
                    let (_, body) = app.verify_key(rs, json!({ "key": key.key })).await;
                    assert_eq!(body["code"], "VALID");
                } else {
                    assert_eq!(app.introspect(rs, &key.key, &[]).await.1["active"], true);
                }
            }
        }
    });
    futures_util::future::join_all(callers).await;

    let start = Instant::now();
    while request_count(&app, &org, &key).await != 2000 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "usage not written"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let id = ApiKeyId::parse(&key.id).unwrap();
    let stored = app.store.get_api_key(&org, &id).await.unwrap();
    assert!(stored.last_used_at.unwrap() >= chrono::Utc::now().timestamp() - 60);

    let path = format!(
        "/admin/v1/orgs/{org}/api-keys/{}/usage?granularity=minute",
        key.id
    );
    let (status, series) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
    assert_eq!(status, 200, "{series}");
    let total: i64 = series["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 2000);
    let (_, by_day) = app
        .admin(
            Method::GET,
            &path.replace("minute", "day"),
            ROOT_TOKEN,
            None,
        )
        .await;
    assert_eq!(by_day["items"].as_array().unwrap().len(), 1);
    let (status, _) = app
        .admin(
            Method::GET,
            &path.replace("minute", "week"),
            ROOT_TOKEN,
            None,
        )
        .await;
    assert_eq!(status, 400);
}

/// Uses wait for the next flush, `usage_flush_seconds` apart; the flush
/// writes them all.
async fn usage_is_written_every_usage_flush_seconds(backend: Backend) {
    const FLUSH: Duration = Duration::from_secs(6);
    let spawned = Instant::now();
    let app = spawn_app_with(backend, |s| s.usage_flush_seconds = FLUSH.as_secs()).await;
    let rs = app.create_resource_server(&[API]).await;
    let org = app.create_org(Plan::Enterprise).await;
    let key = app
        .create_api_key(&org, &["payouts:read"], |_| {})
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            app.verify_key(&rs, json!({ "key": key.key })).await.1["code"],
            "VALID"
        );
    }
    // No flush can have run yet: the first comes FLUSH after the start.
    assert!(spawned.elapsed() < FLUSH, "the test itself took too long");
    assert_eq!(request_count(&app, &org, &key).await, 0);
    let written = loop {
        let count = request_count(&app, &org, &key).await;
        if count > 0 || spawned.elapsed() > 3 * FLUSH {
            break count;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(written, 3, "one flush writes every use since the start");
    assert!(spawned.elapsed() >= FLUSH);
}

async fn a_graceful_stop_loses_no_count(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let rs = app.create_resource_server(&[API]).await;
    let org = app.create_org(Plan::Enterprise).await;
    let key = app
        .create_api_key(&org, &["payouts:read"], |k| {
            k.rate_limit_per_minute = Some(10_000)
        })
        .await
        .unwrap();
    for _ in 0..25 {
        app.verify_key(&rs, json!({ "key": key.key })).await;
    }
    // Stop at once, well inside the flush interval.
    app.server.stop(true).await;
    app.running.take().unwrap().await.unwrap().unwrap();
    assert_eq!(request_count(&app, &org, &key).await, 25);
}

/// Every token issued counts for its client, shown by the management API;
/// a refused request does not.
async fn tokens_issued_count_for_their_client(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.create_client(&["payouts:read"], &[]).await;
    let path = format!("/admin/v1/orgs/{}/clients/{}", client.org_id, client.id);
    let (status, view) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        (&view["request_count"], &view["last_used_at"]),
        (&json!(0), &json!(null))
    );

    let requests = (0..10).map(|_| async {
        for _ in 0..3 {
            app.token(&client, &[]).await;
        }
    });
    futures_util::future::join_all(requests).await;
    let refused = app
        .post_token(
            &client,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "wallets:read"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 400);

    let start = Instant::now();
    let view = loop {
        let (_, view) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
        if view["request_count"] == 30 {
            break view;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "usage not written: {view}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let last_used = chrono::DateTime::parse_from_rfc3339(view["last_used_at"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert!(last_used >= chrono::Utc::now().timestamp() - 60);
    app.usage_written().await;
    let (_, view) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
    assert_eq!(
        view["request_count"], 30,
        "the refused request is not counted"
    );
}

/// Updates of `oauth_clients` so far, and how many of them were HOT
/// (PostgreSQL's statistics, which backends report when idle).
async fn client_updates(pool: &sqlx::PgPool) -> (i64, i64) {
    sqlx::query_as(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'oauth_clients'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// On PostgreSQL a client's counters are rewritten on the page its row is
/// on, which keeps room for them (a HOT update), rather than moved to
/// another page with a new entry in each index (see the fillfactor
/// migration).
#[tokio::test]
async fn clients_counters_are_rewritten_in_place_on_postgres() {
    let app = spawn_app(Backend::Postgres).await;
    let mut clients = Vec::new();
    for _ in 0..60 {
        clients.push(app.create_client(&["payouts:read"], &[]).await);
    }
    let rounds = 4;
    for _ in 0..rounds {
        futures_util::future::join_all(clients.iter().map(|c| app.token(c, &[]))).await;
        app.usage_written().await;
    }
    let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
    let start = Instant::now();
    let (updates, hot) = loop {
        let (updates, hot) = client_updates(&pool).await;
        if updates >= rounds * 60 {
            break (updates, hot);
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{updates} updates reported"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(hot * 10 >= updates * 9, "{hot} of {updates} updates HOT");
}

on_both_backends!(
    tokens_issued_count_for_their_client,
    checks_by_many_callers_are_all_counted,
    a_graceful_stop_loses_no_count,
    usage_is_written_every_usage_flush_seconds,
);
