//! A client in its rotation grace period (two live secrets) costs what a
//! client with one secret costs: one keyed digest per request, counted by
//! `keyward_secret_digests_computed_total`; and with two imported secrets,
//! one argon2 run for the current one.

use keyward::domain::Plan;
use keyward::metrics::Counters;
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, Backend, TestApp, TestClient, ROOT_TOKEN};
use crate::support::metrics_scrape::Scrape;

const OLD_IMPORTED: &str = "hydra-Zq8xV2mLp0R7tYc4NbWk1sDf";
const NEW_IMPORTED: &str = "hydra-Pw3nB7vKd1Lq9XsT5mRc8Yh";

/// The value of a counter on `/metrics`.
async fn metric(app: &TestApp, name: &str) -> u64 {
    Scrape::of(app).await.get(name, &[]) as u64
}

async fn token_status(app: &TestApp, id: &str, secret: &str) -> u16 {
    let client = TestClient {
        id: id.to_owned(),
        secret: secret.to_owned(),
        org_id: String::new(),
    };
    app.post_token(&client, &[("grant_type", "client_credentials")])
        .await
        .status()
        .as_u16()
}

/// A client created through the management API, then its secret rotated
/// with a one-hour grace period: (id, old secret, new secret).
async fn rotated_client(app: &TestApp, imported: Option<(&str, &str)>) -> (String, String, String) {
    let org = app.create_org(Plan::Enterprise).await;
    let mut body = json!({"name": "ci", "scopes": ["x:read"]});
    let mut rotation = json!({"grace_period_seconds": 3600});
    if let Some((old, new)) = imported {
        body["client_secret"] = Value::from(old);
        rotation["client_secret"] = Value::from(new);
    }
    let path = format!("/admin/v1/orgs/{org}/clients");
    let (status, created) = app.admin(Method::POST, &path, ROOT_TOKEN, Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["client_id"].as_str().unwrap().to_owned();
    let rotate = format!("{path}/{id}/rotate-secret");
    let (status, rotated) = app
        .admin(Method::POST, &rotate, ROOT_TOKEN, Some(rotation))
        .await;
    assert_eq!(status, 200, "{rotated}");
    match imported {
        Some((old, new)) => (id, old.to_owned(), new.to_owned()),
        None => (
            id,
            created["client_secret"].as_str().unwrap().to_owned(),
            rotated["client_secret"].as_str().unwrap().to_owned(),
        ),
    }
}

async fn a_client_in_its_grace_period_costs_one_digest_per_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, old, new) = rotated_client(&app, None).await;
    const DIGESTS: &str = "keyward_secret_digests_computed_total";
    for (secret, expected) in [(&old, 200), (&new, 200), (&"kws_wrong".to_owned(), 401)] {
        let before = metric(&app, DIGESTS).await;
        assert_eq!(token_status(&app, &id, secret).await, expected);
        assert_eq!(
            metric(&app, DIGESTS).await - before,
            1,
            "one HMAC for both stored digests"
        );
    }
    assert_eq!(Counters::read(&app.counters.argon2_verifications), 0);
}

async fn two_imported_secrets_cost_one_argon2_run_for_the_current_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, old, new) = rotated_client(&app, Some((OLD_IMPORTED, NEW_IMPORTED))).await;
    let argon2 = || Counters::read(&app.counters.argon2_verifications);
    let before = argon2();
    assert_eq!(token_status(&app, &id, &new).await, 200);
    assert_eq!(argon2() - before, 1, "the current secret is tried first");
    // Remembered on this node: no argon2 the next time.
    assert_eq!(token_status(&app, &id, &new).await, 200);
    assert_eq!(argon2() - before, 1);
    // The secret in its grace period still works (it is tried second).
    assert_eq!(token_status(&app, &id, &old).await, 200);
    assert!(argon2() - before <= 3);
}

async fn an_imported_secret_rotated_to_a_generated_one_costs_at_most_one_argon2_run(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let path = format!("/admin/v1/orgs/{org}/clients");
    let body = json!({"name": "ci", "scopes": ["x:read"], "client_secret": OLD_IMPORTED});
    let (_, created) = app.admin(Method::POST, &path, ROOT_TOKEN, Some(body)).await;
    let id = created["client_id"].as_str().unwrap().to_owned();
    let rotate = format!("{path}/{id}/rotate-secret");
    let (_, rotated) = app.admin(Method::POST, &rotate, ROOT_TOKEN, None).await;
    let new = rotated["client_secret"].as_str().unwrap().to_owned();
    let argon2 = || Counters::read(&app.counters.argon2_verifications);
    let before = argon2();
    assert_eq!(token_status(&app, &id, &new).await, 200);
    assert_eq!(argon2(), before, "the generated secret matches its digest");
    assert_eq!(token_status(&app, &id, "kws_wrong").await, 401);
    assert_eq!(argon2() - before, 1);
    assert_eq!(token_status(&app, &id, OLD_IMPORTED).await, 200);
    assert_eq!(argon2() - before, 2);
}

on_both_backends!(
    a_client_in_its_grace_period_costs_one_digest_per_request,
    two_imported_secrets_cost_one_argon2_run_for_the_current_one,
    an_imported_secret_rotated_to_a_generated_one_costs_at_most_one_argon2_run,
);
