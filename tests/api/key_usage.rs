//! `POST /v1/keys/usage`: uses a resource server served from a cached
//! verdict, counted in the key's usage and rate budget. The guard's own
//! reports are tested in `guard_api_keys.rs`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::helpers::{status_and_json, Backend, TestApp, TestClient, ROOT_TOKEN};

async fn report(app: &TestApp, caller: &TestClient, body: Value) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/v1/keys/usage"))
        .basic_auth(&caller.id, Some(&caller.secret))
        .json(&body)
        .send()
        .await
        .unwrap();
    status_and_json(response).await
}

async fn reported_uses_count_and_spend_the_budget(backend: Backend) {
    let app = crate::support::helpers::spawn_app(backend).await;
    let (rs, org, key) = app
        .key_to_check(|k| k.rate_limit_per_minute = Some(5))
        .await;
    assert_eq!(
        report(&app, &rs, json!({"key": key.key, "uses": 4}))
            .await
            .0,
        204
    );
    let check = json!({"key": key.key, "required_scope": "payouts:read"});
    let (_, verdict) = app.verify_key(&rs, check.clone()).await;
    assert_eq!(verdict["code"], "VALID", "{verdict}");
    assert_eq!(verdict["ratelimit"]["remaining"], 0);
    assert_eq!(app.verify_key(&rs, check).await.1["code"], "RATE_LIMITED");

    // Nothing to count for an unknown key; the answer is the same.
    let unknown = json!({"key": "kw_unknown", "uses": 1});
    assert_eq!(report(&app, &rs, unknown).await.0, 204);

    app.usage_written().await;
    let path = format!("/admin/v1/orgs/{org}/api-keys/{}", key.id);
    let (_, shown) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
    assert_eq!(shown["request_count"], 5, "{shown}");
}

async fn bad_reports_and_callers_are_refused(backend: Backend) {
    let app = crate::support::helpers::spawn_app(backend).await;
    let (rs, org, key) = app.key_to_check(|_| {}).await;
    for bad in [
        json!({"key": key.key, "uses": 0}),
        json!({"key": key.key, "uses": 10_001}),
        json!({"key": key.key, "uses": -1}),
        json!({"key": key.key}),
        json!({"key": key.key, "uses": 1, "extra": true}),
    ] {
        let (status, body) = report(&app, &rs, bad.clone()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{bad}"
        );
        assert!(!body.to_string().contains(&key.key), "{body}");
    }
    let stranger = app.create_client(&["payouts:read"], &[]).await;
    let (status, body) = report(&app, &stranger, json!({"key": key.key, "uses": 1})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    app.usage_written().await;
    let path = format!("/admin/v1/orgs/{org}/api-keys/{}", key.id);
    let (_, shown) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
    assert_eq!(shown["request_count"], 0, "{shown}");
}

on_both_backends!(
    reported_uses_count_and_spend_the_budget,
    bad_reports_and_callers_are_refused,
);
