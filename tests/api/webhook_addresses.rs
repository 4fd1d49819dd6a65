//! Webhooks never reach the operator's own network: an internal address is
//! refused when a URL is set and again when a webhook connects, unless the
//! operator allows private networks; and the delivery log an organisation
//! admin reads does not tell one connection failure from another.

use std::time::Duration;

use keyward::configuration::Settings;
use keyward::domain::{OrgId, Plan};
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::helpers::{spawn_app_with, Backend, TestApp, ROOT_TOKEN};
use crate::webhook_receiver::Receiver;

on_both_backends!(
    internal_webhook_urls_are_refused_for_root_and_organisation_admins,
    the_operator_may_allow_internal_receivers,
    a_name_that_resolves_to_loopback_is_refused_when_connecting,
    delivery_errors_do_not_say_why_a_connection_failed,
);

/// Loopback, private, link-local, CGNAT, unspecified, broadcast, multicast,
/// and IPv6 forms of them, as addresses in any spelling or as local names.
const INTERNAL_URLS: [&str; 21] = [
    "https://127.0.0.1:8443/hooks",
    "https://[::1]/",
    "https://localhost/",
    "https://LocalHost./x",
    "https://api.localhost:8443/",
    "https://10.0.0.1/",
    "https://169.254.169.254/latest/meta-data/",
    "https://172.16.5.4/",
    "https://192.168.1.1/",
    "https://100.64.0.1/",
    "https://0.0.0.0/",
    "https://255.255.255.255/",
    "https://224.0.0.1/",
    "https://2130706433/",
    "https://127.1/",
    "https://[fd00::1]/",
    "https://[fe80::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:a9fe:a9fe]/",
    "https://[64:ff9b::10.0.0.1]/",
    "https://[::127.0.0.1]/",
];

/// Scans each second and retries after 1 s, 2 s, 4 s…
fn fast_notifications(settings: &mut Settings) {
    settings.expiry_scan_interval_seconds = 1;
    settings.webhook_retry_base_seconds = 1;
    settings.webhook_allow_http = true;
}

fn internal_receivers_allowed(settings: &mut Settings) {
    fast_notifications(settings);
    settings.webhook_allow_private_networks = true;
}

async fn set_webhook_url(app: &TestApp, org: &OrgId, bearer: &str, url: &str) -> (u16, Value) {
    app.admin(
        Method::PATCH,
        &format!("/admin/v1/orgs/{org}"),
        bearer,
        Some(json!({"webhook_url": url})),
    )
    .await
}

/// A URL the management API would refuse, written straight to the
/// database, as one set before the address rule existed would be.
async fn store_webhook_url(app: &TestApp, org: &OrgId, url: &str) {
    let mut stored = app.store.get_organisation(org).await.unwrap();
    stored.webhook_url = Some(url.to_owned());
    stored.webhook_signing_nonce = Some(keyward::crypto::webhook_signing::new_nonce());
    app.store
        .update_organisation(&stored, chrono::Utc::now().timestamp())
        .await
        .unwrap();
}

