//! IP allowlists of OAuth clients at the token endpoint: the peer address,
//! or behind trusted proxies the right-most untrusted `X-Forwarded-For`
//! entry. The tests connect from 127.0.0.1.

use keyward::domain::IpAllowlist;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::cli_process::{keyward, run};
use crate::support::helpers::{
    spawn_app, spawn_app_with, status_and_json, Backend, TestApp, TestClient,
};

const GRANT: [(&str, &str); 1] = [("grant_type", "client_credentials")];

async fn client_allowing(app: &TestApp, cidrs: &[&str]) -> TestClient {
    let allowlist = IpAllowlist::parse(cidrs.iter().copied()).unwrap();
    app.create_client_with(&["payouts:read"], |new| new.ip_allowlist = allowlist)
        .await
}

/// POST /oauth/token as `client`, with one `X-Forwarded-For` header per value.
async fn token_via(app: &TestApp, client: &TestClient, forwarded_for: &[&str]) -> (u16, Value) {
    let mut request = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&client.id, Some(&client.secret))
        .form(&GRANT);
    for value in forwarded_for {
        request = request.header("x-forwarded-for", *value);
    }
    status_and_json(request.send().await.unwrap()).await
}

fn assert_issued((status, body): (u16, Value), what: &str) {
    assert_eq!(status, 200, "{what}: {body}");
    assert!(body["access_token"].is_string(), "{what}");
}

fn assert_ip_refused((status, body): (u16, Value), what: &str) {
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(
        body,
        json!({"error": "invalid_client", "error_description": "IP address not allowed"}),
        "{what}"
    );
}

async fn the_peer_address_is_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    let loopback = client_allowing(&app, &["127.0.0.0/8"]).await;
    assert_issued(token_via(&app, &loopback, &[]).await, "127.0.0.0/8");

    let elsewhere = client_allowing(&app, &["10.0.0.0/8"]).await;
    let response = app.post_token(&elsewhere, &GRANT).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_ip_refused(status_and_json(response).await, "10.0.0.0/8");

    let ipv6_only = client_allowing(&app, &["::1/128"]).await;
    assert_ip_refused(token_via(&app, &ipv6_only, &[]).await, "::1/128");
    let mixed = client_allowing(&app, &["::1/128", "2001:db8::/32", "127.0.0.1/32"]).await;
    assert_issued(
        token_via(&app, &mixed, &[]).await,
        "IPv6 list with 127.0.0.1/32",
    );

    let anywhere = app.create_client(&["payouts:read"], &[]).await;
    assert_issued(token_via(&app, &anywhere, &[]).await, "empty list");
}

async fn without_trusted_proxies_forwarded_for_is_ignored(backend: Backend) {
    let app = spawn_app(backend).await;
    let forwarded = client_allowing(&app, &["203.0.113.0/24"]).await;
    assert_ip_refused(
        token_via(&app, &forwarded, &["203.0.113.7"]).await,
        "a forged header does not help",
    );
    let loopback = client_allowing(&app, &["127.0.0.0/8"]).await;
    assert_issued(
        token_via(&app, &loopback, &["203.0.113.7"]).await,
        "the peer 127.0.0.1 counts",
    );
}

async fn behind_a_trusted_proxy_forwarded_for_counts(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.trusted_proxies = keyward::domain::TrustedProxies::parse(["127.0.0.1/32"]).unwrap();
    })
    .await;
    let documentation = client_allowing(&app, &["203.0.113.0/24"]).await;
    let other = client_allowing(&app, &["198.51.100.0/24"]).await;

    assert_issued(
        token_via(&app, &documentation, &["203.0.113.7"]).await,
        "forwarded 203.0.113.7",
    );
    assert_ip_refused(
        token_via(&app, &other, &["203.0.113.7"]).await,
        "forwarded 203.0.113.7",
    );
    for chain in [
        &["198.51.100.1, 203.0.113.7"][..],
        &["198.51.100.1", "203.0.113.7"],
        &["198.51.100.1, 203.0.113.7, 127.0.0.1"],
    ] {
        assert_issued(token_via(&app, &documentation, chain).await, "right-most");
        assert_ip_refused(token_via(&app, &other, chain).await, "not the left-most");
    }

    // The entry where the client should be is malformed: no address is known.
    assert_ip_refused(
        token_via(&app, &documentation, &["203.0.113.7, garbage"]).await,
        "malformed",
    );
    let anywhere = app.create_client(&["payouts:read"], &[]).await;
    assert_issued(
        token_via(&app, &anywhere, &["203.0.113.7, garbage"]).await,
        "an empty list needs no address",
    );
    // A request straight from the proxy, without the header, is the proxy's.
    let loopback = client_allowing(&app, &["127.0.0.0/8"]).await;
    assert_issued(token_via(&app, &loopback, &[]).await, "no header");
    assert_ip_refused(
        token_via(&app, &loopback, &["203.0.113.7"]).await,
        "the proxy forwards another address",
    );
}

