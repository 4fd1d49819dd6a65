//! API keys as resource servers check them: `POST /v1/keys/verify` with its
//! reasons, and introspection, which says only active or not.

use std::time::{Duration, Instant};

use keyward::domain::{ApiKeyId, ApiKeyStatus, IpAllowlist, OrgId, Plan};
use keyward::metrics::Counters;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::helpers::{
    spawn_app, Backend, TestApiKey, TestApp, TestClient, API, ROOT_TOKEN,
};
use reqwest::Method;

/// Waits until verifying `key` gives `code`: a change made in the database
/// reaches the node through the change log within a second.
async fn until_code(app: &TestApp, rs: &TestClient, key: &str, code: &str) -> Value {
    let start = Instant::now();
    loop {
        let (status, body) = app.verify_key(rs, json!({ "key": key })).await;
        assert_eq!(status, 200, "{body}");
        if body["code"] == code {
            return body;
        }
        assert!(start.elapsed() < Duration::from_secs(2), "still {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sets a key's status in the database, as another node would.
async fn set_status(app: &TestApp, org: &OrgId, key: &TestApiKey, status: ApiKeyStatus) {
    let id = ApiKeyId::parse(&key.id).unwrap();
    let stored = app.store.get_api_key(org, &id).await.unwrap();
    let changed = keyward::domain::ApiKey { status, ..stored };
    app.store.update_api_key(&changed, None).await.unwrap();
}

/// Creates a key through the management API, as the operator: (status, body).
async fn create_key(app: &TestApp, org: &OrgId) -> (u16, Value) {
    let path = format!("/admin/v1/orgs/{org}/api-keys");
    let body = json!({"name": "k", "scopes": ["payouts:read"]});
    app.admin(Method::POST, &path, ROOT_TOKEN, Some(body)).await
}

async fn key_lifecycle_through_verify_and_introspection(backend: Backend) {
    let app = spawn_app(backend).await;
    let rs = app.create_resource_server(&[API]).await;
    let org = app.create_org(Plan::Enterprise).await;
    let key = app
        .create_api_key(&org, &["payouts:write"], |_| {})
        .await
        .unwrap();
    assert!(key.key.starts_with("kw_"));

    let (status, mut body) = app.verify_key(&rs, json!({ "key": key.key })).await;
    assert_eq!(status, 200);
    let ratelimit = body.as_object_mut().unwrap().remove("ratelimit").unwrap();
    assert_eq!(ratelimit["limit"], 60);
    assert_eq!(
        body,
        json!({"valid": true, "code": "VALID", "key_id": key.id, "org_id": org.as_str(),
               "scopes": ["payouts:write"]})
    );
    let implied = json!({ "key": key.key, "required_scope": "payouts:read" });
    assert_eq!(app.verify_key(&rs, implied).await.1["code"], "VALID");
    let (_, short) = app
        .verify_key(
            &rs,
            json!({ "key": key.key, "required_scope": "wallets:read payouts:read" }),
        )
        .await;
    assert_eq!(short["valid"], false);
    assert_eq!(short["code"], "INSUFFICIENT_SCOPE");
    assert_eq!(short["required"], "payouts:read wallets:read");
    assert_eq!(short["actual"], "payouts:write");

    for hint in ["api_key", "access_token"] {
        let (status, body) = app
            .introspect(&rs, &key.key, &[("token_type_hint", hint)])
            .await;
        assert_eq!(status, 200);
        assert_eq!(body["active"], true, "{body}");
        assert_eq!(body["token_type"], "api_key");
        assert_eq!(body["client_id"], key.id.as_str());
        assert_eq!(body["org_id"], org.as_str());
        assert_eq!(body["scope"], "payouts:write");
        assert!(body["iat"].is_i64());
        assert!(body.get("exp").is_none(), "a key without expiry has no exp");
    }

    set_status(&app, &org, &key, ApiKeyStatus::Deactivated).await;
    until_code(&app, &rs, &key.key, "DEACTIVATED").await;
    assert_eq!(
        app.introspect(&rs, &key.key, &[]).await.1,
        json!({"active": false})
    );
    set_status(&app, &org, &key, ApiKeyStatus::Active).await;
    until_code(&app, &rs, &key.key, "VALID").await;
    assert_eq!(app.introspect(&rs, &key.key, &[]).await.1["active"], true);

    let id = ApiKeyId::parse(&key.id).unwrap();
    app.store.delete_api_key(&org, &id, 0).await.unwrap();
    let gone = until_code(&app, &rs, &key.key, "NOT_FOUND").await;
    assert_eq!(gone, json!({"valid": false, "code": "NOT_FOUND"}));
    assert_eq!(
        app.introspect(&rs, &key.key, &[]).await.1,
        json!({"active": false})
    );
}

async fn expired_keys_and_keys_of_free_organisations_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let rs = app.create_resource_server(&[API]).await;
    let org = app.create_org(Plan::Starter).await;
    let expired = app
        .create_api_key(&org, &["payouts:read"], |k| {
            k.expires_at = Some(chrono::Utc::now().timestamp() - 1)
        })
        .await
        .unwrap();
    let (_, body) = app.verify_key(&rs, json!({ "key": expired.key })).await;
    assert_eq!(body["code"], "EXPIRED");
    assert_eq!(body["valid"], false);
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        app.introspect(&rs, &expired.key, &[]).await.1,
        json!({"active": false})
    );

    let live = app
        .create_api_key(&org, &["payouts:read"], |_| {})
        .await
        .unwrap();
    assert_eq!(
        until_code(&app, &rs, &live.key, "VALID").await["valid"],
        true
    );
    // A downgrade to free takes effect at once for checks; the key stays.
    let mut downgraded = app.store.get_organisation(&org).await.unwrap();
    downgraded.plan = Plan::Free;
    app.store.update_organisation(&downgraded, 0).await.unwrap();
    until_code(&app, &rs, &live.key, "API_ACCESS_NOT_AVAILABLE").await;
    assert_eq!(
        app.introspect(&rs, &live.key, &[]).await.1,
        json!({"active": false})
    );
    let (status, free) = create_key(&app, &org).await;
    assert_eq!(
        (status, free["code"].as_str()),
        (403, Some("API_ACCESS_NOT_AVAILABLE"))
    );
}

async fn plan_key_limits_hold_at_the_exact_count_and_under_concurrency(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Starter).await;
    let attempts = (0..5).map(|_| create_key(&app, &org));
    let results = futures_util::future::join_all(attempts).await;
    let created = results.iter().filter(|(status, _)| *status == 201).count();
    assert_eq!(created, 2, "starter allows exactly 2 keys");
    assert!(results
        .iter()
        .filter(|(status, _)| *status != 201)
        .all(|(status, body)| *status == 403 && body["code"] == "PLAN_LIMIT_REACHED"));

    let professional = app.create_org(Plan::Professional).await;
    for _ in 0..10 {
        assert_eq!(create_key(&app, &professional).await.0, 201);
    }
    let (status, eleventh) = create_key(&app, &professional).await;
    assert_eq!(
        (status, eleventh["code"].as_str()),
        (403, Some("PLAN_LIMIT_REACHED"))
    );
}

