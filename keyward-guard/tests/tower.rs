//! The tower layer in a small axum app, over real HTTP: its answers, and
//! the claims it hands on (as `tests/actix.rs` for the actix middleware).

mod support;

use std::sync::Arc;

use axum::routing::get;
use axum::{Extension, Json, Router};
use keyward_guard::tower::RequireScopeLayer;
use keyward_guard::{Claims, Guard};
use serde_json::{json, Value};
use support::{issuer, Published, TestKey, AUDIENCE};

async fn whoami(Extension(claims): Extension<Claims>) -> Json<Value> {
    Json(json!({"sub": claims.sub, "scope": claims.scope}))
}

/// `/payouts` needs `payouts:read`, `/admin/*` `payouts:admin`,
/// `/healthz` nothing; returns the base URL.
async fn serve(guard: &Guard) -> String {
    let app = Router::new()
        .route(
            "/payouts",
            get(whoami).layer(RequireScopeLayer::new(guard, "payouts:read").unwrap()),
        )
        .nest(
            "/admin",
            Router::new()
                .route("/payouts", get(whoami))
                .layer(RequireScopeLayer::new(guard, "payouts:admin").unwrap()),
        )
        .route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

struct Answer {
    status: u16,
    challenge: Option<String>,
    content_type: Option<String>,
    body: Value,
}

async fn call(url: String, headers: Vec<(&'static str, String)>) -> Answer {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let (challenge, content_type) = (header("www-authenticate"), header("content-type"));
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    Answer {
        status,
        challenge,
        content_type,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

#[tokio::test]
async fn applies_a_scope_per_route_and_hands_on_the_claims() {
    let key = TestKey::es256("k1");
    let published = Arc::new(Published::default());
    published.keys(&[&key]);
    let keyward = issuer(published);
    let guard = Guard::builder(&keyward, AUDIENCE)
        .realm("payouts")
        .connect()
        .await
        .unwrap();
    let base = serve(&guard).await;
    let get = |path: &str, headers| call(format!("{base}{path}"), headers);
    let bearer = |token: &str| vec![("authorization", format!("Bearer {token}"))];
    let reader = key.token(&keyward, "payouts:read", json!({}));

    let ok = get("/payouts", bearer(&reader)).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, json!({"sub": "cl_1", "scope": "payouts:read"}));
    assert_eq!(get("/healthz", vec![]).await.status, 200, "unguarded");

    let missing = get("/payouts", vec![]).await;
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.challenge.as_deref(),
        Some(r#"Bearer realm="payouts""#)
    );
    assert_eq!(missing.body, Value::Null, "no body without a credential");

    let expired = key.token(
        &keyward,
        "payouts:read",
        json!({"exp": support::now() - 120}),
    );
    let refused = get("/payouts", bearer(&expired)).await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.challenge.as_deref(),
        Some(
            r#"Bearer realm="payouts", error="invalid_token", error_description="the token has expired""#
        )
    );
    assert_eq!(refused.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        refused.body,
        json!({"error": "invalid_token", "error_description": "the token has expired"})
    );

    let forbidden = get("/admin/payouts", bearer(&reader)).await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(
        forbidden.challenge.as_deref(),
        Some(r#"Bearer realm="payouts", error="insufficient_scope", scope="payouts:admin""#)
    );
    assert_eq!(forbidden.body["required"], "payouts:admin");
    assert_eq!(forbidden.body["actual"], "payouts:read");
    let admin = key.token(&keyward, "*", json!({}));
    assert_eq!(get("/admin/payouts", bearer(&admin)).await.status, 200);

    // Bearer wins over X-API-KEY.
    let mut both = bearer(&reader);
    both.push(("x-api-key", "kw_key".into()));
    assert_eq!(get("/payouts", both).await.status, 200);
    let key_only = get("/payouts", vec![("x-api-key", "kw_key".into())]).await;
    assert_eq!(key_only.status, 401);
    assert_eq!(key_only.body["error"], "invalid_token");
}