/// An API key that expires tomorrow, so the organisation gets a webhook.
async fn expiring_key(app: &TestApp, org: &OrgId) {
    let expires_at = (chrono::Utc::now() + chrono::Duration::days(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (status, created) = app
        .admin(
            Method::POST,
            &format!("/admin/v1/orgs/{org}/api-keys"),
            ROOT_TOKEN,
            Some(json!({"name": "deploys", "scopes": ["payouts:read"], "expires_at": expires_at})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
}

/// The organisation's first delivery once it has had an attempt, as an
/// organisation admin reads it.
async fn first_attempted_delivery(app: &TestApp, org: &OrgId) -> Value {
    let reader = app.admin_token(org, &["keyward:audit:read"]).await;
    let path = format!("/admin/v1/orgs/{org}/webhook-deliveries");
    for _ in 0..200 {
        let (status, page) = app.admin(Method::GET, &path, &reader, None).await;
        assert_eq!(status, 200, "{page}");
        if let Some(delivery) = page["items"]
            .as_array()
            .and_then(|items| items.first())
            .filter(|d| d["attempts"].as_i64() > Some(0))
        {
            return delivery.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no attempt was made for {org}");
}

async fn internal_webhook_urls_are_refused_for_root_and_organisation_admins(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let org = app.create_org(Plan::Starter).await;
    let admin = app.admin_token(&org, &["keyward:clients:write"]).await;
    for bearer in [ROOT_TOKEN, admin.as_str()] {
        for url in INTERNAL_URLS {
            let (status, problem) = set_webhook_url(&app, &org, bearer, url).await;
            assert_eq!(
                (status, problem["code"].as_str(), problem["field"].as_str()),
                (400, Some("INVALID_REQUEST"), Some("webhook_url")),
                "{url}: {problem}"
            );
            let detail = problem["detail"].as_str().unwrap();
            assert!(
                detail.contains("is not a public address") || detail.contains("names this server"),
                "{url}: {detail}"
            );
        }
    }
    let (_, unchanged) = app
        .admin(
            Method::GET,
            &format!("/admin/v1/orgs/{org}"),
            ROOT_TOKEN,
            None,
        )
        .await;
    assert!(unchanged["webhook_url"].is_null(), "{unchanged}");
    // Public hosts, by name or by address, are still accepted.
    for url in ["https://hooks.example.test/kw", "https://93.184.215.14/kw"] {
        let (status, body) = set_webhook_url(&app, &org, &admin, url).await;
        assert_eq!(status, 200, "{url}: {body}");
    }
}

async fn the_operator_may_allow_internal_receivers(backend: Backend) {
    let app = spawn_app_with(backend, internal_receivers_allowed).await;
    let org = app.create_org(Plan::Enterprise).await;
    let admin = app.admin_token(&org, &["keyward:clients:write"]).await;
    for url in INTERNAL_URLS {
        let (status, body) = set_webhook_url(&app, &org, &admin, url).await;
        assert_eq!(status, 200, "{url}: {body}");
    }
    let receiver = Receiver::start(0);
    let (status, body) = set_webhook_url(&app, &org, ROOT_TOKEN, &receiver.url).await;
    assert_eq!(status, 200, "{body}");
    expiring_key(&app, &org).await;
    receiver.wait_for_accepted(1).await;
    let delivery = first_attempted_delivery(&app, &org).await;
    assert_eq!(delivery["state"], "delivered", "{delivery}");
}

/// The connect-time rule: `localhost` resolves (through /etc/hosts) to
/// loopback, where a receiver is listening; it must never get the webhook.
/// A literal loopback address, which skips resolution, is refused too.
async fn a_name_that_resolves_to_loopback_is_refused_when_connecting(backend: Backend) {
    let app = spawn_app_with(backend, fast_notifications).await;
    let receiver = Receiver::start(0);
    let port_and_path = receiver.url.rsplit(':').next().unwrap();
    for url in [
        format!("http://localhost:{port_and_path}"),
        receiver.url.clone(),
        format!("http://[::ffff:127.0.0.1]:{port_and_path}"),
    ] {
        let org = app.create_org(Plan::Enterprise).await;
        store_webhook_url(&app, &org, &url).await;
        expiring_key(&app, &org).await;
        let delivery = first_attempted_delivery(&app, &org).await;
        assert_eq!(delivery["state"], "pending", "{url}: {delivery}");
        assert_eq!(
            delivery["last_error"], "delivery failed",
            "{url}: {delivery}"
        );
        assert!(delivery["last_status"].is_null(), "{delivery}");
    }
    assert!(receiver.received().is_empty(), "{:?}", receiver.received());
}

/// A closed port, a peer that hangs up during the TLS handshake, a peer
/// that does not speak TLS, and one that answers 503: the first three read
/// alike, and only an answer's status is shown.
async fn delivery_errors_do_not_say_why_a_connection_failed(backend: Backend) {
    let app = spawn_app_with(backend, internal_receivers_allowed).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let hangs_up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hangs_up_port = hangs_up.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((connection, _)) = hangs_up.accept().await {
            drop(connection);
        }
    });
    let failing = Receiver::start(usize::MAX);
    let plain_http = failing.url.replacen("http:", "https:", 1);

    let mut shown = Vec::new();
    for url in [
        format!("http://127.0.0.1:{closed_port}/hooks"),
        format!("https://127.0.0.1:{hangs_up_port}/hooks"),
        plain_http,
        failing.url.clone(),
    ] {
        let org = app.create_org(Plan::Enterprise).await;
        let (status, body) = set_webhook_url(&app, &org, ROOT_TOKEN, &url).await;
        assert_eq!(status, 200, "{body}");
        expiring_key(&app, &org).await;
        let delivery = first_attempted_delivery(&app, &org).await;
        shown.push((
            delivery["last_error"].clone(),
            delivery["last_status"].clone(),
        ));
    }
    let generic = (json!("delivery failed"), Value::Null);
    assert_eq!(
        shown,
        [
            generic.clone(),
            generic.clone(),
            generic,
            (json!("delivery failed: HTTP 503"), json!(503)),
        ]
    );
}
