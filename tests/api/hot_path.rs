//! A warm token request runs no SQL and no argon2 (DESIGN.md "The hot paths").

use keyward::stats::Counters;

use crate::helpers::{spawn_app, Backend};
use crate::on_both_backends;

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

async fn warm_token_request_runs_no_sql_and_no_argon2(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.create_client(&["payouts:read"], &[]).await;
    let grant = [("grant_type", "client_credentials")];

    let before = snapshot(&app.counters);
    assert_eq!(app.post_token(&client, &grant).await.status(), 200);
    let cold = snapshot(&app.counters);
    assert!(cold.sql > before.sql, "the first request loads the client");
    assert_eq!(
        cold.argon2 - before.argon2,
        1,
        "the first request runs argon2 once"
    );

    for _ in 0..5 {
        assert_eq!(app.post_token(&client, &grant).await.status(), 200);
    }
    let warm = snapshot(&app.counters);
    assert_eq!(warm.sql, cold.sql, "warm requests run no SQL");
    assert_eq!(warm.argon2, cold.argon2, "warm requests run no argon2");
    assert_eq!(warm.issued - cold.issued, 5);

    // The cache never accepts a wrong secret: that still costs argon2, and fails.
    let mut wrong = client;
    wrong.secret.push('x');
    assert_eq!(app.post_token(&wrong, &grant).await.status(), 401);
    assert_eq!(snapshot(&app.counters).argon2, warm.argon2 + 1);
}

async fn warm_introspection_runs_no_sql_argon2_or_signature_check(backend: Backend) {
    let app = spawn_app(backend).await;
    let rs = app.create_resource_server(&[crate::helpers::API]).await;
    let client = app
        .create_client(&["payouts:read"], &[crate::helpers::API])
        .await;
    let token = app
        .token(&client, &[("resource", crate::helpers::API)])
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

async fn unknown_client_costs_a_dummy_verification(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = snapshot(&app.counters);
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth("cl_0123456789abcdef0123456789abcdef", Some("kws_guess"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(snapshot(&app.counters).argon2, before.argon2 + 1);
}

on_both_backends!(
    warm_token_request_runs_no_sql_and_no_argon2,
    warm_introspection_runs_no_sql_argon2_or_signature_check,
    unknown_client_costs_a_dummy_verification,
);
