//! The hot paths: a credential's first request on a node
//! costs one indexed read and no argon2; a warm one runs no SQL at all.

use keyward::metrics::Counters;

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, Backend, TestClient};

struct Snapshot {
    sql: u64,
    argon2: u64,
    issued: u64,
}

fn snapshot(counters: &Counters) -> Snapshot {
    Snapshot {
        sql: Counters::read(&counters.sql_queries),
        argon2: Counters::read(&counters.argon2_verifications),
        issued: Counters::read(&counters.tokens_issued),
    }
}

async fn a_first_token_request_costs_one_read_and_a_warm_one_none(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.create_client(&["payouts:read"], &[]).await;
    let grant = [("grant_type", "client_credentials")];

    let before = snapshot(&app.counters);
    assert_eq!(app.post_token(&client, &grant).await.status(), 200);
    let cold = snapshot(&app.counters);
    assert_eq!(
        cold.sql - before.sql,
        1,
        "the first request reads the client once"
    );
    assert_eq!(cold.argon2, before.argon2, "and runs no argon2");

    for _ in 0..5 {
        assert_eq!(app.post_token(&client, &grant).await.status(), 200);
    }
    let warm = snapshot(&app.counters);
    assert_eq!(warm.sql, cold.sql, "warm requests run no SQL");
    assert_eq!(warm.argon2, cold.argon2, "warm requests run no argon2");
    assert_eq!(warm.issued - cold.issued, 5);

    // A wrong secret is refused by the same digest check, in microseconds.
    let mut wrong = client;
    wrong.secret.push('x');
    assert_eq!(app.post_token(&wrong, &grant).await.status(), 401);
    let after = snapshot(&app.counters);
    assert_eq!((after.sql, after.argon2), (warm.sql, warm.argon2));
}

async fn a_first_key_check_costs_one_read_and_no_argon2(backend: Backend) {
    let app = spawn_app(backend).await;
    let (rs, org, warmed) = app.key_to_check(|_| {}).await;
    let key = app
        .create_api_key(&org, &["payouts:read"], |_| {})
        .await
        .unwrap();
    let body = |key: &str| serde_json::json!({ "key": key });
    // The resource server's own first request reads it; that is not the key's.
    assert_eq!(
        app.verify_key(&rs, body(&warmed.key)).await.1["code"],
        "VALID"
    );

    let before = snapshot(&app.counters);
    assert_eq!(app.verify_key(&rs, body(&key.key)).await.1["code"], "VALID");
    let cold = snapshot(&app.counters);
    assert_eq!(
        cold.sql - before.sql,
        1,
        "the first check reads the key once"
    );
    assert_eq!(cold.argon2, before.argon2, "and runs no argon2");
}

async fn warm_introspection_runs_no_sql_argon2_or_signature_check(backend: Backend) {
    let app = spawn_app(backend).await;
    let rs = app
        .create_resource_server(&[crate::support::helpers::API])
        .await;
    let client = app
        .create_client(&["payouts:read"], &[crate::support::helpers::API])
        .await;
    let token = app
        .token(&client, &[("resource", crate::support::helpers::API)])
        .await;
    assert_eq!(app.introspect(&rs, &token, &[]).await.1["active"], true);
    let signatures = || Counters::read(&app.counters.signature_verifications);
    let cold = (snapshot(&app.counters), signatures());

    for _ in 0..5 {
        assert_eq!(app.introspect(&rs, &token, &[]).await.1["active"], true);
    }
    let warm = (snapshot(&app.counters), signatures());
    assert_eq!(warm.0.sql, cold.0.sql, "warm introspection runs no SQL");
    assert_eq!(warm.0.argon2, cold.0.argon2, "nor argon2");
    assert_eq!(
        warm.1, cold.1,
        "nor a second signature check of the same token"
    );
}

/// Timing: a wrong secret for a real client and any secret for an unknown
/// one take the same path, one indexed read each and no argon2, and get
/// the same answer.
async fn a_wrong_secret_and_an_unknown_client_cost_one_read_and_answer_alike(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut wrong_secret = app.create_client(&["payouts:read"], &[]).await;
    wrong_secret.secret.push('x');
    let unknown_client = TestClient {
        id: "cl_0123456789abcdef0123456789abcdef".into(),
        secret: wrong_secret.secret.clone(),
        org_id: wrong_secret.org_id.clone(),
    };
    let grant = [("grant_type", "client_credentials")];

    let mut answers = Vec::new();
    for client in [&wrong_secret, &unknown_client] {
        let before = snapshot(&app.counters);
        let response = app.post_token(client, &grant).await;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        let after = snapshot(&app.counters);
        assert_eq!(after.argon2, before.argon2, "{}", client.id);
        assert_eq!(after.sql - before.sql, 1, "{}", client.id);
        answers.push((status, body));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, 401);
}

on_both_backends!(
    a_first_token_request_costs_one_read_and_a_warm_one_none,
    a_first_key_check_costs_one_read_and_no_argon2,
    warm_introspection_runs_no_sql_argon2_or_signature_check,
    a_wrong_secret_and_an_unknown_client_cost_one_read_and_answer_alike,
);
