//! Rate limits that follow the tier (`scope_rate_limits`): a key or client
//! without its own limit gets the highest among its scopes, implied ones
//! included; its own limit wins; the management API shows which applies.

use std::collections::HashMap;

use keyward::configuration::Settings;
use keyward::domain::{Plan, ScopePolicy, ScopeRateLimits};
use keyward::time::{Clock, ManualClock};
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::helpers::{
    spawn_app_on, status_and_json, Backend, TestApp, TestClient, API, ROOT_TOKEN,
};

/// admin 1000, deployment 100, free 10 a minute; `ops` implies deployment.
pub fn tiers(settings: &mut Settings) {
    let limits = HashMap::from([
        ("admin".to_owned(), 1000),
        ("deployment".to_owned(), 100),
        ("free".to_owned(), 10),
    ]);
    settings.scope_rate_limits = ScopeRateLimits::try_from(limits).unwrap();
    let implications = HashMap::from([
        ("admin".to_owned(), vec!["deployment".to_owned()]),
        ("ops".to_owned(), vec!["deployment".to_owned()]),
    ]);
    settings.scope_implications = ScopePolicy::new(&implications).unwrap();
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

fn effective(per_minute: Option<u32>, source: &str, scope: Option<&str>) -> Value {
    json!({"per_minute": per_minute, "source": source, "scope": scope})
}

/// Creates through the management API; the answer with the key or secret.
async fn create(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, created) = app.admin(Method::POST, path, ROOT_TOKEN, Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created
}

async fn patch(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, changed) = app.admin(Method::PATCH, path, ROOT_TOKEN, Some(body)).await;
    assert_eq!(status, 200, "{changed}");
    changed
}

async fn verify(app: &TestApp, rs: &TestClient, key: &str) -> reqwest::Response {
    app.http
        .post(app.url("/v1/keys/verify"))
        .basic_auth(&rs.id, Some(&rs.secret))
        .json(&json!({ "key": key }))
        .send()
        .await
        .unwrap()
}

async fn keys_follow_their_tier(backend: Backend) {
    let clock = ManualClock::starting_now();
    let app = spawn_app_on(backend, tiers, clock.clone()).await;
    let rs = app.create_resource_server(&[API]).await;
    let org = app.create_org(Plan::Enterprise).await;
    let keys = format!("/admin/v1/orgs/{org}/api-keys");
    let key = |scopes: &[&str], own: Option<u32>| json!({"name": "k", "scopes": scopes, "rate_limit_per_minute": own});
    let cases = [
        (
            key(&["free"], None),
            effective(Some(10), "scope", Some("free")),
        ),
        (
            key(&["deployment"], None),
            effective(Some(100), "scope", Some("deployment")),
        ),
        (
            key(&["free", "deployment"], None),
            effective(Some(100), "scope", Some("deployment")),
        ),
        (
            key(&["ops"], None),
            effective(Some(100), "scope", Some("deployment")),
        ),
        (
            key(&["admin", "free"], Some(5)),
            effective(Some(5), "credential", None),
        ),
        (
            key(&["payouts:read"], None),
            effective(Some(60), "default", None),
        ),
    ];
    let mut created = Vec::new();
    for (body, expected) in cases {
        let answer = create(&app, &keys, body).await;
        assert_eq!(answer["effective_rate_limit"], expected, "{answer}");
        let path = format!("{keys}/{}", answer["id"].as_str().unwrap());
        let (_, shown) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
        assert_eq!(shown["effective_rate_limit"], expected);
        created.push(answer);
    }
    let secret = |i: usize| created[i]["key"].as_str().unwrap().to_owned();
    let limit_of = |i: usize| {
        let (app, rs, key) = (&app, &rs, secret(i));
        async move { header(&verify(app, rs, &key).await, "x-ratelimit-limit") }
    };
    assert_eq!(limit_of(2).await.as_deref(), Some("100"), "highest wins");
    assert_eq!(limit_of(3).await.as_deref(), Some("100"), "implied counts");
    assert_eq!(limit_of(4).await.as_deref(), Some("5"), "own limit wins");
    assert_eq!(limit_of(5).await.as_deref(), Some("60"), "the default");

    // The server's clock stands still: a free key gets exactly 10.
    let (free, deployment) = (secret(0), secret(1));
    for remaining in (0..10).rev() {
        let response = verify(&app, &rs, &free).await;
        assert_eq!(
            header(&response, "x-ratelimit-limit").as_deref(),
            Some("10")
        );
        let left = header(&response, "x-ratelimit-remaining");
        assert_eq!(left, Some(remaining.to_string()));
        assert_eq!(status_and_json(response).await.1["code"], "VALID");
    }
    let refused = verify(&app, &rs, &free).await;
    let retry: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    assert!((1..=6).contains(&retry), "{retry}");
    let reset: i64 = header(&refused, "x-ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        reset > clock.unix() && reset <= clock.unix() + 60,
        "{reset}"
    );
    assert_eq!(status_and_json(refused).await.1["code"], "RATE_LIMITED");
    let (_, introspected) = app.introspect(&rs, &free, &[]).await;
    assert_eq!(
        introspected["rate_limited"], true,
        "introspection counts too"
    );
    for _ in 0..11 {
        let response = verify(&app, &rs, &deployment).await;
        assert_eq!(
            header(&response, "x-ratelimit-limit").as_deref(),
            Some("100")
        );
        assert_eq!(status_and_json(response).await.1["code"], "VALID");
    }

    // Dropping the own limit brings the tier back; new scopes, a new tier.
    let path = |i: usize| format!("{keys}/{}", created[i]["id"].as_str().unwrap());
    let dropped = patch(&app, &path(4), json!({"rate_limit_per_minute": null})).await;
    assert_eq!(dropped["rate_limit_per_minute"], Value::Null);
    let admin = effective(Some(1000), "scope", Some("admin"));
    assert_eq!(dropped["effective_rate_limit"], admin);
    assert_eq!(limit_of(4).await.as_deref(), Some("1000"));
    let moved = patch(&app, &path(5), json!({"scopes": ["free"]})).await;
    assert_eq!(
        moved["effective_rate_limit"],
        effective(Some(10), "scope", Some("free"))
    );
    assert_eq!(limit_of(5).await.as_deref(), Some("10"));
}

