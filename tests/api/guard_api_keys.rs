//! `keyward-guard` checking API keys through the real server's
//! `/v1/keys/verify`, in front of the routes of `guard.rs`: each header
//! form, the refusals, Keyward's 429, deactivation within the verdict
//! cache's TTL, and usage counted once per request let through.

use std::time::{Duration, Instant};

use keyward_guard::Guard;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

use crate::guard::serve;
use crate::on_both_backends;
use crate::support::helpers::{
    spawn_app, Backend, TestApiKey, TestApp, TestClient, API, ROOT_TOKEN,
};

/// The guard's default verdict TTL, the documented deactivation bound.
const CACHE_TTL: Duration = Duration::from_secs(2);

async fn guard(keyward: &TestApp, rs: &TestClient) -> Guard {
    Guard::builder(&keyward.address, API)
        .realm("payouts")
        .api_keys(&rs.id, &rs.secret)
        .connect()
        .await
        .unwrap()
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

async fn send(url: &str, header: &str, value: &str) -> Answer {
    let response = keyward::tls::client()
        .get(url)
        .header(header, value)
        .send()
        .await
        .unwrap();
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.json().await.unwrap_or(Value::Null),
    }
}

async fn with_key(url: &str, key: &str) -> Answer {
    send(url, "x-api-key", key).await
}

fn key_path(org: &impl std::fmt::Display, key: &TestApiKey) -> String {
    format!("/admin/v1/orgs/{org}/api-keys/{}", key.id)
}

/// The key's `request_count` once the guard has reported what it served
/// from its cache (within a second) and Keyward has written its usage.
async fn request_count(keyward: &TestApp, path: &str) -> i64 {
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    keyward.usage_written().await;
    let (status, body) = keyward.admin(Method::GET, path, ROOT_TOKEN, None).await;
    assert_eq!(status, 200, "{body}");
    body["request_count"].as_i64().unwrap()
}

async fn each_header_form_carries_a_key(backend: Backend) {
    let keyward = spawn_app(backend).await;
    let (rs, org, key) = keyward.key_to_check(|_| {}).await;
    let payouts = format!("{}/payouts", serve(guard(&keyward, &rs).await));
    let bearer = format!("Bearer {}", key.key);
    let forms = [
        ("authorization", bearer.as_str()),
        ("authorization", key.key.as_str()),
        ("x-api-key", key.key.as_str()),
    ];
    let mut let_through = 0;
    for round in 0..3 {
        for (header, value) in forms {
            let answer = send(&payouts, header, value).await;
            assert_eq!(
                answer.status, 200,
                "{header} (round {round}): {}",
                answer.body
            );
            assert_eq!(
                answer.body,
                json!({"client_id": null, "org_id": org.to_string(), "key_id": key.id, "scope": "payouts:read"})
            );
            let_through += 1;
        }
    }
    // Most of these came from the guard's cache; each counts once all the same.
    assert_eq!(
        request_count(&keyward, &key_path(&org, &key)).await,
        let_through
    );
}

async fn bad_keys_and_missing_scopes_are_refused(backend: Backend) {
    let keyward = spawn_app(backend).await;
    let (rs, _, key) = keyward.key_to_check(|_| {}).await;
    let base = serve(guard(&keyward, &rs).await);
    let payouts = format!("{base}/payouts");

    let mut mistyped = key.key.clone();
    mistyped.pop();
    mistyped.push('x');
    for bad in ["kw_unknown", mistyped.as_str()] {
        let answer = with_key(&payouts, bad).await;
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert_eq!(
            answer.header("www-authenticate"),
            Some(
                r#"Bearer realm="payouts", error="invalid_token", error_description="the API key is not valid""#
            )
        );
        assert_eq!(
            answer.body,
            json!({"error": "invalid_token", "error_description": "the API key is not valid"})
        );
    }

    let answer = with_key(&format!("{base}/admin/payouts"), &key.key).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(
        answer.header("www-authenticate"),
        Some(r#"Bearer realm="payouts", error="insufficient_scope", scope="payouts:admin""#)
    );
    assert_eq!(answer.body["required"], "payouts:admin");
    assert_eq!(answer.body["actual"], "payouts:read");
    assert_eq!(answer.body["error"], "insufficient_scope");

    // Keyward refusing the guard itself is not the caller's fault.
    let misconfigured = TestClient {
        secret: "not-the-secret".into(),
        ..rs
    };
    let elsewhere = serve(guard(&keyward, &misconfigured).await);
    let answer = with_key(&format!("{elsewhere}/payouts"), &key.key).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.body["error"], "temporarily_unavailable");
    assert_eq!(answer.header("www-authenticate"), None);
}

async fn a_rate_limited_key_gets_keywards_429(backend: Backend) {
    let keyward = spawn_app(backend).await;
    let (rs, org, key) = keyward
        .key_to_check(|k| k.rate_limit_per_minute = Some(3))
        .await;
    let payouts = format!("{}/payouts", serve(guard(&keyward, &rs).await));
    for n in 1..=3 {
        let answer = with_key(&payouts, &key.key).await;
        assert_eq!(answer.status, 200, "request {n}: {}", answer.body);
    }
    // The first check left a budget of 2, which the cache served: the
    // fourth request goes back to Keyward, which has counted all three.
    let answer = with_key(&payouts, &key.key).await;
    assert_eq!(answer.status, 429, "{}", answer.body);
    let retry: u64 = answer.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(answer.header("x-ratelimit-limit"), Some("3"));
    assert_eq!(answer.header("x-ratelimit-remaining"), Some("0"));
    assert!(answer.header("x-ratelimit-reset").is_some());
    assert_eq!(answer.header("www-authenticate"), None);
    assert_eq!(answer.body["error"], "rate_limited");
    assert_eq!(request_count(&keyward, &key_path(&org, &key)).await, 3);
}

async fn a_deactivated_key_is_refused_within_the_cache_ttl(backend: Backend) {
    let keyward = spawn_app(backend).await;
    let (rs, org, key) = keyward.key_to_check(|_| {}).await;
    let payouts = format!("{}/payouts", serve(guard(&keyward, &rs).await));
    assert_eq!(with_key(&payouts, &key.key).await.status, 200);

    let path = format!("{}/deactivate", key_path(&org, &key));
    let (status, body) = keyward.admin(Method::POST, &path, ROOT_TOKEN, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("deactivated"))
    );
    let deactivated = Instant::now();
    let refused = loop {
        let answer = with_key(&payouts, &key.key).await;
        if answer.status != 200 || deactivated.elapsed() > CACHE_TTL + Duration::from_secs(2) {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = deactivated.elapsed();
    assert_eq!(refused.status, 401, "after {took:?}: {}", refused.body);
    assert_eq!(
        refused.body,
        json!({"error": "invalid_token", "error_description": "the API key is deactivated"})
    );
    assert!(took <= CACHE_TTL + Duration::from_millis(500), "{took:?}");
}

on_both_backends!(
    each_header_form_carries_a_key,
    bad_keys_and_missing_scopes_are_refused,
    a_rate_limited_key_gets_keywards_429,
    a_deactivated_key_is_refused_within_the_cache_ttl,
);
