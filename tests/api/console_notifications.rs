//! The console's notifications page: the organisation's notification email
//! set, refused and cleared by owners and admins as through the API (same
//! check, same audit event), read by viewers; and the deliveries of emails
//! and webhooks, as the API shows them, in pages of fifty.

use keyward::domain::{DeliveryState, EmailDelivery, OrgId, Plan};
use reqwest::Method;
use serde_json::{json, Value};

use crate::email::{mail_via, new_org};
use crate::expiry_warnings::{create, fast_notifications, in_days};
use crate::on_both_backends;
use crate::support::console_client::{signed_in, ConsoleClient};
use crate::support::helpers::{spawn_app_with, Backend, TestApp, ROOT_TOKEN};
use crate::support::smtp_sink::{Answer, SmtpSink};

on_both_backends!(
    owners_and_admins_set_the_notification_email_and_viewers_read_it,
    the_page_lists_emails_and_webhooks_as_the_api_shows_them,
    deliveries_come_in_pages_of_fifty_across_both_kinds,
);

async fn api_org(app: &TestApp, org: &str) -> Value {
    let path = format!("/admin/v1/orgs/{org}");
    app.admin(Method::GET, &path, ROOT_TOKEN, None).await.1
}

/// Sends the notification email form with the page's token; the answer.
async fn set_email(
    browser: &ConsoleClient,
    org: &str,
    address: &str,
) -> crate::support::console_client::Page {
    let path = format!("/console/orgs/{org}/notifications");
    let csrf = browser.get(&path).await.csrf();
    browser
        .post(&path, &[("csrf", &csrf), ("notification_email", address)])
        .await
}

async fn owners_and_admins_set_the_notification_email_and_viewers_read_it(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let org = app.create_org(Plan::Starter).await.as_str().to_owned();
    let (owner, _) = signed_in(&app, &org, "owner").await;
    let path = format!("/console/orgs/{org}/notifications");
    let page = owner.get(&path).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.field("notification_email"), "");
    assert!(page.body.contains("No deliveries."));

    let bad = "ops@example.com\r\nBcc: spy@evil.example";
    let (_, problem) = app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/orgs/{org}"),
            ROOT_TOKEN,
            Some(json!({ "notification_email": bad })),
        )
        .await;
    let reason = problem["detail"]
        .as_str()
        .unwrap()
        .strip_prefix("notification_email: ")
        .unwrap()
        .to_owned();
    let refused = set_email(&owner, &org, bad).await;
    assert_eq!(refused.status, 400);
    let shown = refused
        .text_of("email-error")
        .unwrap()
        .replace("&amp;", "&");
    assert_eq!(shown, format!("notification email: {reason}"));
    assert_eq!(api_org(&app, &org).await["notification_email"], Value::Null);

    let set = set_email(&owner, &org, " alerts@Example.COM ").await;
    assert_eq!((set.status, set.location()), (303, path.as_str()));
    assert_eq!(
        owner.get(&path).await.field("notification_email"),
        "alerts@example.com"
    );
    assert_eq!(
        api_org(&app, &org).await["notification_email"],
        "alerts@example.com"
    );
    let (_, events) = app
        .admin(
            Method::GET,
            &format!("/admin/v1/orgs/{org}/audit-events?action=organisation.updated"),
            ROOT_TOKEN,
            None,
        )
        .await;
    let event = &events["items"][0];
    assert!(
        event["actor"].as_str().unwrap().starts_with("user:"),
        "{event}"
    );
    assert_eq!(
        event["changes"]["notification_email"],
        json!({"old": null, "new": "alerts@example.com"}),
        "{event}"
    );

    let (admin, _) = signed_in(&app, &org, "admin").await;
    assert_eq!(set_email(&admin, &org, "ops@example.com").await.status, 303);
    assert_eq!(
        api_org(&app, &org).await["notification_email"],
        "ops@example.com"
    );

    let (viewer, _) = signed_in(&app, &org, "viewer").await;
    let read = viewer.get(&path).await;
    assert_eq!(
        read.text_of("notification-email").unwrap(),
        "ops@example.com"
    );
    assert!(
        !read.body.contains("name=\"notification_email\""),
        "no form"
    );
    let csrf = read.csrf();
    let denied = viewer
        .post(
            &path,
            &[("csrf", &csrf), ("notification_email", "x@example.com")],
        )
        .await;
    assert_eq!(denied.status, 403);
    let no_token = admin
        .post(&path, &[("notification_email", "x@example.com")])
        .await;
    assert_eq!(no_token.status, 403);

    assert_eq!(
        set_email(&owner, &org, "").await.status,
        303,
        "blank clears"
    );
    assert_eq!(api_org(&app, &org).await["notification_email"], Value::Null);
    let cleared = viewer.get(&path).await;
    assert!(cleared
        .text_of("notification-email")
        .unwrap()
        .starts_with("Not set"));
}

