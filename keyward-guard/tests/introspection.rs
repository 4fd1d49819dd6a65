//! Introspection mode against a stand-in `/oauth/introspect`: what it
//! caches, for how long, and what it answers when Keyward says no or is
//! not there.

mod support;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keyward_guard::{Denial, Guard, Introspection};
use serde_json::{json, Value};
use support::{now, AUDIENCE};

const SECRET: &str = "kws_the-resource-servers-secret";

/// The stand-in's answers by token (`{"active": false}` for others), and
/// how often it was asked.
#[derive(Default)]
struct Introspected {
    answers: Mutex<HashMap<String, Value>>,
    calls: AtomicUsize,
}

impl Introspected {
    fn active(&self, token: &str, changes: Value) {
        let mut answer = json!({
            "active": true, "scope": "payouts:read", "client_id": "cl_1", "sub": "cl_1",
            "aud": AUDIENCE, "iss": "http://keyward", "exp": now() + 900, "iat": now(),
            "nbf": now(), "jti": "jti-1", "token_type": "Bearer", "org_id": "org_1",
        });
        for (name, value) in changes.as_object().unwrap() {
            answer[name] = value.clone();
        }
        self.answers.lock().unwrap().insert(token.into(), answer);
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// Serves `/oauth/introspect` to `rs:SECRET` after `delay`; returns the base URL.
fn keyward(introspected: Arc<Introspected>, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let basic = format!("Basic {}", STANDARD.encode(format!("rs:{SECRET}")));
    let server = HttpServer::new(move || {
        let (introspected, basic) = (introspected.clone(), basic.clone());
        App::new().route(
            "/oauth/introspect",
            web::post().to(
                move |req: HttpRequest, form: web::Form<HashMap<String, String>>| {
                    let (introspected, basic) = (introspected.clone(), basic.clone());
                    async move {
                        introspected.calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(delay).await;
                        let sent = req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok());
                        if sent != Some(basic.as_str()) {
                            return HttpResponse::Unauthorized()
                                .json(json!({"error": "invalid_client"}));
                        }
                        let answers = introspected.answers.lock().unwrap();
                        let answer = answers.get(&form["token"]).cloned();
                        HttpResponse::Ok().json(answer.unwrap_or(json!({"active": false})))
                    }
                },
            ),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    base
}

async fn guard(base: &str, secret: &str, ttl: Duration) -> Guard {
    Guard::builder(base, AUDIENCE)
        .introspection(Introspection::new("rs", secret).cache_ttl(ttl))
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn concurrent_requests_share_one_call_and_the_answer_is_reused_for_the_ttl() {
    let introspected = Arc::new(Introspected::default());
    introspected.active("live", json!({}));
    let base = keyward(introspected.clone(), Duration::from_millis(200));
    let guard = guard(&base, SECRET, Duration::from_millis(600)).await;

    let mut checks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let guard = guard.clone();
        checks.spawn(async move { guard.verify_token("live").await });
    }
    for claims in checks.join_all().await {
        assert_eq!(claims.unwrap().client_id.as_deref(), Some("cl_1"));
    }
    assert_eq!(introspected.calls(), 1, "one call for eight requests");
    guard.verify_token("live").await.unwrap();
    assert_eq!(introspected.calls(), 1, "cached");

    tokio::time::sleep(Duration::from_millis(700)).await;
    guard.verify_token("live").await.unwrap();
    assert_eq!(introspected.calls(), 2, "asked again past the TTL");
}

#[tokio::test]
async fn an_answer_is_never_reused_past_the_tokens_exp() {
    let introspected = Arc::new(Introspected::default());
    introspected.active("short", json!({"exp": now() + 1}));
    let base = keyward(introspected.clone(), Duration::ZERO);
    let guard = guard(&base, SECRET, Duration::from_secs(60)).await;
    guard.verify_token("short").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    guard.verify_token("short").await.unwrap();
    assert_eq!(introspected.calls(), 2);
}

#[tokio::test]
async fn inactive_foreign_or_odd_answers_are_invalid_tokens_and_not_cached() {
    let introspected = Arc::new(Introspected::default());
    introspected.active("elsewhere", json!({"aud": "https://other.example.test"}));
    introspected.active("api-key", json!({"sub": null, "aud": null}));
    let base = keyward(introspected.clone(), Duration::ZERO);
    let guard = guard(&base, SECRET, Duration::from_secs(60)).await;
    for _ in 0..2 {
        let denial = guard.verify_token("revoked").await.unwrap_err();
        assert_eq!(denial, Denial::InvalidToken("the token is not active"));
    }
    assert_eq!(introspected.calls(), 2, "inactive answers are not cached");
    assert_eq!(
        guard.verify_token("elsewhere").await.unwrap_err(),
        Denial::InvalidToken("the token is not for this audience")
    );
    assert_eq!(
        guard.verify_token("api-key").await.unwrap_err(),
        Denial::InvalidToken("the token is not an access token")
    );
}

#[tokio::test]
async fn keyward_unreachable_or_refusing_the_guard_is_unavailable() {
    let introspected = Arc::new(Introspected::default());
    introspected.active("live", json!({}));
    let base = keyward(introspected.clone(), Duration::ZERO);
    let misconfigured = guard(&base, "kws_wrong", Duration::from_secs(5)).await;
    assert_eq!(
        misconfigured.verify_token("live").await.unwrap_err(),
        Denial::Unavailable
    );

    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = guard(&nowhere, SECRET, Duration::from_secs(5)).await;
    let denial = unreachable.verify_token("live").await.unwrap_err();
    assert_eq!(denial, Denial::Unavailable);
    assert_eq!(denial.status(), 503);
}

#[test]
fn the_client_secret_stays_out_of_debug_output() {
    let options = Introspection::new("rs", SECRET);
    let debug = format!("{options:?}");
    assert!(debug.contains("rs") && !debug.contains(SECRET), "{debug}");
}
