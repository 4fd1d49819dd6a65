//! Expiry warnings: an audit event and a signed webhook, once per credential
//! and expiry date across replicas, retried with backoff, re-armed by a new
//! expiry date. A local HTTP receiver stands in for the organisation.

use std::collections::HashMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use keyward::configuration::Settings;
use keyward::time::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::on_both_backends;
use crate::support::helpers::{spawn_app_on, spawn_app_with, Backend, TestApp, ROOT_TOKEN};
use crate::webhook_receiver::Receiver;

on_both_backends!(
    warnings_are_signed_sent_once_retried_and_rearmed,
    a_webhook_that_keeps_failing_is_given_up_visibly,
);

/// Scans each second and retries after 1 s, 2 s, 4 s…; the receiver is local.
pub(crate) fn fast_notifications(settings: &mut Settings) {
    settings.expiry_scan_interval_seconds = 1;
    settings.webhook_retry_base_seconds = 1;
    settings.webhook_allow_http = true;
    settings.webhook_allow_private_networks = true;
}

/// What a receiver does: recompute HMAC-SHA256 over `<t>.<body>` with the
/// secret, compare, and reject a stale timestamp.
fn signature_checks(secret: &str, header: &str, body: &str) -> bool {
    let Some((t, v1)) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let Ok(timestamp) = t.parse::<i64>() else {
        return false;
    };
    if (chrono::Utc::now().timestamp() - timestamp).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    expected == v1
}

