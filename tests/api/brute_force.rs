//! Wrong secrets cannot lock anyone out. A generated secret is checked by
//! digest, so a wrong one costs microseconds and nothing limits it per
//! client; only argon2 work (an imported secret) is limited, per source
//! address. Failures from one address never get a client's correct secret
//! refused from another, on any replica.

use keyward::domain::ImportedSecret;
use keyward::metrics::Counters;

use crate::on_both_backends;
use crate::support::helpers::{spawn_app_with, status_and_json, Backend, TestApp, TestClient};

const ATTACKER: &str = "198.51.100.7";
const OWNER: &str = "203.0.113.5";

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

async fn behind_a_proxy(backend: Backend) -> (TestApp, TestApp) {
    let a = spawn_app_with(backend, |s| {
        s.trusted_proxies = keyward::domain::TrustedProxies::parse(["127.0.0.1/32"]).unwrap()
    })
    .await;
    let b = a.replica().await;
    (a, b)
}

async fn a_wrong_secret_flood_against_a_generated_secret_locks_out_no_one(backend: Backend) {
    let (a, b) = behind_a_proxy(backend).await;
    let target = a.create_client(&["payouts:read"], &[]).await;
    let argon2 = Counters::read(&a.counters.argon2_verifications);
    for _ in 0..50 {
        let response = token_from(&a, &target, "kws_wrong", ATTACKER).await;
        assert_eq!(response.status(), 401);
    }
    assert_eq!(Counters::read(&a.counters.argon2_verifications), argon2);
    // The right secret works on both replicas, from anywhere, at once.
    for (node, ip) in [(&b, OWNER), (&a, OWNER), (&a, ATTACKER)] {
        let response = token_from(node, &target, &target.secret, ip).await;
        assert_eq!(response.status(), 200, "{ip}");
    }
}

async fn an_imported_secret_flood_is_cut_off_for_its_address_only(backend: Backend) {
    let (a, b) = behind_a_proxy(backend).await;
    let imported = "Zq8xV2mLp0R7tYc4NbWk1sDfHgJ";
    let target = a
        .create_client_with(&["payouts:read"], |c| {
            c.secret = Some(ImportedSecret::parse(imported).unwrap())
        })
        .await;
    let argon2_before = Counters::read(&a.counters.argon2_verifications);
    let started = std::time::Instant::now();
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let response = token_from(&a, &target, "wrong-but-long-enough-secret", ATTACKER).await;
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
    let argon2_runs = Counters::read(&a.counters.argon2_verifications) - argon2_before;
    assert!(
        argon2_runs as usize <= 11 + refilled,
        "{argon2_runs} argon2 runs for a flood of 30"
    );

    // The owner, from its own address, is not refused on either replica,
    // though neither has seen its secret verified before.
    for node in [&a, &b] {
        assert_eq!(
            token_from(node, &target, imported, OWNER).await.status(),
            200
        );
    }
}

on_both_backends!(
    a_wrong_secret_flood_against_a_generated_secret_locks_out_no_one,
    an_imported_secret_flood_is_cut_off_for_its_address_only,
);
