//! Email over TLS: STARTTLS and implicit TLS to a mail relay whose
//! certificate a private CA signed (`smtp_ca_file`), a certificate nobody
//! said to trust refused, and a relay that offers no STARTTLS never given
//! the mail in clear. Transport only, so on SQLite; the deliveries' storage
//! is tested on both backends in `email.rs`.

use std::time::Duration;

use keyward::domain::SmtpTls;
use serde_json::{json, Value};

use crate::email::{emails, mail_via, new_org};
use crate::expiry_warnings::{create, in_days};
use crate::support::console_client::member;
use crate::support::helpers::{spawn_app_with, Backend, TestApp};
use crate::support::smtp_sink::{Answer, SinkTls, SmtpSink};
use crate::support::test_ca::TestCa;

/// An organisation with an owner and a key that expires tomorrow, so a
/// warning is emailed at the next scan.
async fn org_with_a_warning(app: &TestApp) -> String {
    let org = new_org(app, json!({"name": "Acme", "plan": "enterprise"})).await;
    member(app, &org, "owner").await;
    create(
        app,
        &org,
        "api-keys",
        json!({"name": "deploys", "scopes": ["payouts:read"], "expires_at": in_days(1)}),
    )
    .await;
    org
}

/// The organisation's one email once it was tried at least `attempts` times.
async fn tried(app: &TestApp, org: &str, attempts: i64) -> Value {
    for _ in 0..200 {
        if let Some(email) = emails(app, org, "").await.first() {
            if email["attempts"].as_i64() >= Some(attempts) {
                return email.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "not tried {attempts} times: {:?}",
        emails(app, org, "").await
    );
}

#[tokio::test]
async fn starttls_and_implicit_tls_deliver_to_a_relay_of_a_private_ca() {
    let ca = TestCa::new();
    for tls in [SmtpTls::Starttls, SmtpTls::Tls] {
        let (cert, key) = ca.server_files();
        let sink_tls = match tls {
            SmtpTls::Starttls => SinkTls::Starttls(cert, key),
            _ => SinkTls::Implicit(cert, key),
        };
        let sink = SmtpSink::start_with(Answer::FailFirst(0), Some(sink_tls)).await;
        let app = spawn_app_with(Backend::Sqlite, |settings| {
            mail_via(&sink)(settings);
            settings.smtp_tls = tls;
            settings.smtp_ca_file = Some(ca.ca_pem());
        })
        .await;
        let org = org_with_a_warning(&app).await;
        let got = sink.wait_for_accepted(1).await;
        assert_eq!(got[0].rcpt_to.len(), 1, "{tls:?}");
        let email = tried(&app, &org, 1).await;
        assert_eq!(
            (&email["state"], &email["last_status"]),
            (&json!("delivered"), &json!(250)),
            "{tls:?}: {email}"
        );
    }
}

#[tokio::test]
async fn a_certificate_of_a_ca_not_trusted_is_refused() {
    let ca = TestCa::new();
    let (cert, key) = ca.server_files();
    let sink = SmtpSink::start_with(Answer::FailFirst(0), Some(SinkTls::Starttls(cert, key))).await;
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        mail_via(&sink)(settings);
        settings.smtp_tls = SmtpTls::Starttls;
    })
    .await;
    let org = org_with_a_warning(&app).await;
    let email = tried(&app, &org, 1).await;
    assert_eq!(email["state"], "pending", "{email}");
    assert_eq!(
        email["last_error"],
        "delivery failed: TLS with the mail server failed"
    );
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn with_starttls_a_relay_without_it_is_never_sent_the_mail_in_clear() {
    let plain = SmtpSink::start(Answer::FailFirst(0)).await;
    let ca = TestCa::new();
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        mail_via(&plain)(settings);
        settings.smtp_tls = SmtpTls::Starttls;
        settings.smtp_ca_file = Some(ca.ca_pem());
    })
    .await;
    let org = org_with_a_warning(&app).await;
    let email = tried(&app, &org, 2).await;
    assert_eq!(email["state"], "pending", "retried: {email}");
    assert!(email["next_attempt_at"].is_string() && email["last_status"].is_null());
    let error = email["last_error"].as_str().unwrap();
    assert!(error.contains("STARTTLS"), "{error}");
    assert!(plain.received().is_empty(), "{:?}", plain.received());
}
