//! Who may do what: a token's audience stays within its client's, only
//! root-made resource servers check credentials (and only from their
//! allowlist), `*` grants no management scope, and revocation asks what
//! the token endpoint asks.

use keyward::domain::{Audience, IpAllowlist, Plan};
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::helpers::{
    spawn_app, spawn_app_with, status_and_json, Backend, TestApp, TestClient, API, ROOT_TOKEN,
};
use crate::support::jwt_verify::verify;

const OTHER: &str = "https://other.test";

async fn audience_of(app: &TestApp, client: &TestClient, audience: &str) -> Value {
    let token = app.token(client, &[]).await;
    let verified = verify(app, &token, audience)
        .await
        .unwrap_or_else(|e| panic!("aud {audience}: {e}"));
    verified.claims["aud"].clone()
}

async fn a_token_without_resource_gets_only_audiences_its_client_holds(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.default_audience = Some(keyward::domain::Audience::parse(API).unwrap())
    })
    .await;
    let elsewhere = app.create_client(&["payouts:read"], &[OTHER]).await;
    assert_eq!(audience_of(&app, &elsewhere, OTHER).await, OTHER);
    // Asking for the default audience by name is refused as before.
    let (status, body) = status_and_json(
        app.post_token(
            &elsewhere,
            &[("grant_type", "client_credentials"), ("resource", API)],
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );

    let both = app.create_client(&["payouts:read"], &[OTHER, API]).await;
    assert_eq!(audience_of(&app, &both, API).await, API);
    let third = "https://third.test";
    let two_others = app.create_client(&["payouts:read"], &[OTHER, third]).await;
    assert_eq!(
        audience_of(&app, &two_others, OTHER).await,
        json!([OTHER, third])
    );
    // A client with no audience of its own gets the management API's.
    let none = app.create_client(&["payouts:read"], &[]).await;
    assert_eq!(audience_of(&app, &none, &app.address).await, app.address);
}

/// POST `path` with a Bearer token and a form or JSON body.
async fn bearer_check(app: &TestApp, path: &str, bearer: &str, key: &str) -> (u16, Value) {
    let request = app.http.post(app.url(path)).bearer_auth(bearer);
    let request = if path == "/oauth/introspect" {
        request.form(&[("token", key)])
    } else {
        request.json(&json!({ "key": key }))
    };
    status_and_json(request.send().await.unwrap()).await
}

async fn scopes_alone_never_make_a_client_a_credential_checker(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, _, victim_key) = app.key_to_check(|_| {}).await;

    let org = app.create_org(Plan::Enterprise).await;
    let admin = app
        .admin_token(&org, &["*", "keyward:clients:write", "keyward:introspect"])
        .await;
    let (status, created) = app
        .admin(
            Method::POST,
            &format!("/admin/v1/orgs/{org}/clients"),
            &admin,
            Some(json!({"name": "checker", "scopes": ["keyward:introspect"], "audiences": [API]})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let checker = TestClient {
        id: created["client_id"].as_str().unwrap().to_owned(),
        secret: created["client_secret"].as_str().unwrap().to_owned(),
        org_id: org.to_string(),
    };
    let bearer = app
        .token(&checker, &[("scope", "keyward:introspect")])
        .await;
    for path in ["/v1/keys/verify", "/oauth/introspect"] {
        let (status, body) = bearer_check(&app, path, &bearer, &victim_key.key).await;
        assert_eq!(status, 401, "{path}: {body}");
        assert!(!body.to_string().contains("VALID"), "{path}: {body}");
    }
    // Its secret does no better than its token.
    let (status, _) = app
        .verify_key(&checker, json!({ "key": victim_key.key }))
        .await;
    assert_eq!(status, 401);

    // A root-made resource server's Bearer token is accepted.
    let rs = app.create_resource_server(&[API]).await;
    let rs_bearer = app.token(&rs, &[("scope", "keyward:introspect")]).await;
    let (status, body) = bearer_check(&app, "/v1/keys/verify", &rs_bearer, &victim_key.key).await;
    assert_eq!((status, body["code"].as_str()), (200, Some("VALID")));
}

async fn a_wildcard_grants_no_management_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let wildcard = app.admin_token(&org, &["*"]).await;
    let (status, problem) = app
        .admin(
            Method::GET,
            &format!("/admin/v1/orgs/{org}/clients"),
            &wildcard,
            None,
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("INSUFFICIENT_SCOPE"))
    );
    // Nor can an admin holding `*` hand out management scopes.
    let admin = app.admin_token(&org, &["*", "keyward:clients:write"]).await;
    let (status, problem) = app
        .admin(
            Method::POST,
            &format!("/admin/v1/orgs/{org}/clients"),
            &admin,
            Some(json!({"name": "c", "scopes": ["keyward:introspect"]})),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("INSUFFICIENT_SCOPE"))
    );
    // A client given `*` still gets any product scope by name.
    let client = app.create_client(&["*"], &[]).await;
    let (status, body) = status_and_json(
        app.post_token(
            &client,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "payouts:write"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["scope"].as_str()),
        (200, Some("payouts:read payouts:write"))
    );
    let (status, body) = status_and_json(
        app.post_token(
            &client,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "keyward:keys:write"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
}

async fn a_resource_servers_allowlist_holds_on_every_check(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, _, key) = app.key_to_check(|_| {}).await;
    let client = app.create_client(&["payouts:read"], &[API]).await;
    let token = app.token(&client, &[("resource", API)]).await;
    let resource_server = |allowed: &'static str| {
        app.create_client_with(&["keyward:introspect"], move |new| {
            new.resource_server = true;
            new.audiences = vec![Audience::parse(API).unwrap()];
            new.ip_allowlist = IpAllowlist::parse([allowed]).unwrap();
        })
    };
    let elsewhere = resource_server("203.0.113.0/24").await;
    let (status, body) = app.verify_key(&elsewhere, json!({ "key": key.key })).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    for checked in [key.key.as_str(), token.as_str()] {
        let (status, body) = app.introspect(&elsewhere, checked, &[]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );
    }

    let here = resource_server("127.0.0.0/8").await;
    let (status, body) = app.verify_key(&here, json!({ "key": key.key })).await;
    assert_eq!((status, body["code"].as_str()), (200, Some("VALID")));
    let (_, body) = app.introspect(&here, &token, &[]).await;
    assert_eq!(body["active"], true);
}

