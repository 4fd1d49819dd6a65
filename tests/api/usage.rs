//! Usage written behind the requests: per-minute rows, `request_count` and
//! `last_used_at`, exact under concurrency and across a graceful stop.

use std::time::{Duration, Instant};

use keyward::domain::{ApiKeyId, Plan};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, Backend, TestApiKey, TestApp, API, ROOT_TOKEN};
use crate::on_both_backends;

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
            k.rate_limit_per_minute = 10_000
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

async fn a_graceful_stop_loses_no_count(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let rs = app.create_resource_server(&[API]).await;
    let org = app.create_org(Plan::Enterprise).await;
    let key = app
        .create_api_key(&org, &["payouts:read"], |k| {
            k.rate_limit_per_minute = 10_000
        })
        .await
        .unwrap();
    for _ in 0..25 {
        app.verify_key(&rs, json!({ "key": key.key })).await;
    }
    // Stop at once, well inside the one-second flush interval.
    app.server.stop(true).await;
    app.running.take().unwrap().await.unwrap().unwrap();
    assert_eq!(request_count(&app, &org, &key).await, 25);
}

on_both_backends!(
    checks_by_many_callers_are_all_counted,
    a_graceful_stop_loses_no_count,
);
