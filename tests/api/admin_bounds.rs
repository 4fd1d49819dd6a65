//! Every number the management API takes has a bound, checked where it is
//! parsed: at the bound it is taken, past it (or far past it, or below
//! zero) it is a 400 naming the field, on both backends, never a 5xx.

use keyward::domain::bounds::{MAX_DURATION_SECONDS, MAX_GRACE_SECONDS};
use keyward::domain::{OrgId, Plan};
use reqwest::Method;
use serde_json::Value;

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, Backend, TestApp, ROOT_TOKEN};

/// Numbers past every bound: i64::MAX, one past it, u64::MAX, a float.
const HUGE: [&str; 5] = [
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "1e300",
    "-9223372036854775808",
];

/// A call with a raw JSON body (numbers serde_json's `Value` cannot hold).
async fn call(app: &TestApp, method: Method, path: &str, body: Option<String>) -> (u16, Value) {
    let mut request = app
        .http
        .request(method, app.url(path))
        .bearer_auth(ROOT_TOKEN);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    assert!(status < 500, "{path} answered {status}");
    (status, response.json().await.unwrap_or(Value::Null))
}

fn assert_refused(answer: &(u16, Value), field: &str, what: &str) {
    assert_eq!(answer.0, 400, "{what}: {}", answer.1);
    assert_eq!(answer.1["code"], "INVALID_REQUEST", "{what}");
    assert_eq!(answer.1["field"], field, "{what}: {}", answer.1);
}

fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn expiring_within_is_at_most_100_years(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let list = |raw: &str| format!("/admin/v1/orgs/{org}/api-keys?expiring_within={raw}");
    for ok in ["36500d", "876000h", "1s"] {
        let (status, body) = call(&app, Method::GET, &list(ok), None).await;
        assert_eq!(status, 200, "{ok}: {body}");
    }
    let max_seconds = format!("{MAX_DURATION_SECONDS}s");
    let past_max = format!("{}s", MAX_DURATION_SECONDS + 1);
    assert_eq!(
        call(&app, Method::GET, &list(&max_seconds), None).await.0,
        200
    );
    for bad in [
        past_max.as_str(),
        "36501d",
        "106751991167299d",
        "9223372036854775807s",
        "9223372036854775808s",
        "-1d",
        "0s",
    ] {
        let answer = call(&app, Method::GET, &list(bad), None).await;
        assert_refused(&answer, "expiring_within", bad);
    }
    for bad in HUGE.iter().chain(&["0", "-1", "201"]) {
        let path = format!("/admin/v1/orgs/{org}/api-keys?limit={bad}");
        assert_refused(&call(&app, Method::GET, &path, None).await, "limit", bad);
    }
}

/// POST then PATCH of `path` with `field` set to `value` (raw JSON).
async fn create_and_patch(
    app: &TestApp,
    org: &OrgId,
    kind: &str,
    field: &str,
    value: &str,
) -> [(u16, Value); 2] {
    let collection = format!("/admin/v1/orgs/{org}/{kind}");
    let body = |extra: &str| format!(r#"{{"name": "bounds", "scopes": ["x:read"]{extra}}}"#);
    let created = call(app, Method::POST, &collection, Some(body(""))).await;
    assert_eq!(created.0, 201, "{}", created.1);
    let id = created.1["client_id"]
        .as_str()
        .or(created.1["id"].as_str())
        .unwrap()
        .to_owned();
    let with_field = body(&format!(r#", "{field}": {value}"#));
    let post = call(app, Method::POST, &collection, Some(with_field)).await;
    let patch_body = format!(r#"{{"{field}": {value}}}"#);
    let path = format!("{collection}/{id}");
    let patch = call(app, Method::PATCH, &path, Some(patch_body)).await;
    [post, patch]
}

async fn expiries_and_rates_of_clients_and_keys_are_bounded(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let now = chrono::Utc::now().timestamp();
    let in_bounds = format!("\"{}\"", rfc3339(now + MAX_DURATION_SECONDS - 3_600));
    let too_far = format!("\"{}\"", rfc3339(now + MAX_DURATION_SECONDS + 86_400));
    for kind in ["clients", "api-keys"] {
        for answer in create_and_patch(&app, &org, kind, "expires_at", &in_bounds).await {
            assert!(answer.0 == 200 || answer.0 == 201, "{kind}: {}", answer.1);
        }
        for value in [
            too_far.as_str(),
            "\"9999-12-31T23:59:59Z\"",
            "\"+262143-12-31T23:59:59Z\"",
        ] {
            for answer in create_and_patch(&app, &org, kind, "expires_at", value).await {
                assert_refused(&answer, "expires_at", value);
            }
        }
        for value in HUGE.iter().chain(&["-1", "0", "10001", "4294967296"]) {
            for answer in create_and_patch(&app, &org, kind, "rate_limit_per_minute", value).await {
                assert_refused(&answer, "rate_limit_per_minute", value);
            }
        }
    }
}

async fn grace_periods_are_at_most_30_days(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let client = app.create_client_in(&org, &["x:read"], &[], None).await;
    let key = app.create_api_key(&org, &["x:read"], |_| {}).await.unwrap();
    let rotate = format!("/admin/v1/orgs/{org}/clients/{}/rotate-secret", client.id);
    let roll = format!("/admin/v1/orgs/{org}/api-keys/{}/roll", key.id);
    let past_max = (MAX_GRACE_SECONDS + 1).to_string();
    for path in [&rotate, &roll] {
        for value in HUGE.iter().chain(&["-1", past_max.as_str()]) {
            let body = format!(r#"{{"grace_period_seconds": {value}}}"#);
            let answer = call(&app, Method::POST, path, Some(body)).await;
            assert_refused(&answer, "grace_period_seconds", value);
        }
    }
    // At the bound it is taken: the old secret lasts 30 days.
    let body = format!(r#"{{"grace_period_seconds": {MAX_GRACE_SECONDS}}}"#);
    let (status, rotated) = call(&app, Method::POST, &rotate, Some(body)).await;
    assert_eq!(status, 200, "{rotated}");
}

on_both_backends!(
    expiring_within_is_at_most_100_years,
    expiries_and_rates_of_clients_and_keys_are_bounded,
    grace_periods_are_at_most_30_days,
);