async fn code(app: &TestApp, rs: &TestClient, key: &str) -> Value {
    app.verify_key(rs, json!({ "key": key })).await.1["code"].clone()
}

/// Revocation authenticates as the token endpoint does, and deactivating an
/// API key takes the management scope that deactivating it anywhere takes.
async fn revocation_asks_what_the_token_endpoint_asks(backend: Backend) {
    let app = spawn_app(backend).await;
    let (rs, org, key) = app.key_to_check(|_| {}).await;

    // Without keyward:keys:write a client's revocation of a key does nothing.
    let plain = app
        .create_client_in(&org, &["payouts:read"], &[API], None)
        .await;
    assert_eq!(app.revoke(&plain, &key.key).await, 200);
    assert_eq!(code(&app, &rs, &key.key).await, "VALID");

    // A deactivated client cannot revoke at all.
    let keeper = app
        .create_client_in(&org, &["keyward:keys:write"], &[API], None)
        .await;
    let (status, _) = app
        .admin(
            Method::POST,
            &format!("/admin/v1/orgs/{org}/clients/{}/deactivate", keeper.id),
            ROOT_TOKEN,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let refused = app
        .http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&keeper.id, Some(&keeper.secret))
        .form(&[("token", key.key.as_str())])
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(refused).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(code(&app, &rs, &key.key).await, "VALID");

    // Nor can one outside its allowlist.
    let fenced = app
        .create_client_with(&["keyward:keys:write"], |new| {
            new.org_id = org.clone();
            new.ip_allowlist = IpAllowlist::parse(["203.0.113.0/24"]).unwrap();
        })
        .await;
    assert_eq!(app.revoke(&fenced, &key.key).await, 401);
    assert_eq!(code(&app, &rs, &key.key).await, "VALID");

    // An active client of the organisation with the scope deactivates it.
    let holder = app
        .create_client_in(&org, &["keyward:keys:write"], &[API], None)
        .await;
    assert_eq!(app.revoke(&holder, &key.key).await, 200);
    assert_eq!(code(&app, &rs, &key.key).await, "DEACTIVATED");
    let (_, events) = app
        .admin(
            Method::GET,
            &format!("/admin/v1/orgs/{org}/audit-events?action=api_key.revoked"),
            ROOT_TOKEN,
            None,
        )
        .await;
    let events = events["items"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["actor"], format!("client:{}", holder.id));
    assert_eq!(events[0]["target"]["id"], key.id.as_str());
}

async fn many_write_scopes_give_tokens_every_check_accepts(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let writes: Vec<String> = (0..40).map(|i| format!("s{i}:write")).collect();
    let mut scopes: Vec<&str> = writes.iter().map(String::as_str).collect();
    scopes.push("keyward:clients:read");
    let client = app.create_client_in(&org, &scopes, &[API], None).await;

    let admin = app.token(&client, &[("resource", &app.address)]).await;
    let (status, body) = app
        .admin(
            Method::GET,
            &format!("/admin/v1/orgs/{org}/clients"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let rs = app.create_resource_server(&[API]).await;
    let token = app.token(&client, &[("resource", API)]).await;
    let (_, body) = app
        .introspect(&rs, &token, &[("required_scope", "s39:read s0:write")])
        .await;
    assert_eq!(body["active"], true);
    assert_eq!(body["scope"].as_str().unwrap().split(' ').count(), 81);
    assert_eq!(body["scope_sufficient"], true, "{body}");
}

on_both_backends!(
    a_token_without_resource_gets_only_audiences_its_client_holds,
    scopes_alone_never_make_a_client_a_credential_checker,
    a_wildcard_grants_no_management_scope,
    a_resource_servers_allowlist_holds_on_every_check,
    revocation_asks_what_the_token_endpoint_asks,
    many_write_scopes_give_tokens_every_check_accepts,
);