async fn ip_allowlists_hold_at_their_edges(backend: Backend) {
    let app = spawn_app(backend).await;
    let rs = app.create_resource_server(&[API]).await;
    let org = app.create_org(Plan::Enterprise).await;
    let key = app
        .create_api_key(&org, &["payouts:read"], |k| {
            k.ip_allowlist = IpAllowlist::parse(["203.0.113.0/24", "2001:db8::/127"]).unwrap()
        })
        .await
        .unwrap();
    let code_from = |ip: Option<&str>| {
        let body = match ip {
            Some(ip) => json!({ "key": key.key, "client_ip": ip }),
            None => json!({ "key": key.key }),
        };
        let app = &app;
        let rs = &rs;
        async move { app.verify_key(rs, body).await.1["code"].clone() }
    };
    assert_eq!(code_from(None).await, "IP_NOT_ALLOWED");
    for allowed in ["203.0.113.0", "203.0.113.255", "2001:db8::", "2001:db8::1"] {
        assert_eq!(code_from(Some(allowed)).await, "VALID", "{allowed}");
    }
    for refused in ["203.0.112.255", "203.0.114.0", "2001:db8::2", "10.0.0.1"] {
        assert_eq!(
            code_from(Some(refused)).await,
            "IP_NOT_ALLOWED",
            "{refused}"
        );
    }
    let active = |ip: &'static str| {
        let (app, rs, key) = (&app, &rs, &key);
        async move {
            let extra: Vec<(&str, &str)> = if ip.is_empty() {
                vec![]
            } else {
                vec![("client_ip", ip)]
            };
            app.introspect(rs, &key.key, &extra).await.1["active"].clone()
        }
    };
    assert_eq!(active("").await, false);
    assert_eq!(active("203.0.114.0").await, false);
    assert_eq!(active("203.0.113.9").await, true);
}

