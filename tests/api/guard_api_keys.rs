//! `keyward-guard` checking API keys through the real server's
//! `/v1/keys/verify`, in front of the routes of `guard.rs`: each header
//! form, the refusals, Keyward's 429, deactivation within the verdict
//! cache's TTL, usage counted once per request let through (and reported
//! at `flush_usage`), and the caller's address each `ClientIp` sends.

use std::time::{Duration, Instant};

use actix_web::web;
use keyward::domain::IpAllowlist;
use keyward_guard::actix::{ClientIp, RequireScope};
use keyward_guard::{Credential, Guard, RequiredScope};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

use crate::guard::{serve, serve_routes, whoami};
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

/// Five requests with `key` through a guard in a runtime of its own, as a
/// resource server's process runs one; `flush` as it stops, or not.
async fn serve_five_then_stop(keyward: &TestApp, rs: &TestClient, key: &TestApiKey, flush: bool) {
    let (address, key) = (keyward.address.clone(), key.key.clone());
    let (id, secret) = (rs.id.clone(), rs.secret.clone());
    let process = move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let guard = Guard::builder(address, API)
                .api_keys(id, secret)
                .connect()
                .await
                .unwrap();
            let required = RequiredScope::parse("payouts:read").unwrap();
            for _ in 0..5 {
                let credential = Some(Credential::ApiKey(&key));
                guard.authorize(credential, &required).await.unwrap();
            }
            if flush {
                guard.flush_usage().await;
            }
        });
    };
    tokio::task::spawn_blocking(process).await.unwrap();
}

/// The first of five requests asks Keyward, the other four are served from
/// the cache: they reach Keyward only with a report, which a process that
/// stops makes at `flush_usage` (its reporting task dies with it).
async fn flush_usage_reports_the_uses_served_from_the_cache(backend: Backend) {
    let keyward = spawn_app(backend).await;
    let (rs, org, key) = keyward.key_to_check(|_| {}).await;
    let path = key_path(&org, &key);
    serve_five_then_stop(&keyward, &rs, &key, false).await;
    assert_eq!(request_count(&keyward, &path).await, 1, "four uses lost");
    serve_five_then_stop(&keyward, &rs, &key, true).await;
    assert_eq!(request_count(&keyward, &path).await, 1 + 5);
}

on_both_backends!(
    flush_usage_reports_the_uses_served_from_the_cache,
    each_header_form_carries_a_key,
    bad_keys_and_missing_scopes_are_refused,
    a_rate_limited_key_gets_keywards_429,
    a_deactivated_key_is_refused_within_the_cache_ttl,
);

/// A key with an IP allowlist passes only where the middleware sends the
/// caller's address and that address is on the list: never unsent, the TCP
/// peer with `PeerAddr`, the forwarded address with `RealIp`.
#[tokio::test]
async fn each_client_ip_source_sends_its_address() {
    let keyward = spawn_app(Backend::Sqlite).await;
    let (rs, _, local) = keyward
        .key_to_check(|k| k.ip_allowlist = IpAllowlist::parse(["127.0.0.1"]).unwrap())
        .await;
    let org = keyward.create_org(keyward::domain::Plan::Enterprise).await;
    let forwarded_only = keyward
        .create_api_key(&org, &["payouts:read"], |k| {
            k.ip_allowlist = IpAllowlist::parse(["203.0.113.0/24"]).unwrap()
        })
        .await
        .unwrap();
    let guard = Guard::builder(&keyward.address, API)
        .api_keys(&rs.id, &rs.secret)
        .api_key_cache_ttl(Duration::ZERO)
        .connect()
        .await
        .unwrap();
    let base = serve_routes(move |routes| {
        for (path, source) in [
            ("/unsent", ClientIp::Unsent),
            ("/peer", ClientIp::PeerAddr),
            ("/real", ClientIp::RealIp),
        ] {
            let scoped = RequireScope::new(&guard, "payouts:read").unwrap();
            routes.service(
                web::resource(path)
                    .wrap(scoped.client_ip(source))
                    .route(web::get().to(whoami)),
            );
        }
    });
    let status = |path: &str, key: &TestApiKey, forwarded: Option<&str>| {
        let mut request = keyward::tls::client()
            .get(format!("{base}{path}"))
            .header("x-api-key", &key.key);
        if let Some(address) = forwarded {
            request = request.header("x-forwarded-for", address);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let outsider = Some("203.0.113.9");
    let cases = [
        ("/unsent", &local, None, 401),
        ("/peer", &local, None, 200),
        ("/peer", &local, outsider, 200),
        ("/real", &local, None, 200),
        ("/real", &local, outsider, 401),
        ("/unsent", &forwarded_only, outsider, 401),
        ("/peer", &forwarded_only, outsider, 401),
        ("/real", &forwarded_only, outsider, 200),
    ];
    for (path, key, forwarded, expected) in cases {
        assert_eq!(
            status(path, key, forwarded).await,
            expected,
            "{path} with X-Forwarded-For {forwarded:?} and the key allowing {}",
            if key.id == local.id {
                "127.0.0.1"
            } else {
                "203.0.113.0/24"
            }
        );
    }
}
