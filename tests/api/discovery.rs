//! Metadata (RFC 8414, also at the OpenID Connect discovery path), JWKS
//! (RFC 7517) and health endpoints.

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

/// The metadata at `/.well-known/openid-configuration` too (RFC 8414 §5),
/// where OpenID Connect libraries look: the same bytes and headers, the
/// issuer configured, HEAD answered, and nothing Keyward does not do.
async fn openid_configuration_is_the_same_document(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.issuer = Some("https://auth.example.test/".into());
    })
    .await;
    let fetch =
        |method: reqwest::Method, path: &str| app.http.request(method, app.url(path)).send();
    let mut answers = Vec::new();
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let response = fetch(reqwest::Method::GET, path).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["cache-control"], "public, max-age=3600", "{path}");
        assert_eq!(headers["content-type"], "application/json", "{path}");
        let body = response.bytes().await.unwrap();

        let head = fetch(reqwest::Method::HEAD, path).await.unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert_eq!(head.headers()["cache-control"], "public, max-age=3600");
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD {path}");
        answers.push(body);
    }
    assert_eq!(answers[0], answers[1], "one document at both paths");

    let doc: serde_json::Value = serde_json::from_slice(&answers[1]).unwrap();
    assert_eq!(doc["issuer"], "https://auth.example.test");
    assert_eq!(
        doc["jwks_uri"],
        "https://auth.example.test/.well-known/jwks.json"
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!([]));
    for absent in [
        "authorization_endpoint",
        "userinfo_endpoint",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ] {
        assert!(doc.get(absent).is_none(), "{absent} is not Keyward's");
    }
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
    openid_configuration_is_the_same_document,
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
