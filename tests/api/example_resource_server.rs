//! The runnable example in `examples/resource_server`: its app, started on
//! port 0 against a real Keyward, in both of its modes, over real HTTP.

#[path = "../../examples/resource_server/guard.rs"]
mod guard;

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::support::client_keys::{access_token_hash, ClientKeyPair};
use crate::support::helpers::{spawn_app, Backend, TestApp, API};
use guard::{Config, Guard, Mode};

const OTHER: &str = "https://other.example.test";

fn example_config(keyward: &TestApp, mode: Mode) -> Config {
    Config {
        keyward_url: keyward.address.clone(),
        audience: API.into(),
        required_scope: "payouts:read".into(),
        mode,
        // Set by serve_example once it knows its port.
        public_url: String::new(),
    }
}

/// Starts the example's app against `keyward`; returns the URL of its `/payouts`.
async fn start_example(keyward: &TestApp, mode: Mode) -> String {
    serve_example(example_config(keyward, mode)).await
}

/// The example in JWKS mode, for other tests' clients to call.
pub async fn start_jwks_example(keyward: &TestApp) -> String {
    let mode = Mode::Jwks {
        refetch_interval: Duration::from_secs(10),
    };
    start_example(keyward, mode).await
}

async fn serve_example(config: Config) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Config {
        public_url: format!("http://127.0.0.1:{port}"),
        ..config
    };
    let guard = web::Data::new(Guard::connect(config).await.unwrap());
    let server =
        HttpServer::new(move || App::new().app_data(guard.clone()).configure(guard::routes))
            .workers(1)
            .listen(listener)
            .unwrap()
            .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}/payouts")
}

fn introspect_mode(rs: &crate::support::helpers::TestClient, cache_ttl: Duration) -> Mode {
    Mode::Introspect {
        client_id: rs.id.clone(),
        client_secret: rs.secret.clone().into(),
        cache_ttl,
    }
}

struct Answer {
    status: u16,
    challenge: Option<String>,
    text: String,
    body: Value,
}

async fn get(url: &str, token: Option<&str>) -> Answer {
    let mut request = keyward::tls::client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    answer(request.send().await.unwrap()).await
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        challenge,
        text,
        body,
    }
}