pub(crate) fn in_days(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A new organisation whose webhooks go to `url`, and its signing secret.
async fn org_with_webhook(app: &TestApp, url: &str) -> (String, String) {
    let (status, org) = app
        .admin(
            Method::POST,
            "/admin/v1/orgs",
            ROOT_TOKEN,
            Some(json!({"name": "Acme", "plan": "enterprise"})),
        )
        .await;
    assert_eq!(status, 201, "{org}");
    let org_id = org["id"].as_str().unwrap().to_owned();
    let path = format!("/admin/v1/orgs/{org_id}");
    let (status, updated) = app
        .admin(
            Method::PATCH,
            &path,
            ROOT_TOKEN,
            Some(json!({"webhook_url": url})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    let secret = updated["webhook_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("kwhs_"));
    // Shown once: a later change of the organisation does not show it.
    let (_, again) = app
        .admin(
            Method::PATCH,
            &path,
            ROOT_TOKEN,
            Some(json!({"name": "Acme Ltd"})),
        )
        .await;
    assert!(again.get("webhook_secret").is_none(), "{again}");
    (org_id, secret)
}

pub(crate) async fn create(app: &TestApp, org: &str, what: &str, body: Value) -> String {
    let (status, created) = app
        .admin(
            Method::POST,
            &format!("/admin/v1/orgs/{org}/{what}"),
            ROOT_TOKEN,
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created
        .get("id")
        .or(created.get("client_id"))
        .and_then(Value::as_str)
        .unwrap()
        .to_owned()
}

async fn audit_events(app: &TestApp, org: &str, action: &str) -> Vec<Value> {
    let path = format!("/admin/v1/orgs/{org}/audit-events?action={action}");
    let (status, page) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

async fn deliveries(app: &TestApp, org: &str, query: &str) -> Vec<Value> {
    let path = format!("/admin/v1/orgs/{org}/webhook-deliveries{query}");
    let (status, page) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

async fn warnings_are_signed_sent_once_retried_and_rearmed(backend: Backend) {
    let app = spawn_app_with(backend, fast_notifications).await;
    // A second node on the same database scans too; it must not warn again.
    let replica = app.replica().await;
    let receiver = Receiver::start(2);
    let (org, secret) = org_with_webhook(&app, &receiver.url).await;

    let soon = in_days(2);
    let key = create(
        &app,
        &org,
        "api-keys",
        json!({"name": "deploys", "scopes": ["payouts:read"], "expires_at": soon}),
    )
    .await;
    let later_key = create(
        &app,
        &org,
        "api-keys",
        json!({"name": "reports", "scopes": ["payouts:read"], "expires_at": in_days(30)}),
    )
    .await;
    let client = create(
        &app,
        &org,
        "clients",
        json!({"name": "billing", "scopes": ["payouts:read"], "expires_at": in_days(3)}),
    )
    .await;

    let accepted = receiver.wait_for_accepted(2).await;
    // Both nodes scan twice more: a second warning would be a new delivery.
    app.expiry_scanned().await;
    replica.expiry_scanned().await;
    assert_eq!(deliveries(&app, &org, "").await.len(), 2);
    let received = receiver.received();
    assert_eq!(receiver.accepted().len(), 2, "{received:?}");
    let mut about = HashMap::new();
    for hook in &accepted {
        assert!(
            signature_checks(&secret, &hook.signature, &hook.body),
            "{hook:?}"
        );
        assert!(!signature_checks("kwhs_wrong", &hook.signature, &hook.body));
        let body: Value = serde_json::from_str(&hook.body).unwrap();
        assert_eq!(body["id"], hook.delivery.as_str());
        assert_eq!(body["type"], hook.event.as_str());
        assert_eq!(body["org_id"], org.as_str());
        let attempts = received
            .iter()
            .filter(|r| r.delivery == hook.delivery)
            .count();
        assert_eq!(attempts, 3, "two failures, then success: {received:?}");
        about.insert(
            body["data"]["credential_id"].as_str().unwrap().to_owned(),
            body,
        );
    }
    assert_eq!(about[&key]["type"], "api_key.expiring");
    assert_eq!(about[&key]["data"]["expires_at"], soon.as_str());
    assert_eq!(about[&key]["data"]["name"], "deploys");
    assert_eq!(about[&client]["type"], "client.expiring");
    assert!(!about.contains_key(&later_key), "30 days out is not soon");

    let shown = deliveries(&replica, &org, "?state=delivered").await;
    assert_eq!(shown.len(), 2, "{shown:?}");
    for delivery in &shown {
        assert_eq!(delivery["attempts"], 3, "{delivery}");
        assert_eq!(delivery["last_status"], 200);
        assert!(delivery["last_error"].is_null());
        assert!(delivery["delivered_at"].is_string());
        assert!(delivery["next_attempt_at"].is_null());
        assert_eq!(delivery["url"], receiver.url.as_str());
    }
    assert!(deliveries(&app, &org, "?state=pending").await.is_empty());
    let key_events = audit_events(&app, &org, "api_key.expiring").await;
    assert_eq!(key_events.len(), 1, "{key_events:?}");
    assert_eq!(
        key_events[0]["target"],
        json!({"type": "api_key", "id": key})
    );
    assert_eq!(key_events[0]["changes"]["expires_at"]["new"], soon.as_str());
    assert_eq!(audit_events(&app, &org, "client.expiring").await.len(), 1);

    // A rotated secret signs what follows; a new expiry date warns again.
    let (status, rotated) = app
        .admin(
            Method::POST,
            &format!("/admin/v1/orgs/{org}/webhook-secret"),
            ROOT_TOKEN,
            None,
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["webhook_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let extended = in_days(5);
    let (status, _) = app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/orgs/{org}/api-keys/{key}"),
            ROOT_TOKEN,
            Some(json!({"expires_at": extended})),
        )
        .await;
    assert_eq!(status, 200);
    let accepted = receiver.wait_for_accepted(3).await;
    app.expiry_scanned().await;
    replica.expiry_scanned().await;
    assert_eq!(deliveries(&app, &org, "").await.len(), 3);
    assert_eq!(receiver.accepted().len(), 3);
    let rearmed = &accepted[2];
    let body: Value = serde_json::from_str(&rearmed.body).unwrap();
    assert_eq!(body["data"]["credential_id"], key.as_str());
    assert_eq!(body["data"]["expires_at"], extended.as_str());
    assert!(signature_checks(
        new_secret,
        &rearmed.signature,
        &rearmed.body
    ));
    assert!(!signature_checks(
        &secret,
        &rearmed.signature,
        &rearmed.body
    ));
    assert_eq!(audit_events(&app, &org, "api_key.expiring").await.len(), 2);
}

async fn a_webhook_that_keeps_failing_is_given_up_visibly(backend: Backend) {
    let clock = ManualClock::starting_now();
    let configure = |settings: &mut Settings| {
        fast_notifications(settings);
        settings.webhook_retry_window_seconds = 4;
    };
    let app = spawn_app_on(backend, configure, clock.clone()).await;
    let receiver = Receiver::start(usize::MAX);
    let (org, _) = org_with_webhook(&app, &receiver.url).await;
    create(
        &app,
        &org,
        "api-keys",
        json!({"name": "deploys", "scopes": ["payouts:read"], "expires_at": in_days(1)}),
    )
    .await;

    // Backoff 1 s, 2 s, 4 s within a 4 s window: given up by the third.
    let mut failed = Vec::new();
    for _ in 0..10 {
        app.webhooks_sent().await;
        failed = deliveries(&app, &org, "?state=failed").await;
        if !failed.is_empty() {
            break;
        }
        clock.advance(Duration::from_secs(1));
    }
    assert_eq!(failed.len(), 1, "{:?}", deliveries(&app, &org, "").await);
    let delivery = &failed[0];
    let attempts = receiver.received().len();
    assert!(attempts >= 2, "retried before giving up: {attempts}");
    assert_eq!(delivery["attempts"], attempts);
    assert_eq!(delivery["last_status"], 503);
    assert!(delivery["last_error"].as_str().unwrap().contains("503"));
    assert!(delivery["next_attempt_at"].is_null());
    assert!(delivery["delivered_at"].is_null());
    clock.advance(Duration::from_secs(3600));
    app.webhooks_sent().await;
    assert_eq!(
        receiver.received().len(),
        attempts,
        "no attempt after giving up"
    );
}