async fn clients_follow_their_tier_at_the_token_endpoint(backend: Backend) {
    let clock = ManualClock::starting_now();
    let app = spawn_app_on(backend, tiers, clock.clone()).await;
    let org = app.create_org(Plan::Enterprise).await;
    let clients = format!("/admin/v1/orgs/{org}/clients");
    let client = |scopes: &[&str], own: Option<u32>| json!({"name": "c", "scopes": scopes, "audiences": [API], "rate_limit_per_minute": own});
    let mut made = Vec::new();
    for (body, expected) in [
        (
            client(&["free"], None),
            effective(Some(10), "scope", Some("free")),
        ),
        (
            client(&["ops"], None),
            effective(Some(100), "scope", Some("deployment")),
        ),
        (
            client(&["free"], Some(3)),
            effective(Some(3), "credential", None),
        ),
        (
            client(&["payouts:read"], None),
            effective(None, "default", None),
        ),
    ] {
        let answer = create(&app, &clients, body).await;
        assert_eq!(answer["effective_rate_limit"], expected, "{answer}");
        made.push(TestClient {
            id: answer["client_id"].as_str().unwrap().to_owned(),
            secret: answer["client_secret"].as_str().unwrap().to_owned(),
            org_id: org.to_string(),
        });
    }
    let form = [("grant_type", "client_credentials")];
    for _ in 0..10 {
        let response = app.post_token(&made[0], &form).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "x-ratelimit-limit").as_deref(),
            Some("10")
        );
    }
    let refused = app.post_token(&made[0], &form).await;
    assert_eq!(refused.status(), 429);
    let retry: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    assert!((1..=6).contains(&retry), "{retry}");
    let reset: i64 = header(&refused, "x-ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        reset > clock.unix() && reset <= clock.unix() + 60,
        "{reset}"
    );
    assert_eq!(status_and_json(refused).await.1["error"], "rate_limited");

    for _ in 0..11 {
        let response = app.post_token(&made[1], &form).await;
        assert_eq!(response.status(), 200, "an implied tier of 100");
        assert_eq!(
            header(&response, "x-ratelimit-limit").as_deref(),
            Some("100")
        );
    }
    let own = app.post_token(&made[2], &form).await;
    assert_eq!(header(&own, "x-ratelimit-limit").as_deref(), Some("3"));
    let open = app.post_token(&made[3], &form).await;
    assert_eq!(open.status(), 200);
    assert_eq!(
        header(&open, "x-ratelimit-limit"),
        None,
        "no tier, no limit"
    );
}

on_both_backends!(
    keys_follow_their_tier,
    clients_follow_their_tier_at_the_token_endpoint,
);
