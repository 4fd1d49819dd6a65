//! Revocations are bounded: revoking a token twice adds nothing, each
//! entry lasts until its token's `exp` plus the verification leeway, and a
//! client holds at most `max_live_revocations_per_client` live entries;
//! past it, revoke answers 429 with `Retry-After` and the token stays live.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use keyward::startup::CLOCK_LEEWAY_SECONDS;

use crate::on_both_backends;
use crate::support::helpers::{spawn_app_with, status_and_json, Backend, TestApp, API};

const CAP: u32 = 3;

fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// (rows of revoked_tokens, entries of the change log) right now.
async fn recorded(app: &TestApp) -> (Vec<(String, i64)>, i64) {
    let now = chrono::Utc::now().timestamp();
    let live = app.store.live_revocations(now).await.unwrap();
    (live, app.store.last_change_before(i64::MAX).await.unwrap())
}

async fn a_client_holds_a_bounded_number_of_live_revocations(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.max_live_revocations_per_client = CAP).await;
    let rs = app.create_resource_server(&[API]).await;
    let client = app.create_client(&["x:read"], &[API]).await;
    let mut tokens = Vec::new();
    for _ in 0..=CAP {
        tokens.push(app.token(&client, &[("resource", API)]).await);
    }
    for token in &tokens[..CAP as usize] {
        assert_eq!(app.revoke(&client, token).await, 200);
        assert_eq!(app.introspect(&rs, token, &[]).await.1["active"], false);
    }
    let (live, seq) = recorded(&app).await;
    assert_eq!(live.len(), CAP as usize);
    // An entry outlives its token by the leeway, during which it would verify.
    let first = claims(&tokens[0]);
    let entry = live
        .iter()
        .find(|(jti, _)| jti == first["jti"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        entry.1,
        first["exp"].as_i64().unwrap() + CLOCK_LEEWAY_SECONDS as i64
    );

    // Revoking again is 200 and adds no row and no change.
    assert_eq!(app.revoke(&client, &tokens[0]).await, 200);
    assert_eq!(recorded(&app).await, (live.clone(), seq));

    // One more is refused, with a reason and a time to come back.
    let response = app
        .http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[("token", tokens[CAP as usize].as_str())])
        .send()
        .await
        .unwrap();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900 + CLOCK_LEEWAY_SECONDS).contains(&retry_after));
    let (status, body) = status_and_json(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("rate_limited"))
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("not revoked"));
    let still = app.introspect(&rs, &tokens[CAP as usize], &[]).await.1;
    assert_eq!(
        still["active"], true,
        "a refused revocation changes nothing"
    );
    assert_eq!(recorded(&app).await, (live, seq));

    // The bound is per client: another client revokes as before.
    let other = app.create_client(&["x:read"], &[API]).await;
    let token = app.token(&other, &[("resource", API)]).await;
    assert_eq!(app.revoke(&other, &token).await, 200);
    assert_eq!(app.introspect(&rs, &token, &[]).await.1["active"], false);
}

on_both_backends!(a_client_holds_a_bounded_number_of_live_revocations);
