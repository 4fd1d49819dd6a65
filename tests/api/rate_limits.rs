//! Per-credential rate limits (GCRA, in process): key checks by verify and
//! introspection, and token requests per client, with their headers.

use std::time::Duration;

use keyward::domain::Plan;
use keyward::time::{Clock, ManualClock};
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, spawn_app_on, status_and_json, Backend, API};

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_owned()
}

async fn a_key_at_60_a_minute_gets_exactly_60_of_a_burst(backend: Backend) {
    let clock = ManualClock::starting_now();
    let app = spawn_app_on(backend, |_| {}, clock.clone()).await;
    let (rs, _, key) = app.key_to_check(|_| {}).await;
    let verify = || {
        app.http
            .post(app.url("/v1/keys/verify"))
            .basic_auth(&rs.id, Some(&rs.secret))
            .json(&json!({ "key": key.key }))
            .send()
    };

    let first = verify().await.unwrap();
    assert_eq!(header(&first, "x-ratelimit-limit"), "60");
    assert_eq!(header(&first, "x-ratelimit-remaining"), "59");
    assert_eq!(header(&first, "ratelimit-policy"), "\"default\";q=60;w=60");
    assert_eq!(header(&first, "ratelimit"), "\"default\";r=59;t=1");
    let reset: i64 = header(&first, "x-ratelimit-reset").parse().unwrap();
    assert_eq!(reset, clock.unix() + 1);
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["code"], "VALID");
    assert_eq!(body["ratelimit"]["remaining"], 59);

    let burst = futures_util::future::join_all((0..199).map(|_| verify())).await;
    let mut accepted = 1;
    let mut refused = None;
    for response in burst {
        let response = response.unwrap();
        assert_eq!(response.status(), 200);
        let retry = response.headers().get("retry-after").cloned();
        let body: Value = response.json().await.unwrap();
        match body["code"].as_str().unwrap() {
            "VALID" => accepted += 1,
            "RATE_LIMITED" => {
                assert_eq!(body["valid"], false);
                assert!(body["retry_after"].as_u64().unwrap() >= 1);
                assert_eq!(body["ratelimit"]["remaining"], 0);
                assert!(retry.is_some());
                refused = Some(body);
            }
            other => panic!("unexpected {other}"),
        }
    }
    // The server's clock stands still: the burst gets exactly the budget.
    assert_eq!(accepted, 60);
    assert!(refused.is_some());

    let (_, limited) = app.introspect(&rs, &key.key, &[]).await;
    assert_eq!(limited["active"], true, "RFC 7662 has no limited state");
    assert_eq!(limited["rate_limited"], true);
    assert!(limited["retry_after"].as_u64().unwrap() >= 1);

    clock.advance(Duration::from_millis(999));
    let (_, early) = app.verify_key(&rs, json!({ "key": key.key })).await;
    assert_eq!(early["code"], "RATE_LIMITED");
    assert_eq!(early["retry_after"], 1);
    clock.advance(Duration::from_millis(1));
    let (_, again) = app.verify_key(&rs, json!({ "key": key.key })).await;
    assert_eq!(again["code"], "VALID", "one more after a second");
    let (_, over) = app.verify_key(&rs, json!({ "key": key.key })).await;
    assert_eq!(over["code"], "RATE_LIMITED");
}

async fn a_client_over_its_rate_gets_429_at_the_token_endpoint(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app
        .create_client_with(&["payouts:read"], |c| c.rate_limit_per_minute = Some(2))
        .await;
    let form = [("grant_type", "client_credentials")];
    for remaining in ["1", "0"] {
        let response = app.post_token(&client, &form).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-ratelimit-remaining"), remaining);
    }
    let response = app.post_token(&client, &form).await;
    assert_eq!(response.status(), 429);
    let retry: u64 = header(&response, "retry-after").parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    let (_, body) = status_and_json(response).await;
    assert_eq!(body["error"], "rate_limited");
    assert!(body["error_description"].is_string());

    let unlimited = app.create_client(&["payouts:read"], &[API]).await;
    for _ in 0..5 {
        let response = app.post_token(&unlimited, &form).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("x-ratelimit-limit").is_none());
    }
}