async fn the_page_lists_emails_and_webhooks_as_the_api_shows_them(backend: Backend) {
    let sink = SmtpSink::start(Answer::FailFirst(0)).await;
    let app = spawn_app_with(backend, mail_via(&sink)).await;
    let org = new_org(
        &app,
        json!({"name": "Acme", "plan": "enterprise", "notification_email": "ops@example.com"}),
    )
    .await;
    // Nothing listens there: the webhook stays pending with its error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!(
        "http://127.0.0.1:{}/hook",
        closed.local_addr().unwrap().port()
    );
    drop(closed);
    let (status, updated) = app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/orgs/{org}"),
            ROOT_TOKEN,
            Some(json!({ "webhook_url": hook })),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    let secret = updated["webhook_secret"].as_str().unwrap().to_owned();
    create(
        &app,
        &org,
        "api-keys",
        json!({"name": "deploys", "scopes": ["payouts:read"], "expires_at": in_days(1)}),
    )
    .await;
    sink.wait_for_accepted(1).await;
    app.emails_sent().await;
    app.webhooks_sent().await;

    let (viewer, _) = signed_in(&app, &org, "viewer").await;
    let path = format!("/console/orgs/{org}/notifications");
    let page = viewer.get(&path).await;
    assert_eq!(page.status, 200);
    let rows = table_rows(&page.body);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let email = rows.iter().find(|r| r[1] == "email").unwrap();
    assert_eq!(
        email[2..6],
        ["api_key.expiring", "ops@example.com", "delivered", "1"]
    );
    let webhook = rows.iter().find(|r| r[1] == "webhook").unwrap();
    assert_eq!(
        webhook[2..5],
        ["api_key.expiring", hook.as_str(), "pending"]
    );
    let (_, api) = app
        .admin(
            Method::GET,
            &format!("/admin/v1/orgs/{org}/webhook-deliveries"),
            ROOT_TOKEN,
            None,
        )
        .await;
    let api = &api["items"][0];
    assert_eq!(webhook[5], api["attempts"].to_string());
    assert_eq!(webhook[7], api["last_error"].as_str().unwrap());
    assert!(!page.body.contains(&secret) && !page.body.contains("\"payload\""));
    assert!(!page.body.contains("deploys"), "no payload or body");

    let emails_only = viewer.get(&format!("{path}?kind=email")).await;
    assert_eq!(table_rows(&emails_only.body).len(), 1);
    let failed = viewer.get(&format!("{path}?state=failed")).await;
    assert!(failed.body.contains("No deliveries."));
    assert_eq!(viewer.get(&format!("{path}?kind=sms")).await.status, 400);
    assert_eq!(viewer.get(&format!("{path}?state=lost")).await.status, 400);
}

async fn deliveries_come_in_pages_of_fifty_across_both_kinds(backend: Backend) {
    let app = spawn_app_with(backend, fast_notifications).await;
    let org = app.create_org(Plan::Enterprise).await;
    let (status, _) = app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/orgs/{org}"),
            ROOT_TOKEN,
            Some(json!({ "webhook_url": "http://127.0.0.1:9/hook" })),
        )
        .await;
    assert_eq!(status, 200);
    let now = chrono::Utc::now().timestamp();
    let emails: Vec<EmailDelivery> = (0..55).map(|i| queued(&org, now - 1_000 + i)).collect();
    app.store.queue_emails(&emails).await.unwrap();
    create(
        &app,
        org.as_str(),
        "api-keys",
        json!({"name": "deploys", "scopes": ["payouts:read"], "expires_at": in_days(1)}),
    )
    .await;
    app.expiry_scanned().await;

    let (owner, _) = signed_in(&app, org.as_str(), "owner").await;
    let first = owner
        .get(&format!("/console/orgs/{org}/notifications"))
        .await;
    let rows = table_rows(&first.body);
    assert_eq!(rows.len(), 50);
    assert!(rows.iter().all(|r| r[1] == "email"), "oldest first");
    let next = first.body.split("href=\"").find_map(|s| {
        let link = &s[..s.find('"')?];
        link.contains("after=").then(|| link.replace("&amp;", "&"))
    });
    let second = owner.get(&next.expect("a link to the next page")).await;
    let rows = table_rows(&second.body);
    let kinds: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(kinds, [&["email"; 5][..], &["webhook"]].concat());
    assert!(!second.body.contains("after="), "the last page");
}

/// An email waiting in the queue since `at` (email is off: it stays there).
fn queued(org: &OrgId, at: i64) -> EmailDelivery {
    EmailDelivery {
        id: EmailDelivery::new_id(),
        org_id: org.clone(),
        event_type: "api_key.expiring".into(),
        recipient: "ops@example.com".into(),
        subject: "An API key expires soon".into(),
        body: Vec::new(),
        state: DeliveryState::Pending,
        attempts: 0,
        created_at: at,
        next_attempt_at: Some(at),
        last_attempt_at: None,
        last_status: None,
        last_error: None,
        delivered_at: None,
    }
}

/// The cells' text of each row of the deliveries table.
fn table_rows(body: &str) -> Vec<Vec<String>> {
    let Some(start) = body.find("id=\"delivery-list\"") else {
        return Vec::new();
    };
    let table = &body[start..body[start..].find("</table>").unwrap() + start];
    let tbody = &table[table.find("<tbody>").unwrap()..];
    tbody
        .split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let inner = &cell[cell.find('>').unwrap() + 1..cell.find("</td>").unwrap()];
                    strip_tags(inner).replace("&amp;", "&")
                })
                .collect()
        })
        .collect()
}

fn strip_tags(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}
