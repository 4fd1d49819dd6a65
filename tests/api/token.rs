//! Tokens fetched with the `oauth2` crate, as an integration would, and
//! verified against the JWKS, as a resource server would.

use std::collections::HashMap;

use keyward::crypto::SigningAlgorithm;
use keyward::domain::Plan;
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::helpers::{
    spawn_app, spawn_app_with, status_and_json, Backend, TestApp, TestClient, API,
};
use crate::support::jwt_verify::verify;

async fn oauth2_token(
    app: &TestApp,
    client: &TestClient,
    auth: AuthType,
    scopes: &[&str],
    extra: &[(&str, &str)],
) -> oauth2::basic::BasicTokenResponse {
    let oauth = BasicClient::new(ClientId::new(client.id.clone()))
        .set_client_secret(ClientSecret::new(client.secret.clone()))
        .set_token_uri(TokenUrl::new(app.url("/oauth/token")).unwrap())
        .set_auth_type(auth);
    let mut request = oauth.exchange_client_credentials();
    for scope in scopes {
        request = request.add_scope(Scope::new(scope.to_string()));
    }
    for (name, value) in extra {
        request = request.add_extra_param(*name, *value);
    }
    request
        .request_async(&app.http)
        .await
        .expect("token request succeeds")
}

async fn basic_auth_token_carries_every_rfc9068_claim(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app
        .create_client(&["payouts:write", "wallets:read"], &[API])
        .await;

    let token = oauth2_token(&app, &client, AuthType::BasicAuth, &["payouts:read"], &[]).await;
    assert_eq!(token.token_type().as_ref(), "bearer");
    assert_eq!(token.expires_in().unwrap().as_secs(), 900);
    assert!(token.refresh_token().is_none());
    let granted: Vec<_> = token
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(granted, vec!["payouts:read"]);

    // Without `resource` the token is for the client's own audience.
    let verified = verify(&app, token.access_token().secret(), API)
        .await
        .unwrap();
    assert_eq!(verified.header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(verified.header.alg, jsonwebtoken::Algorithm::ES256);
    let c = &verified.claims;
    assert_eq!(c["iss"], app.address.as_str());
    assert_eq!(c["sub"], client.id.as_str());
    assert_eq!(c["client_id"], client.id.as_str());
    assert_eq!(c["org_id"], client.org_id.as_str());
    assert_eq!(c["aud"], API);
    assert_eq!(c["scope"], "payouts:read");
    let iat = c["iat"].as_i64().unwrap();
    assert_eq!(c["exp"].as_i64().unwrap(), iat + 900);
    assert_eq!(c["nbf"].as_i64().unwrap(), iat);
    assert!((iat - chrono::Utc::now().timestamp()).abs() < 30);
    assert_eq!(c["jti"].as_str().unwrap().len(), 36);

    let again = oauth2_token(&app, &client, AuthType::BasicAuth, &["payouts:read"], &[]).await;
    let second = verify(&app, again.access_token().secret(), API)
        .await
        .unwrap();
    assert_ne!(
        second.claims["jti"], c["jti"],
        "every token has its own jti"
    );
}

async fn request_body_auth_and_resource(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.create_client(&["payouts:write"], &[API]).await;
    let token = oauth2_token(
        &app,
        &client,
        AuthType::RequestBody,
        &["payouts:write"],
        &[("resource", API)],
    )
    .await;
    let scopes: Vec<_> = token
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, vec!["payouts:read", "payouts:write"]);
    let verified = verify(&app, token.access_token().secret(), API)
        .await
        .unwrap();
    assert_eq!(verified.claims["aud"], API);
    assert_eq!(verified.claims["scope"], "payouts:read payouts:write");
}

async fn json_body_and_response_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.create_client(&["payouts:read"], &[API]).await;
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .json(&json!({
            "grant_type": "client_credentials",
            "client_id": client.id,
            "client_secret": client.secret,
            "scope": "payouts:read",
            "audience": API,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "payouts:read");
    assert!(body.get("refresh_token").is_none());
    verify(&app, body["access_token"].as_str().unwrap(), API)
        .await
        .unwrap();
}

async fn omitted_scope_gets_the_expanded_allowed_set(backend: Backend) {
    let implications = HashMap::from([
        ("admin".to_string(), vec!["deployment".to_string()]),
        ("deployment".to_string(), vec!["free".to_string()]),
    ]);
    let policy = keyward::domain::ScopePolicy::new(&implications).unwrap();
    let app = spawn_app_with(backend, |s| s.scope_implications = policy).await;
    let client = app.create_client(&["admin", "billing:write"], &[]).await;

    let (status, body) = status_and_json(
        app.post_token(&client, &[("grant_type", "client_credentials")])
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["scope"],
        "admin billing:read billing:write deployment free"
    );

    // A narrower request gets exactly its own expansion.
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "deployment"),
    ];
    let (_, body) = status_and_json(app.post_token(&client, &form).await).await;
    assert_eq!(body["scope"], "deployment free");
    let verified = verify(&app, body["access_token"].as_str().unwrap(), &app.address)
        .await
        .unwrap();
    assert_eq!(verified.claims["scope"], "deployment free");
}