on_both_backends!(
    a_key_at_60_a_minute_gets_exactly_60_of_a_burst,
    a_client_over_its_rate_gets_429_at_the_token_endpoint,
);

async fn management_calls_are_limited_per_caller(backend: Backend) {
    let app =
        crate::support::helpers::spawn_app_with(backend, |s| s.admin_rate_limit_per_minute = 3)
            .await;
    let org = app.create_org(Plan::Starter).await;
    let admin = app.admin_token(&org, &["keyward:keys:read"]).await;
    let path = app.url(&format!("/admin/v1/orgs/{org}/api-keys"));
    for remaining in ["2", "1", "0"] {
        let response = app
            .http
            .get(&path)
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-ratelimit-remaining"), remaining);
        assert_eq!(
            header(&response, "ratelimit-policy"),
            "\"default\";q=3;w=60"
        );
    }
    let refused = app
        .http
        .get(&path)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "content-type"), "application/problem+json");
    assert!(header(&refused, "retry-after").parse::<u64>().unwrap() >= 1);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["code"], "RATE_LIMITED");

    let other = app.admin_token(&org, &["keyward:keys:read"]).await;
    let response = app
        .http
        .get(&path)
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "budgets are per caller");
}

on_both_backends!(management_calls_are_limited_per_caller);

/// The operator's settings: a higher ceiling for a credential's rate, and
/// metering off (no limit applied, nothing counted, no rate headers).
async fn the_operator_sets_the_ceiling_and_may_turn_metering_off(backend: Backend) {
    let capped = spawn_app(backend).await;
    let org = capped.create_org(Plan::Enterprise).await;
    let path = format!("/admin/v1/orgs/{org}/api-keys");
    let body =
        json!({"name": "fast", "scopes": ["payouts:read"], "rate_limit_per_minute": 500_000});
    let (status, refused) = capped
        .admin(
            reqwest::Method::POST,
            &path,
            crate::support::helpers::ROOT_TOKEN,
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        (status, refused["field"].as_str()),
        (400, Some("rate_limit_per_minute"))
    );

    let app = crate::support::helpers::spawn_app_with(backend, |s| {
        s.max_rate_limit_per_minute = 1_000_000;
        s.metering = false;
    })
    .await;
    let org = app.create_org(Plan::Enterprise).await;
    let path = format!("/admin/v1/orgs/{org}/api-keys");
    let (status, fast) = app
        .admin(
            reqwest::Method::POST,
            &path,
            crate::support::helpers::ROOT_TOKEN,
            Some(body),
        )
        .await;
    assert_eq!(
        (status, fast["rate_limit_per_minute"].as_u64()),
        (201, Some(500_000))
    );

    let rs = app.create_resource_server(&[API]).await;
    let key = app
        .create_api_key(&org, &["payouts:read"], |k| {
            k.rate_limit_per_minute = Some(1)
        })
        .await
        .unwrap();
    for _ in 0..5 {
        let response = app
            .http
            .post(app.url("/v1/keys/verify"))
            .basic_auth(&rs.id, Some(&rs.secret))
            .json(&json!({ "key": key.key }))
            .send()
            .await
            .unwrap();
        assert!(response.headers().get("ratelimit").is_none());
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["code"], "VALID",
            "a key at 1/min is not limited: {body}"
        );
    }
    app.usage_written().await;
    let usage = format!("/admin/v1/orgs/{org}/api-keys/{}", key.id);
    let (_, shown) = app
        .admin(
            reqwest::Method::GET,
            &usage,
            crate::support::helpers::ROOT_TOKEN,
            None,
        )
        .await;
    assert_eq!(shown["request_count"], 0, "nothing is counted: {shown}");
}

on_both_backends!(the_operator_sets_the_ceiling_and_may_turn_metering_off);