async fn a_wrong_secret_says_nothing_of_the_allowlist(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.trusted_proxies = keyward::domain::TrustedProxies::parse(["127.0.0.1/32"]).unwrap();
    })
    .await;
    for (cidr, forwarded_for) in [
        ("127.0.0.0/8", &[][..]),
        ("10.0.0.0/8", &[]),
        ("203.0.113.0/24", &["203.0.113.7"]),
        ("203.0.113.0/24", &["198.51.100.1"]),
        ("203.0.113.0/24", &["garbage"]),
    ] {
        let mut client = client_allowing(&app, &[cidr]).await;
        client.secret.push('x');
        let (status, body) = token_via(&app, &client, forwarded_for).await;
        assert_eq!(status, 401, "{cidr} {forwarded_for:?}");
        assert_eq!(
            body["error_description"], "client authentication failed",
            "{cidr} {forwarded_for:?}"
        );
    }
}

async fn cli_creates_clients_with_allowlist_and_rate_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(keyward::domain::Plan::Starter).await;
    let create = |extra: &[&str]| {
        let mut args = vec![
            "--json",
            "client",
            "create",
            "--org",
            org.as_str(),
            "--name",
            "ci",
            "--scope",
            "a",
        ];
        args.extend_from_slice(extra);
        keyward(&app, &args)
    };
    let output = create(&[
        "--ip-allow",
        "127.0.0.0/8",
        "--ip-allow",
        "::1",
        "--rate-limit-per-minute",
        "120",
    ]);
    assert!(output.status.success(), "{output:?}");
    let created: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(created["ip_allowlist"], json!(["127.0.0.0/8", "::1/128"]));
    assert_eq!(created["rate_limit_per_minute"], 120);

    let plain: Value = serde_json::from_slice(&create(&[]).stdout).unwrap();
    assert_eq!(plain["ip_allowlist"], json!([]));
    assert_eq!(plain["rate_limit_per_minute"], Value::Null);

    let listed: Value =
        serde_json::from_slice(&keyward(&app, &["--json", "client", "list"]).stdout).unwrap();
    let listed = listed["clients"].as_array().unwrap();
    let find = |id: &Value| listed.iter().find(|c| c["client_id"] == *id).unwrap();
    assert_eq!(
        find(&created["client_id"])["ip_allowlist"],
        created["ip_allowlist"]
    );
    assert_eq!(find(&created["client_id"])["rate_limit_per_minute"], 120);
    assert_eq!(
        find(&plain["client_id"])["rate_limit_per_minute"],
        Value::Null
    );

    for (bad, named) in [
        (&["--ip-allow", "10.0.0.0/33"][..], "--ip-allow"),
        (&["--rate-limit-per-minute", "0"], "--rate-limit-per-minute"),
    ] {
        let output = create(bad);
        assert!(!output.status.success(), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(named),
            "{bad:?}: {output:?}"
        );
    }
}

on_both_backends!(
    the_peer_address_is_checked,
    without_trusted_proxies_forwarded_for_is_ignored,
    behind_a_trusted_proxy_forwarded_for_counts,
    a_wrong_secret_says_nothing_of_the_allowlist,
    cli_creates_clients_with_allowlist_and_rate_limit,
);

#[test]
fn trusted_proxies_come_from_the_environment_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db = (
        "KEYWARD_DATABASE_URL",
        format!("sqlite://{}/k.db", dir.path().display()),
    );
    let proxies = |value: &str| {
        let env = [db.clone(), ("KEYWARD_TRUSTED_PROXIES", value.to_owned())];
        run(dir.path(), &env, &["migrate"])
    };
    let good = proxies(r#"[10.0.0.0/8, 192.0.2.1, "2001:db8::/32"]"#);
    assert!(good.status.success(), "{good:?}");

    let bad = proxies("[10.0.0.0/8, 10.0.0.0/33]");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("KEYWARD_TRUSTED_PROXIES"), "{stderr}");
    assert!(stderr.contains("10.0.0.0/33"), "{stderr}");
}
