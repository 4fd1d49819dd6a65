//! The notifications page in a real Chromium: an owner sets the
//! organisation's notification email, is told why a bad one is refused,
//! and reads the deliveries of an expiry warning, its email delivered and
//! its webhook still failing. Screenshots as in `console_browser.rs`.

use serde_json::json;

use crate::email::{mail_via, new_org};
use crate::expiry_warnings::{create, in_days};
use crate::support::browser::Browser;
use crate::support::console_client::{member, PASSWORD};
use crate::support::helpers::{spawn_app_with, Backend, ROOT_TOKEN};
use crate::support::smtp_sink::{Answer, SmtpSink};

#[tokio::test]
async fn an_owner_sets_the_notification_email_and_reads_the_deliveries_in_the_browser() {
    let sink = SmtpSink::start(Answer::FailFirst(0)).await;
    let app = spawn_app_with(Backend::Sqlite, mail_via(&sink)).await;
    let org = new_org(&app, json!({"name": "Initech", "plan": "enterprise"})).await;
    let owner = member(&app, &org, "owner").await;
    let (status, _) = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/admin/v1/orgs/{org}"),
            ROOT_TOKEN,
            // Nothing listens on the discard port: the webhook keeps failing.
            Some(json!({ "webhook_url": "http://127.0.0.1:9/keyward" })),
        )
        .await;
    assert_eq!(status, 200);

    let browser = Browser::start().await;
    browser
        .client
        .goto(&app.url("/console/sign-in"))
        .await
        .unwrap();
    browser.fill("#email", &owner).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("main button[type=submit]").await;
    browser.wait_for_text("main h1", "Initech").await;

    browser.click("nav a[href$='/notifications']").await;
    browser.wait_for_text("main h1", "Notifications").await;
    browser.fill("#notification_email", "not an address").await;
    browser.click("form[action$='/notifications'] button").await;
    let why = browser.text("#email-error").await;
    assert!(why.starts_with("notification email: "), "{why}");
    browser.screenshot("11-notification-email-refused").await;
    browser
        .fill("#notification_email", "alerts@initech.example")
        .await;
    browser.click("form[action$='/notifications'] button").await;
    browser.wait_for_text("main h1", "Notifications").await;
    assert!(!browser.has("#email-error").await);

    create(
        &app,
        &org,
        "api-keys",
        json!({"name": "deploys", "scopes": ["payouts:read"], "expires_at": in_days(1)}),
    )
    .await;
    let got = sink.wait_for_accepted(1).await;
    assert_eq!(got[0].rcpt_to, ["alerts@initech.example"]);
    app.emails_sent().await;
    app.webhooks_sent().await;
    browser.client.refresh().await.unwrap();
    let table = browser.text("#delivery-list").await;
    assert!(
        table.contains("alerts@initech.example") && table.contains("delivered"),
        "{table}"
    );
    assert!(
        table.contains("http://127.0.0.1:9/keyward") && table.contains("pending"),
        "{table}"
    );
    browser.screenshot("12-notifications").await;
    browser
        .client
        .execute(
            "document.getElementById('deliveries').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
    browser.screenshot("13-deliveries").await;
    browser.close().await;
}
