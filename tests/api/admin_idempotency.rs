//! Idempotency-Key on the real management routes: a retried create gets the
//! same one-time secret back, and duplicates at once make one resource.

use keyward::domain::Plan;
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, Backend, TestApp, ROOT_TOKEN};

async fn post(app: &TestApp, path: &str, key: &str, body: Value) -> (u16, Option<String>, Value) {
    let response = app
        .http
        .post(app.url(path))
        .bearer_auth(ROOT_TOKEN)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let replayed = response
        .headers()
        .get("x-idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        replayed,
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn a_retried_create_returns_the_same_secret_once_made(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let keys = format!("/admin/v1/orgs/{org}/api-keys");
    let clients = format!("/admin/v1/orgs/{org}/clients");
    let idem = uuid::Uuid::new_v4().to_string();
    let body = json!({"name": "CI", "scopes": ["payouts:read"]});

    let (status, replayed, first) = post(&app, &keys, &idem, body.clone()).await;
    assert_eq!((status, replayed), (201, None));
    let (status, replayed, again) = post(&app, &keys, &idem, body.clone()).await;
    assert_eq!((status, replayed.as_deref()), (201, Some("true")));
    assert_eq!(again["key"], first["key"], "the one-time key is replayed");

    let (status, _, problem) = post(
        &app,
        &keys,
        &idem,
        json!({"name": "other", "scopes": ["x:read"]}),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED"))
    );
    let (status, _, problem) = post(&app, &keys, "not-a-uuid", body.clone()).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("INVALID_IDEMPOTENCY_KEY"))
    );

    let client_idem = uuid::Uuid::new_v4().to_string();
    let client_body = json!({"name": "worker", "scopes": ["payouts:read"]});
    let (_, _, made) = post(&app, &clients, &client_idem, client_body.clone()).await;
    let (_, replayed, remade) = post(&app, &clients, &client_idem, client_body).await;
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(remade["client_secret"], made["client_secret"]);

    let (_, list) = app.admin(Method::GET, &keys, ROOT_TOKEN, None).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "one key, not two"
    );
}

async fn simultaneous_duplicates_make_one_resource(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let keys = format!("/admin/v1/orgs/{org}/api-keys");
    let idem = uuid::Uuid::new_v4().to_string();
    let body = json!({"name": "CI", "scopes": ["payouts:read"]});
    let attempts = (0..8).map(|_| post(&app, &keys, &idem, body.clone()));
    let results = futures_util::future::join_all(attempts).await;
    let created: Vec<_> = results
        .iter()
        .filter(|(s, r, _)| *s == 201 && r.is_none())
        .collect();
    assert_eq!(created.len(), 1, "{results:?}");
    for (status, replayed, body) in &results {
        match status {
            201 => assert_eq!(body["key"], created[0].2["key"], "{replayed:?}"),
            409 => assert_eq!(body["code"], "IDEMPOTENCY_KEY_IN_USE"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let (_, list) = app.admin(Method::GET, &keys, ROOT_TOKEN, None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

async fn a_replay_needs_a_credential_that_is_still_valid(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let keys = format!("/admin/v1/orgs/{org}/api-keys");
    let admin = app
        .admin(
            Method::POST,
            &keys,
            ROOT_TOKEN,
            Some(json!({"name": "admin", "scopes": ["*", "keyward:keys:write"]})),
        )
        .await
        .1;
    let admin_key = admin["key"].as_str().unwrap().to_owned();
    let idem = uuid::Uuid::new_v4().to_string();
    let send = || {
        app.http
            .post(app.url(&keys))
            .bearer_auth(&admin_key)
            .header("idempotency-key", &idem)
            .json(&json!({"name": "made by admin", "scopes": ["x:read"]}))
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 201);
    let replay = send().await.unwrap();
    assert_eq!(replay.headers()["x-idempotent-replayed"], "true");

    let admin_path = format!("{keys}/{}/deactivate", admin["id"].as_str().unwrap());
    app.admin(Method::POST, &admin_path, ROOT_TOKEN, None).await;
    let refused = send().await.unwrap();
    assert_eq!(
        refused.status(),
        401,
        "no replay of a one-time secret to a dead credential"
    );
    assert!(refused.headers().get("x-idempotent-replayed").is_none());
}

/// `method` on `path` with the root token, an Idempotency-Key and a JSON body.
async fn send(app: &TestApp, method: Method, path: &str, key: &str, body: Value) -> (u16, Value) {
    let response = app
        .http
        .request(method, app.url(path))
        .bearer_auth(ROOT_TOKEN)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn a_method_the_path_does_not_serve_is_405_whatever_the_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let idem = uuid::Uuid::new_v4().to_string();
    let body = json!({"name": "Acme", "plan": "starter"});
    let (status, org) = send(&app, Method::POST, "/admin/v1/orgs", &idem, body.clone()).await;
    assert_eq!(status, 201);

    // The key was used for the POST: still 405, not 422 IDEMPOTENCY_KEY_REUSED.
    let (status, problem) = send(&app, Method::PATCH, "/admin/v1/orgs", &idem, body).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (405, Some("METHOD_NOT_ALLOWED"))
    );

    // A 405 claims no key: the same key then runs a served method afresh.
    let org_path = format!("/admin/v1/orgs/{}", org["id"].as_str().unwrap());
    let fresh = uuid::Uuid::new_v4().to_string();
    let rename = json!({"name": "Acme Two"});
    let (status, _) = send(&app, Method::PUT, &org_path, &fresh, rename.clone()).await;
    assert_eq!(status, 405);
    let (status, renamed) = send(&app, Method::PATCH, &org_path, &fresh, rename).await;
    assert_eq!((status, renamed["name"].as_str()), (200, Some("Acme Two")));
}

on_both_backends!(
    a_method_the_path_does_not_serve_is_405_whatever_the_key,
    a_replay_needs_a_credential_that_is_still_valid,
    a_retried_create_returns_the_same_secret_once_made,
    simultaneous_duplicates_make_one_resource,
);
