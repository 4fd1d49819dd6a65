//! The actix-web middleware: its answers, and the claims it hands on.

mod support;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpResponse};
use keyward_guard::actix::RequireScope;
use keyward_guard::{Claims, Guard};
use serde_json::{json, Value};
use support::{issuer, Published, TestKey, AUDIENCE};

async fn whoami(claims: web::ReqData<Claims>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"sub": claims.sub, "scope": claims.scope}))
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: Value,
}

#[actix_web::test]
async fn applies_a_scope_per_route_and_hands_on_the_claims() {
    let key = TestKey::es256("k1");
    let published = Arc::new(Published::default());
    published.keys(&[&key]);
    let base = issuer(published);
    let guard = Guard::builder(&base, AUDIENCE)
        .realm("payouts")
        .connect()
        .await
        .unwrap();
    let app = test::init_service(
        App::new()
            .service(
                web::resource("/payouts")
                    .wrap(RequireScope::new(&guard, "payouts:read").unwrap())
                    .route(web::get().to(whoami)),
            )
            .service(
                web::scope("/admin")
                    .wrap(RequireScope::new(&guard, "payouts:admin").unwrap())
                    .route("/payouts", web::get().to(whoami)),
            )
            .route("/healthz", web::get().to(HttpResponse::Ok)),
    )
    .await;
    let call = |path: &'static str, headers: Vec<(&'static str, String)>| {
        let mut request = test::TestRequest::get().uri(path);
        for header in headers {
            request = request.insert_header(header);
        }
        let app = &app;
        async move {
            let response = test::call_service(app, request.to_request()).await;
            let status = response.status();
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            let bytes = test::read_body(response).await;
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            Answer {
                status,
                challenge,
                body,
            }
        }
    };
    let bearer = |token: &str| vec![("authorization", format!("Bearer {token}"))];

    let reader = key.token(&base, "payouts:read", json!({}));
    let ok = call("/payouts", bearer(&reader)).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body, json!({"sub": "cl_1", "scope": "payouts:read"}));
    assert_eq!(
        call("/healthz", vec![]).await.status,
        StatusCode::OK,
        "unguarded"
    );

    let missing = call("/payouts", vec![]).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.challenge.as_deref(),
        Some(r#"Bearer realm="payouts""#)
    );
    assert_eq!(missing.body, Value::Null, "no body without a credential");

    let expired = key.token(&base, "payouts:read", json!({"exp": support::now() - 120}));
    let refused = call("/payouts", bearer(&expired)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.challenge.as_deref(),
        Some(
            r#"Bearer realm="payouts", error="invalid_token", error_description="the token has expired""#
        )
    );
    assert_eq!(
        refused.body,
        json!({"error": "invalid_token", "error_description": "the token has expired"})
    );

    let forbidden = call("/admin/payouts", bearer(&reader)).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(
        forbidden.challenge.as_deref(),
        Some(r#"Bearer realm="payouts", error="insufficient_scope", scope="payouts:admin""#)
    );
    assert_eq!(forbidden.body["required"], "payouts:admin");
    assert_eq!(forbidden.body["actual"], "payouts:read");
    let admin = key.token(&base, "*", json!({}));
    assert_eq!(
        call("/admin/payouts", bearer(&admin)).await.status,
        StatusCode::OK
    );

    // Bearer wins over X-API-KEY.
    let mut both = bearer(&reader);
    both.push(("x-api-key", "kw_key".into()));
    assert_eq!(call("/payouts", both).await.status, StatusCode::OK);
    let key_only = call("/payouts", vec![("x-api-key", "kw_key".into())]).await;
    assert_eq!(key_only.status, StatusCode::UNAUTHORIZED);
    assert_eq!(key_only.body["error"], "invalid_token");
}
