//! `keyward-guard`'s actix-web middleware in front of a small API, over
//! real HTTP, with tokens from the real server under each signing
//! algorithm, offline and by introspection, and with DPoP-bound tokens and
//! their proofs.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use keyward_guard::actix::RequireScope;
use keyward_guard::{Claims, Guard, Introspection};
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::client_keys::{access_token_hash, ClientKeyPair};
use crate::support::helpers::{spawn_app, spawn_app_with, Backend, TestApp, API, ROOT_TOKEN};

const OTHER: &str = "https://other.example.test";

pub(crate) async fn whoami(claims: web::ReqData<Claims>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "client_id": claims.client_id,
        "org_id": claims.org_id,
        "key_id": claims.key_id,
        "scope": claims.scope,
    }))
}

/// `/payouts` needs `payouts:read`, `/admin/payouts` `payouts:admin`;
/// returns the base URL.
async fn serve_guarded(keyward: &TestApp) -> String {
    let guard = Guard::builder(&keyward.address, API)
        .realm("payouts")
        .connect()
        .await
        .unwrap();
    serve(guard)
}

/// The routes of `serve_guarded` behind `guard`; returns the base URL.
pub(crate) fn serve(guard: Guard) -> String {
    serve_routes(move |routes| {
        routes
            .service(
                web::resource("/payouts")
                    .wrap(RequireScope::new(&guard, "payouts:read").unwrap())
                    .route(web::get().to(whoami)),
            )
            .service(
                web::scope("/admin")
                    .wrap(RequireScope::new(&guard, "payouts:admin").unwrap())
                    .route("/payouts", web::get().to(whoami)),
            );
    })
}

/// An actix app on a free port with `routes`; returns the base URL.
pub(crate) fn serve_routes(
    routes: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = HttpServer::new(move || App::new().configure(routes.clone()))
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
    tokio::spawn(server);
    base
}

async fn get(url: &str, token: &str) -> (u16, Option<String>, Value) {
    let response = keyward::tls::client()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, challenge, body)
}

