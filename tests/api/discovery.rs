//! Metadata (RFC 8414), JWKS (RFC 7517) and health endpoints.

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, spawn_app_with, Backend};

async fn metadata_describes_the_server(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(doc["issuer"], app.address.as_str());
    assert_eq!(doc["token_endpoint"], app.url("/oauth/token").as_str());
    assert_eq!(doc["jwks_uri"], app.url("/.well-known/jwks.json").as_str());
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!([
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        ])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );
    assert_eq!(
        doc["token_endpoint_auth_signing_alg_values_supported"],
        serde_json::json!(["ES256", "EdDSA", "Ed25519", "RS256", "PS256"])
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!([]));
    assert!(doc.get("scopes_supported").is_none());

    let configured = spawn_app_with(backend, |s| {
        s.issuer = Some("https://auth.example.test/".into());
        s.scopes_supported = Some(vec![keyward::domain::Scope::parse("payouts:read").unwrap()]);
    })
    .await;
    let doc = configured
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(doc["issuer"], "https://auth.example.test");
    assert_eq!(
        doc["token_endpoint"],
        "https://auth.example.test/oauth/token"
    );
    assert_eq!(doc["scopes_supported"], serde_json::json!(["payouts:read"]));
}

async fn jwks_publishes_only_public_parts(backend: Backend) {
    for alg in ["ES256", "EdDSA", "RS256"] {
        let app = spawn_app_with(backend, |s| s.signing_alg = alg.parse().unwrap()).await;
        let response = app
            .http
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let cache = response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(cache.contains("max-age=60"), "{cache}");
        let jwks: serde_json::Value = response.json().await.unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        let key = &keys[0];
        assert_eq!(key["alg"], alg);
        assert_eq!(key["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "{alg} JWK exposes {private}");
        }
    }
}

async fn health_and_readiness(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.get_json("/healthz").await["status"], "ok");
    let ready = app.get_json("/readyz").await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["checks"]["database"], "ok");
    assert_eq!(ready["checks"]["signing_key"], "ok");
}

on_both_backends!(
    metadata_describes_the_server,
    jwks_publishes_only_public_parts,
    health_and_readiness,
);

/// PostgreSQL goes away under a running server: /readyz says so with 503.
#[tokio::test]
async fn readiness_fails_when_postgres_database_is_gone() {
    let mut app = spawn_app(Backend::Postgres).await;
    assert_eq!(app.get_json("/readyz").await["status"], "ready");
    app.db.drop_now();
    let response = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "unavailable");
    assert_eq!(body["checks"]["signing_key"], "ok");
}