async fn revoking_a_key_deactivates_it_for_its_own_organisation_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let (rs, org, key) = app.key_to_check(|_| {}).await;
    let stranger = app.create_client(&["keyward:keys:write"], &[API]).await;
    assert_eq!(app.revoke(&stranger, &key.key).await, 200);
    assert_eq!(
        until_code(&app, &rs, &key.key, "VALID").await["valid"],
        true
    );

    let owner = app
        .create_client_in(&org, &["keyward:keys:write"], &[API], None)
        .await;
    assert_eq!(app.revoke(&owner, &key.key).await, 200);
    // This node knows at once.
    let (_, body) = app.verify_key(&rs, json!({ "key": key.key })).await;
    assert_eq!(body["code"], "DEACTIVATED");
}

async fn malformed_keys_are_refused_without_a_lookup(backend: Backend) {
    let app = spawn_app(backend).await;
    let (rs, _, key) = app.key_to_check(|_| {}).await;
    until_code(&app, &rs, &key.key, "VALID").await;

    let mut typo = key.key.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == 'a' { 'b' } else { 'a' });
    let queries = Counters::read(&app.counters.sql_queries);
    let argon2 = Counters::read(&app.counters.argon2_verifications);
    for bad in [typo.as_str(), "kw_short", "", &key.key[..key.key.len() - 1]] {
        let (status, body) = app.verify_key(&rs, json!({ "key": bad })).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"valid": false, "code": "NOT_FOUND"}),
            "{bad:?}"
        );
        if bad.is_empty() {
            continue; // an empty token is an omitted one: invalid_request
        }
        assert_eq!(
            app.introspect(&rs, bad, &[("token_type_hint", "api_key")])
                .await
                .1,
            json!({"active": false})
        );
    }
    assert_eq!(Counters::read(&app.counters.sql_queries), queries);
    assert_eq!(Counters::read(&app.counters.argon2_verifications), argon2);
}

async fn verify_requires_a_resource_server_and_a_well_formed_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let (rs, _, key) = app.key_to_check(|_| {}).await;

    let anonymous = app
        .http
        .post(app.url("/v1/keys/verify"))
        .json(&json!({ "key": key.key }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let integration = app.create_client(&["payouts:read"], &[API]).await;
    let (status, body) = app
        .verify_key(&integration, json!({ "key": key.key }))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    for bad in [
        json!({}),
        json!({ "key": 42 }),
        json!({ "key": key.key, "client_ip": "not-an-ip" }),
        json!({ "key": key.key, "required_scope": "a\"b" }),
        json!({ "key": key.key, "unknown": true }),
    ] {
        let (status, body) = app.verify_key(&rs, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"], "invalid_request");
        assert!(
            !body.to_string().contains(&key.key),
            "the key is never echoed"
        );
    }
}

async fn warm_key_checks_run_no_sql_and_no_argon2(backend: Backend) {
    let app = spawn_app(backend).await;
    let (rs, _, key) = app.key_to_check(|_| {}).await;
    until_code(&app, &rs, &key.key, "VALID").await;
    app.introspect(&rs, &key.key, &[]).await;

    let queries = Counters::read(&app.counters.sql_queries);
    let argon2 = Counters::read(&app.counters.argon2_verifications);
    for _ in 0..20 {
        assert_eq!(
            app.verify_key(&rs, json!({ "key": key.key })).await.1["code"],
            "VALID"
        );
        assert_eq!(app.introspect(&rs, &key.key, &[]).await.1["active"], true);
    }
    assert_eq!(Counters::read(&app.counters.sql_queries), queries);
    assert_eq!(Counters::read(&app.counters.argon2_verifications), argon2);
}

on_both_backends!(
    key_lifecycle_through_verify_and_introspection,
    expired_keys_and_keys_of_free_organisations_are_refused,
    plan_key_limits_hold_at_the_exact_count_and_under_concurrency,
    ip_allowlists_hold_at_their_edges,
    revoking_a_key_deactivates_it_for_its_own_organisation_only,
    malformed_keys_are_refused_without_a_lookup,
    verify_requires_a_resource_server_and_a_well_formed_body,
    warm_key_checks_run_no_sql_and_no_argon2,
);

#[test]
fn readme_documents_the_scanner_regex() {
    let readme = include_str!("../../README.md");
    assert!(readme.contains(keyward::domain::api_key::KEY_REGEX));
}