#[tokio::test]
async fn the_middleware_checks_the_servers_tokens_under_each_algorithm() {
    for alg in ["ES256", "EdDSA", "RS256"] {
        let keyward =
            spawn_app_with(Backend::Sqlite, |s| s.signing_alg = alg.parse().unwrap()).await;
        let base = serve_guarded(&keyward).await;
        let payouts = format!("{base}/payouts");

        let reader = keyward
            .create_client(&["payouts:read"], &[API, OTHER])
            .await;
        let token = keyward.token(&reader, &[("resource", API)]).await;
        let (status, _, body) = get(&payouts, &token).await;
        assert_eq!(status, 200, "{alg}: {body}");
        assert_eq!(body["client_id"], reader.id.as_str(), "{alg}");
        assert!(body["org_id"].is_string(), "{alg}: {body}");

        // payouts:write implies payouts:read, and the token carries both.
        let writer = keyward.create_client(&["payouts:write"], &[API]).await;
        let token = keyward.token(&writer, &[("resource", API)]).await;
        assert_eq!(get(&payouts, &token).await.0, 200, "{alg}");

        let (status, challenge, body) = get(&format!("{base}/admin/payouts"), &token).await;
        assert_eq!(status, 403, "{alg}: {body}");
        assert_eq!(
            challenge.as_deref(),
            Some(r#"Bearer realm="payouts", error="insufficient_scope", scope="payouts:admin""#)
        );
        assert_eq!(body["required"], "payouts:admin");
        assert_eq!(body["actual"], "payouts:read payouts:write");

        let everything = keyward.create_client(&["*"], &[API]).await;
        let token = keyward.token(&everything, &[("resource", API)]).await;
        assert_eq!(
            get(&format!("{base}/admin/payouts"), &token).await.0,
            200,
            "{alg}"
        );

        let elsewhere = keyward.token(&reader, &[("resource", OTHER)]).await;
        let (status, _, body) = get(&payouts, &elsewhere).await;
        assert_eq!(status, 401, "{alg}");
        assert_eq!(
            body,
            json!({"error": "invalid_token", "error_description": "the token is not for this audience"})
        );
    }
}

/// How long an introspection answer is reused in the test below.
const CACHE_TTL: Duration = Duration::from_secs(1);
/// On top of the TTL: Keyward's change-log poll (250 ms) and the requests.
const MARGIN: Duration = Duration::from_millis(1500);

/// Asks `url` with `token` until refused as `invalid_token`; fails past
/// the cache's TTL and a margin. Returns how long it took.
async fn refused_within_the_bound(url: &str, token: &str) -> Duration {
    let start = Instant::now();
    loop {
        let (status, _, body) = get(url, token).await;
        if status == 401 {
            assert_eq!(body["error"], "invalid_token", "{body}");
            return start.elapsed();
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            start.elapsed() < CACHE_TTL + MARGIN,
            "still accepted after {:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn introspection_mode_follows_revocation_and_deactivation(backend: Backend) {
    let keyward = spawn_app(backend).await;
    let rs = keyward.create_resource_server(&[API]).await;
    let introspection = Introspection::new(&rs.id, rs.secret.clone()).cache_ttl(CACHE_TTL);
    let guard = Guard::builder(&keyward.address, API)
        .realm("payouts")
        .introspection(introspection)
        .connect()
        .await
        .unwrap();
    let payouts = format!("{}/payouts", serve(guard));

    let reader = keyward.create_client(&["payouts:read"], &[API]).await;
    let token = keyward.token(&reader, &[("resource", API)]).await;
    let (status, _, body) = get(&payouts, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_id"], reader.id.as_str());

    let (status, challenge, body) = get(&payouts, "not-a-token").await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge.as_deref(),
        Some(
            r#"Bearer realm="payouts", error="invalid_token", error_description="the token is not active""#
        )
    );
    assert_eq!(
        body,
        json!({"error": "invalid_token", "error_description": "the token is not active"})
    );

    assert_eq!(keyward.revoke(&reader, &token).await, 200);
    let revoked_after = refused_within_the_bound(&payouts, &token).await;

    let other = keyward.create_client(&["payouts:read"], &[API]).await;
    let token = keyward.token(&other, &[("resource", API)]).await;
    assert_eq!(get(&payouts, &token).await.0, 200);
    let path = format!(
        "/admin/v1/orgs/{}/clients/{}/deactivate",
        other.org_id, other.id
    );
    let (status, body) = keyward.admin(Method::POST, &path, ROOT_TOKEN, None).await;
    assert_eq!(status, 200, "{body}");
    let deactivated_after = refused_within_the_bound(&payouts, &token).await;
    eprintln!(
        "{backend:?}: refused {revoked_after:?} after revocation, \
         {deactivated_after:?} after deactivation (TTL {CACHE_TTL:?})"
    );
}

crate::on_both_backends!(introspection_mode_follows_revocation_and_deactivation);

/// GET `url` with `token` under the DPoP scheme and `proof` as `DPoP`.
async fn get_dpop(url: &str, token: &str, proof: &str) -> (u16, Option<String>, Value) {
    let response = keyward::tls::client()
        .get(url)
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", proof)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        challenge,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// The guard's public URL is the audience unless set: proofs name
/// `https://api.example.test/payouts`, however the test reaches the app.
async fn the_middleware_takes_dpop_bound_tokens_with_their_proofs(backend: Backend) {
    let keyward = spawn_app(backend).await;
    let payouts = format!("{}/payouts", serve_guarded(&keyward).await);
    let htu = format!("{API}/payouts");
    let reader = keyward.create_client(&["payouts:read"], &[API]).await;
    let key = ClientKeyPair::es256("client-key");
    let token = keyward
        .dpop_token(&reader, &key, &[("resource", API)])
        .await;
    let proof =
        |htm: &str, htu: &str| key.dpop_proof(htm, htu, json!({"ath": access_token_hash(&token)}));

    let good = proof("GET", &htu);
    let (status, _, body) = get_dpop(&payouts, &token, &good).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_id"], reader.id.as_str());
    let (status, challenge, body) = get_dpop(&payouts, &token, &good).await;
    assert_eq!(status, 401, "replayed: {body}");
    assert_eq!(
        challenge.as_deref(),
        Some(
            r#"DPoP realm="payouts", error="invalid_dpop_proof", error_description="the DPoP proof was used before", algs="ES256 EdDSA RS256 PS256""#
        )
    );
    let (status, _, body) = get_dpop(&payouts, &token, &proof("GET", &payouts)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_dpop_proof"))
    );

    let (status, challenge, body) = get(&payouts, &token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert!(challenge.unwrap().starts_with("Bearer "));

    let unbound = keyward.token(&reader, &[("resource", API)]).await;
    let unbound_proof = key.dpop_proof("GET", &htu, json!({"ath": access_token_hash(&unbound)}));
    let (status, challenge, body) = get_dpop(&payouts, &unbound, &unbound_proof).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert!(challenge.unwrap().starts_with("DPoP "));
    assert_eq!(get(&payouts, &unbound).await.0, 200);
}

crate::on_both_backends!(the_middleware_takes_dpop_bound_tokens_with_their_proofs);
