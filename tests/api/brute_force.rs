//! Failed client authentications are limited per client id and per source
//! address: a wrong-secret flood cannot drive argon2 work past that budget
//! nor lock out the client it aims at or other clients.

use keyward::stats::Counters;

use crate::helpers::{spawn_app_with, status_and_json, Backend, TestApp, TestClient};
use crate::on_both_backends;

async fn token_from(
    app: &TestApp,
    client: &TestClient,
    secret: &str,
    ip: &str,
) -> reqwest::Response {
    app.http
        .post(app.url("/oauth/token"))
        .basic_auth(&client.id, Some(secret))
        .header("x-forwarded-for", ip)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

async fn a_wrong_secret_flood_is_cut_off_after_ten_failures(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.trusted_proxies = vec!["127.0.0.1/32".into()]).await;
    let target = app.create_client(&["payouts:read"], &[]).await;
    let bystander = app.create_client(&["payouts:read"], &[]).await;
    assert_eq!(
        token_from(&app, &target, &target.secret, "203.0.113.5")
            .await
            .status(),
        200
    );

    let argon2_before = Counters::read(&app.counters.argon2_verifications);
    let started = std::time::Instant::now();
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let response = token_from(&app, &target, "kws_wrong", "198.51.100.7").await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry));
            let (_, body) = status_and_json(response).await;
            assert_eq!(body["error"], "rate_limited");
        }
    }
    // Ten a minute refill one every 6 s; a slow machine may earn one more.
    let refilled = (started.elapsed().as_secs() / 6) as usize;
    assert!(statuses[..10].iter().all(|s| *s == 401), "{statuses:?}");
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(refused + refilled >= 19, "{statuses:?}");
    let argon2_runs = Counters::read(&app.counters.argon2_verifications) - argon2_before;
    assert!(
        argon2_runs as usize <= 11 + refilled,
        "{argon2_runs} argon2 runs for a flood of 30"
    );

    // The client itself, already verified on this node, is not locked out.
    assert_eq!(
        token_from(&app, &target, &target.secret, "203.0.113.5")
            .await
            .status(),
        200
    );
    // Other clients from other addresses are untouched.
    let other = token_from(&app, &bystander, &bystander.secret, "192.0.2.9").await;
    assert_eq!(other.status(), 200);
    // The flooding address is refused for any client id, before argon2.
    let before = Counters::read(&app.counters.argon2_verifications);
    let again = token_from(&app, &bystander, "kws_wrong", "198.51.100.7").await;
    assert_eq!(again.status(), 429);
    assert_eq!(Counters::read(&app.counters.argon2_verifications), before);
}

on_both_backends!(a_wrong_secret_flood_is_cut_off_after_ten_failures);