/// The contract both modes keep: RFC 6750 answers, never echoing the token.
/// Returns why a token for another audience was refused.
async fn keeps_the_rfc6750_contract(keyward: &TestApp, url: &str) -> Value {
    let missing = get(url, None).await;
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.challenge.as_deref(),
        Some(r#"Bearer realm="example""#)
    );
    assert_eq!(missing.text, "", "no error code without a token");

    let garbage = get(url, Some("not-a-token")).await;
    assert_eq!(garbage.status, 401, "{}", garbage.text);
    let challenge = garbage.challenge.unwrap();
    assert!(
        challenge
            .starts_with(r#"Bearer realm="example", error="invalid_token", error_description=""#),
        "{challenge}"
    );
    assert_eq!(garbage.body["error"], "invalid_token");
    assert!(!garbage.text.contains("not-a-token") && !challenge.contains("not-a-token"));

    let reader = keyward
        .create_client(&["payouts:read"], &[API, OTHER])
        .await;
    let token = keyward.token(&reader, &[("resource", API)]).await;
    let ok = get(url, Some(&token)).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["payouts"][0]["id"], "po_1");

    // payouts:write implies payouts:read, and the token carries both.
    let writer = keyward.create_client(&["payouts:write"], &[API]).await;
    let token = keyward.token(&writer, &[("resource", API)]).await;
    assert_eq!(get(url, Some(&token)).await.status, 200);

    let wallets = keyward.create_client(&["wallets:read"], &[API]).await;
    let token = keyward.token(&wallets, &[("resource", API)]).await;
    let forbidden = get(url, Some(&token)).await;
    assert_eq!(forbidden.status, 403, "{}", forbidden.text);
    assert_eq!(
        forbidden.challenge.as_deref(),
        Some(r#"Bearer realm="example", error="insufficient_scope", scope="payouts:read""#)
    );
    let body = &forbidden.body;
    assert_eq!(body["error"], "insufficient_scope");
    assert!(body["error_description"].is_string(), "{body}");
    assert_eq!(body["required"], "payouts:read");
    assert_eq!(body["actual"], "wallets:read");
    assert!(!forbidden.text.contains(&token));

    let elsewhere = keyward.token(&reader, &[("resource", OTHER)]).await;
    let wrong_audience = get(url, Some(&elsewhere)).await;
    assert_eq!(wrong_audience.status, 401, "{}", wrong_audience.text);
    assert_eq!(wrong_audience.body["error"], "invalid_token");
    assert!(wrong_audience
        .challenge
        .unwrap()
        .contains(r#"error="invalid_token""#));
    wrong_audience.body["error_description"].clone()
}

#[tokio::test]
async fn jwks_mode_keeps_the_rfc6750_contract() {
    let keyward = spawn_app(Backend::Sqlite).await;
    let mode = Mode::Jwks {
        refetch_interval: Duration::from_secs(10),
    };
    let url = start_example(&keyward, mode).await;
    let why = keeps_the_rfc6750_contract(&keyward, &url).await;
    assert_eq!(why, "the token is not for this audience");

    let reader = keyward.create_client(&["payouts:read"], &[API]).await;
    let token = keyward.token(&reader, &[("resource", API)]).await;
    let body = get(&url, Some(&token[..token.len() - 4])).await.body;
    assert_eq!(
        body,
        json!({"error": "invalid_token", "error_description": "the token is not valid"})
    );
}

/// What a stand-in Keyward publishes as its JWKS, and how often it was asked.
#[derive(Default)]
struct Published {
    jwks: Mutex<Value>,
    fetches: AtomicUsize,
}

/// Metadata naming `issuer`, and a JWKS endpoint serving `published`.
fn stand_in_authorization_server(issuer: &str, published: Arc<Published>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let metadata = json!({"issuer": issuer, "jwks_uri": format!("{base}/jwks")});
    let server = HttpServer::new(move || {
        let (metadata, published) = (metadata.clone(), published.clone());
        App::new()
            .route(
                "/.well-known/oauth-authorization-server",
                web::get().to(move || {
                    let metadata = metadata.clone();
                    async move { HttpResponse::Ok().json(metadata) }
                }),
            )
            .route(
                "/jwks",
                web::get().to(move || {
                    published.fetches.fetch_add(1, Ordering::SeqCst);
                    let jwks = published.jwks.lock().unwrap().clone();
                    async move { HttpResponse::Ok().json(jwks) }
                }),
            )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    base
}

/// The same token with another `kid` in its header.
fn with_kid(token: &str, kid: &str) -> String {
    let (header, rest) = token.split_once('.').unwrap();
    let mut header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"] = kid.into();
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
}

#[tokio::test]
async fn jwks_mode_refetches_for_an_unknown_kid_at_most_once_per_interval() {
    let keyward = spawn_app(Backend::Sqlite).await;
    // Issued first: the wait for argon2 must not eat into the interval.
    let reader = keyward.create_client(&["payouts:read"], &[API]).await;
    let token = keyward.token(&reader, &[("resource", API)]).await;
    let published = Arc::new(Published::default());
    *published.jwks.lock().unwrap() = json!({"keys": []});
    let base = stand_in_authorization_server(&keyward.address, published.clone());
    let interval = Duration::from_millis(500);
    let example = Config {
        keyward_url: base,
        ..example_config(
            &keyward,
            Mode::Jwks {
                refetch_interval: interval,
            },
        )
    };
    let url = serve_example(example).await;
    let fetches = || published.fetches.load(Ordering::SeqCst);
    assert_eq!(fetches(), 1, "fetched at start");

    let unknown = get(&url, Some(&token)).await;
    assert_eq!(unknown.status, 401);
    assert_eq!(
        unknown.body["error_description"],
        "the token's key is unknown"
    );
    assert_eq!(fetches(), 1, "too soon to refetch");

    // Keyward rotates: the key set now holds the token's key.
    *published.jwks.lock().unwrap() = keyward.get_json("/.well-known/jwks.json").await;
    tokio::time::sleep(interval).await;
    assert_eq!(get(&url, Some(&token)).await.status, 200);
    assert_eq!(get(&url, Some(&token)).await.status, 200);
    assert_eq!(fetches(), 2, "one refetch, then the cached keys");

    let forged = with_kid(&token, "20200101T000000.000Z-00000000");
    for _ in 0..3 {
        assert_eq!(get(&url, Some(&forged)).await.status, 401);
    }
    assert_eq!(
        fetches(),
        2,
        "unknown kids within the interval fetch nothing"
    );
    tokio::time::sleep(interval).await;
    for _ in 0..3 {
        assert_eq!(get(&url, Some(&forged)).await.status, 401);
    }
    assert_eq!(fetches(), 3, "at most one refetch per interval");
}

#[tokio::test]
async fn introspect_mode_keeps_the_rfc6750_contract() {
    let keyward = spawn_app(Backend::Sqlite).await;
    let rs = keyward.create_resource_server(&[API]).await;
    let url = start_example(&keyward, introspect_mode(&rs, Duration::from_secs(5))).await;
    let why = keeps_the_rfc6750_contract(&keyward, &url).await;
    assert_eq!(why, "the token is not active", "Keyward: not one of ours");

    // Keyward refusing the resource server is not the caller's fault.
    let mut wrong = rs;
    wrong.secret = "kws_wrong".into();
    let misconfigured =
        start_example(&keyward, introspect_mode(&wrong, Duration::from_secs(5))).await;
    let reader = keyward.create_client(&["payouts:read"], &[API]).await;
    let token = keyward.token(&reader, &[("resource", API)]).await;
    let answer = get(&misconfigured, Some(&token)).await;
    assert_eq!(answer.status, 503, "{}", answer.text);
    assert_eq!(answer.body["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn introspect_mode_sees_deactivation_once_its_cache_expires() {
    let keyward = spawn_app(Backend::Sqlite).await;
    let rs = keyward.create_resource_server(&[API]).await;
    let ttl = Duration::from_millis(500);
    let url = start_example(&keyward, introspect_mode(&rs, ttl)).await;
    let client = keyward.create_client(&["payouts:read"], &[API]).await;
    let token = keyward.token(&client, &[("resource", API)]).await;
    assert_eq!(get(&url, Some(&token)).await.status, 200);

    keyward.deactivate_in_store(&client).await;
    let start = Instant::now();
    assert_eq!(
        get(&url, Some(&token)).await.status,
        200,
        "the cached answer"
    );
    loop {
        let answer = get(&url, Some(&token)).await;
        if answer.status == 401 {
            assert_eq!(answer.body["error"], "invalid_token");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "still {} after 3 s",
            answer.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// GET `url` with `token` under the DPoP scheme and `proofs` as `DPoP`
/// headers.
async fn get_with_dpop(url: &str, token: &str, proofs: &[&str]) -> Answer {
    let mut request = keyward::tls::client()
        .get(url)
        .header("Authorization", format!("DPoP {token}"));
    for proof in proofs {
        request = request.header("DPoP", *proof);
    }
    answer(request.send().await.unwrap()).await
}

/// A DPoP-bound token is good only under the DPoP scheme with a proof of
/// its key for this request and this token, once; an unbound one only as
/// Bearer.
async fn checks_dpop_proofs(keyward: &TestApp, url: &str) {
    let reader = keyward.create_client(&["payouts:read"], &[API]).await;
    let key = ClientKeyPair::es256("k1");
    let token = keyward
        .dpop_token(&reader, &key, &[("resource", API)])
        .await;
    let proof = |htm: &str, htu: &str, token: &str| {
        key.dpop_proof(htm, htu, json!({"ath": access_token_hash(token)}))
    };
    let good = proof("GET", url, &token);
    let answer = get_with_dpop(url, &token, &[&good]).await;
    assert_eq!(answer.status, 200, "{}", answer.text);

    let as_bearer = get(url, Some(&token)).await;
    assert_eq!(as_bearer.status, 401);
    assert_eq!(as_bearer.body["error"], "invalid_token");
    assert!(as_bearer.text.contains("DPoP scheme"), "{}", as_bearer.text);

    let other_token = keyward
        .dpop_token(&reader, &key, &[("resource", API)])
        .await;
    let other_key = ClientKeyPair::es256("k2");
    let cases = [
        ("no proof", vec![]),
        ("replayed", vec![good.clone()]),
        (
            "two proofs",
            vec![proof("GET", url, &token), proof("GET", url, &token)],
        ),
        ("method", vec![proof("POST", url, &token)]),
        ("url", vec![proof("GET", &format!("{url}/other"), &token)]),
        ("token", vec![proof("GET", url, &other_token)]),
        (
            "key",
            vec![other_key.dpop_proof("GET", url, json!({"ath": access_token_hash(&token)}))],
        ),
        (
            "old",
            vec![key.sign_with(
                &key.dpop_header(),
                &json!({
                    "jti": "j-old", "htm": "GET", "htu": url,
                    "iat": chrono::Utc::now().timestamp() - 600,
                    "ath": access_token_hash(&token),
                }),
            )],
        ),
    ];
    for (what, proofs) in cases {
        let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let answer = get_with_dpop(url, &token, &proofs).await;
        assert_eq!(answer.status, 401, "{what}: {}", answer.text);
        assert_eq!(answer.body["error"], "invalid_dpop_proof", "{what}");
        assert!(
            answer.challenge.as_deref().unwrap().starts_with("DPoP "),
            "{what}: {:?}",
            answer.challenge
        );
        assert!(!answer.text.contains(&token), "{what}");
    }

    let unbound = keyward.token(&reader, &[("resource", API)]).await;
    let answer = get_with_dpop(url, &unbound, &[&proof("GET", url, &unbound)]).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["error"], "invalid_token");
}

#[tokio::test]
async fn jwks_mode_checks_dpop_proofs() {
    let keyward = spawn_app(Backend::Sqlite).await;
    let mode = Mode::Jwks {
        refetch_interval: Duration::from_secs(10),
    };
    let url = start_example(&keyward, mode).await;
    checks_dpop_proofs(&keyward, &url).await;
}

#[tokio::test]
async fn introspect_mode_checks_dpop_proofs() {
    let keyward = spawn_app(Backend::Sqlite).await;
    let rs = keyward.create_resource_server(&[API]).await;
    let url = start_example(&keyward, introspect_mode(&rs, Duration::from_secs(5))).await;
    checks_dpop_proofs(&keyward, &url).await;
}