async fn wildcard_client_gets_any_scope_and_literal_star(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.create_client(&["*"], &[]).await;
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "anything:write"),
    ];
    let (status, body) = status_and_json(app.post_token(&client, &form).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "anything:read anything:write");
    let (_, body) = status_and_json(
        app.post_token(&client, &[("grant_type", "client_credentials")])
            .await,
    )
    .await;
    assert_eq!(body["scope"], "*");
}

async fn several_resources_give_an_audience_array(backend: Backend) {
    let app = spawn_app(backend).await;
    let other = "https://other.example.test";
    let client = app.create_client(&["payouts:read"], &[API, other]).await;
    let form = [
        ("grant_type", "client_credentials"),
        ("resource", API),
        ("resource", other),
    ];
    let (status, body) = status_and_json(app.post_token(&client, &form).await).await;
    assert_eq!(status, 200, "{body}");
    let verified = verify(&app, body["access_token"].as_str().unwrap(), other)
        .await
        .unwrap();
    assert_eq!(verified.claims["aud"], json!([API, other]));
}

async fn configured_default_audience_and_ttl(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.default_audience = Some(keyward::domain::Audience::parse(API).unwrap());
        s.token_ttl_seconds = 300;
    })
    .await;
    // The configured default is chosen among the client's own audiences.
    let client = app
        .create_client(&["payouts:read"], &["https://other.test", API])
        .await;
    let (_, body) = status_and_json(
        app.post_token(&client, &[("grant_type", "client_credentials")])
            .await,
    )
    .await;
    assert_eq!(body["expires_in"], 300);
    let verified = verify(&app, body["access_token"].as_str().unwrap(), API)
        .await
        .unwrap();
    let c = &verified.claims;
    assert_eq!(c["aud"], API);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 300);
}

async fn eddsa_and_rs256_tokens_verify(backend: Backend) {
    for (alg, expected) in [
        (SigningAlgorithm::EdDSA, jsonwebtoken::Algorithm::EdDSA),
        (SigningAlgorithm::RS256, jsonwebtoken::Algorithm::RS256),
    ] {
        let app = spawn_app_with(backend, |s| s.signing_alg = alg).await;
        let client = app.create_client(&["payouts:read"], &[]).await;
        let token = oauth2_token(&app, &client, AuthType::BasicAuth, &[], &[]).await;
        let verified = verify(&app, token.access_token().secret(), &app.address)
            .await
            .unwrap();
        assert_eq!(verified.header.alg, expected);
    }
}

async fn tampered_token_fails_verification(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.create_client(&["payouts:read"], &[]).await;
    let token = oauth2_token(&app, &client, AuthType::BasicAuth, &[], &[]).await;
    let token = token.access_token().secret();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &parts[1])
            .unwrap(),
    )
    .unwrap();
    let mut forged = claims.clone();
    forged["scope"] = json!("payouts:read admin");
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(&forged).unwrap(),
    );
    let tampered = parts.join(".");
    assert!(verify(&app, &tampered, &app.address).await.is_err());
    assert!(verify(&app, token, &app.address).await.is_ok());
}

async fn client_status_plan_and_expiry_are_enforced(backend: Backend) {
    let app = spawn_app(backend).await;
    let grant = [("grant_type", "client_credentials")];

    let free = app.create_org(Plan::Free).await;
    let client = app
        .create_client_in(&free, &["payouts:read"], &[], None)
        .await;
    let (status, body) = status_and_json(app.post_token(&client, &grant).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );

    let org = app.create_org(Plan::Professional).await;
    let past = chrono::Utc::now().timestamp() - 10;
    let expired = app
        .create_client_in(&org, &["payouts:read"], &[], Some(past))
        .await;
    let (status, body) = status_and_json(app.post_token(&expired, &grant).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(body["error_description"], "the client has expired");
}

on_both_backends!(
    basic_auth_token_carries_every_rfc9068_claim,
    request_body_auth_and_resource,
    json_body_and_response_headers,
    omitted_scope_gets_the_expanded_allowed_set,
    wildcard_client_gets_any_scope_and_literal_star,
    several_resources_give_an_audience_array,
    configured_default_audience_and_ttl,
    eddsa_and_rs256_tokens_verify,
    tampered_token_fails_verification,
    client_status_plan_and_expiry_are_enforced,
);
