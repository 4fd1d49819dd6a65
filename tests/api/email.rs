//! Email: expiry warnings to an organisation's owners and admins (or its
//! notification address) and the console's invitations, sent by SMTP to a
//! local sink, once per credential and expiry date across replicas,
//! retried with backoff, their state in the management API.

use std::time::Duration;

use keyward::configuration::Settings;
use keyward::domain::{DeliveryState, OrgId, SmtpTls};
use keyward::storage::PageRequest;
use keyward::time::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};

use crate::expiry_warnings::{create, fast_notifications, in_days};
use crate::on_both_backends;
use crate::support::cli_process::run;
use crate::support::console_client::{member, signed_in};
use crate::support::helpers::{spawn_app_on, spawn_app_with, Backend, TestApp, ROOT_TOKEN};
use crate::support::smtp_sink::{Answer, Received, SmtpSink};

on_both_backends!(
    warnings_are_emailed_once_to_owners_and_admins_and_again_on_a_new_expiry,
    the_notification_email_takes_the_place_of_owners_and_admins,
    a_failing_mail_server_is_retried_and_its_state_shown,
    a_mail_server_that_keeps_failing_is_given_up_visibly,
    console_invitations_are_emailed_with_their_link,
    an_organisation_past_its_hourly_budget_is_not_mailed,
);

const FROM: &str = "keyward@mail.example.test";

/// Email through `sink`, scans each second, retries after 1 s, 2 s, 4 s…
pub(crate) fn mail_via(sink: &SmtpSink) -> impl Fn(&mut Settings) {
    let port = sink.port;
    move |settings| {
        fast_notifications(settings);
        settings.smtp_host = Some("127.0.0.1".into());
        settings.smtp_port = Some(port);
        settings.smtp_tls = SmtpTls::None;
        settings.smtp_from = Some(format!("Keyward <{FROM}>"));
    }
}

pub(crate) async fn new_org(app: &TestApp, body: Value) -> String {
    let (status, org) = app
        .admin(Method::POST, "/admin/v1/orgs", ROOT_TOKEN, Some(body))
        .await;
    assert_eq!(status, 201, "{org}");
    org["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn emails(app: &TestApp, org: &str, query: &str) -> Vec<Value> {
    let path = format!("/admin/v1/orgs/{org}/email-deliveries{query}");
    let (status, page) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// The plain-text and HTML bodies of a multipart/alternative message.
fn bodies(message: &Received) -> (String, String) {
    let parsed = message.parsed();
    let content_type = parsed.header_raw("Content-Type").unwrap_or_default();
    assert!(
        content_type.contains("multipart/alternative"),
        "{}",
        message.data
    );
    assert_eq!((parsed.text_body_count(), parsed.html_body_count()), (1, 1));
    let text = parsed.body_text(0).unwrap().into_owned();
    let html = parsed.body_html(0).unwrap().into_owned();
    (text, html)
}

/// How the email writes a time: `2027-01-06 00:00 UTC`.
fn shown(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}

async fn warnings_are_emailed_once_to_owners_and_admins_and_again_on_a_new_expiry(
    backend: Backend,
) {
    let sink = SmtpSink::start(Answer::FailFirst(0)).await;
    let app = spawn_app_with(backend, mail_via(&sink)).await;
    // A second node on the same database scans and sends too.
    let replica = app.replica().await;
    let org = new_org(&app, json!({"name": "Acme & <Co>", "plan": "enterprise"})).await;
    let owner = member(&app, &org, "owner").await;
    let admin = member(&app, &org, "admin").await;
    let viewer = member(&app, &org, "viewer").await;

    let soon = in_days(2);
    let path = format!("/admin/v1/orgs/{org}/api-keys");
    let body = json!({"name": "deploys <b>", "scopes": ["payouts:read"], "expires_at": soon});
    let (status, key) = app.admin(Method::POST, &path, ROOT_TOKEN, Some(body)).await;
    assert_eq!(status, 201, "{key}");
    let (key_id, secret, prefix) = (
        key["id"].as_str().unwrap(),
        key["key"].as_str().unwrap(),
        key["prefix"].as_str().unwrap(),
    );
    let client = create(
        &app,
        &org,
        "clients",
        json!({"name": "billing", "scopes": ["payouts:read"], "expires_at": in_days(3)}),
    )
    .await;

    let got = sink.wait_for_accepted(4).await;
    for node in [&app, &replica] {
        node.expiry_scanned().await;
        node.emails_sent().await;
    }
    assert_eq!(
        sink.received().len(),
        4,
        "once each: {:#?}",
        sink.received()
    );
    let mut recipients: Vec<&str> = got.iter().map(|m| m.rcpt_to[0].as_str()).collect();
    recipients.sort_unstable();
    let mut expected = vec![
        owner.as_str(),
        owner.as_str(),
        admin.as_str(),
        admin.as_str(),
    ];
    expected.sort_unstable();
    assert_eq!(recipients, expected, "owners and admins, not {viewer}");

    let about_key: Vec<&Received> = got
        .iter()
        .filter(|m| m.parsed().subject().unwrap_or_default().contains("deploys"))
        .collect();
    assert_eq!(about_key.len(), 2);
    for message in &about_key {
        assert_eq!(message.mail_from, FROM);
        let parsed = message.parsed();
        assert_eq!(
            parsed.to().unwrap().first().unwrap().address(),
            Some(message.rcpt_to[0].as_str())
        );
        assert_eq!(
            parsed.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-generated")
        );
        let (text, html) = bodies(message);
        for body in [&text, &html] {
            assert!(body.contains(prefix), "{body}");
            assert!(body.contains(&shown(&soon)), "{body}");
            assert!(body.contains(&soon), "{body}");
            assert!(
                body.contains(&format!("/admin/v1/orgs/{org}/api-keys/{key_id}")),
                "{body}"
            );
            assert!(!body.contains(secret), "never the key itself");
        }
        assert!(
            text.contains("deploys <b>") && text.contains("Acme & <Co>"),
            "{text}"
        );
        assert!(
            html.contains("deploys &lt;b&gt;") && !html.contains("deploys <b>"),
            "{html}"
        );
        assert!(html.contains("Acme &amp; &lt;Co&gt;"), "{html}");
    }
    let about_client = got
        .iter()
        .find(|m| about_key.iter().all(|k| k.message_id != m.message_id))
        .unwrap();
    let (text, _) = bodies(about_client);
    assert!(
        text.contains(&client) && text.contains("OAuth client \"billing\""),
        "{text}"
    );

    let listed = emails(&replica, &org, "?state=delivered").await;
    assert_eq!(listed.len(), 4, "{listed:?}");
    for email in &listed {
        assert_eq!(email["attempts"], 1, "{email}");
        assert_eq!(email["last_status"], 250);
        assert!(email["last_error"].is_null() && email["next_attempt_at"].is_null());
        assert!(email["delivered_at"].is_string());
        assert!(email.get("body").is_none(), "the body is never shown");
        let id = email["id"].as_str().unwrap();
        let sent = got
            .iter()
            .find(|m| m.message_id == format!("<{id}@mail.example.test>"));
        let sent = sent.unwrap_or_else(|| panic!("{id} was sent with its id as Message-ID"));
        assert_eq!(email["recipient"], sent.rcpt_to[0].as_str());
        assert_eq!(email["subject"], sent.parsed().subject().unwrap());
    }

    // A new expiry date warns again, once.
    let extended = in_days(5);
    let (status, _) = app
        .admin(
            Method::PATCH,
            &format!("{path}/{key_id}"),
            ROOT_TOKEN,
            Some(json!({"expires_at": extended})),
        )
        .await;
    assert_eq!(status, 200);
    let got = sink.wait_for_accepted(6).await;
    for node in [&app, &replica] {
        node.expiry_scanned().await;
        node.emails_sent().await;
    }
    assert_eq!(sink.received().len(), 6);
    for message in &got[4..] {
        let (text, _) = bodies(message);
        assert!(
            text.contains(&shown(&extended)) && text.contains(key_id),
            "{text}"
        );
    }
    assert_eq!(emails(&app, &org, "").await.len(), 6);
}

async fn the_notification_email_takes_the_place_of_owners_and_admins(backend: Backend) {
    let sink = SmtpSink::start(Answer::FailFirst(0)).await;
    let app = spawn_app_with(backend, mail_via(&sink)).await;
    let refused = |body: &Value| {
        assert_eq!(body["code"], "INVALID_REQUEST", "{body}");
        assert_eq!(body["field"], "notification_email", "{body}");
    };
    let bad = json!({"name": "Acme", "plan": "enterprise", "notification_email": "not an address"});
    let (status, body) = app
        .admin(Method::POST, "/admin/v1/orgs", ROOT_TOKEN, Some(bad))
        .await;
    assert_eq!(status, 400);
    refused(&body);

    let org = new_org(
        &app,
        json!({"name": "Acme", "plan": "enterprise", "notification_email": "alerts@Example.COM"}),
    )
    .await;
    let path = format!("/admin/v1/orgs/{org}");
    let (_, shown) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
    assert_eq!(shown["notification_email"], "alerts@example.com");
    for injected in [
        "ops@example.com\r\nBcc: spy@evil.example",
        "ops@example.com\nBcc: spy@evil.example",
        "ops@example.com, spy@evil.example",
        "Ops <ops@example.com>",
        "ops@localhost",
    ] {
        let body = json!({"notification_email": injected});
        let (status, body) = app
            .admin(Method::PATCH, &path, ROOT_TOKEN, Some(body))
            .await;
        assert_eq!(status, 400, "{injected:?}: {body}");
        refused(&body);
    }
    let body = json!({"notification_email": "ops@example.com"});
    let (status, updated) = app
        .admin(Method::PATCH, &path, ROOT_TOKEN, Some(body))
        .await;
    assert_eq!(
        (status, &updated["notification_email"]),
        (200, &json!("ops@example.com"))
    );

    let owner = member(&app, &org, "owner").await;
    create(
        &app,
        &org,
        "api-keys",
        json!({"name": "deploys", "scopes": ["payouts:read"], "expires_at": in_days(1)}),
    )
    .await;
    let got = sink.wait_for_accepted(1).await;
    app.expiry_scanned().await;
    app.emails_sent().await;
    assert_eq!(sink.received().len(), 1, "not also to {owner}");
    assert_eq!(got[0].rcpt_to, ["ops@example.com"]);
    assert_eq!(
        emails(&app, &org, "").await[0]["recipient"],
        "ops@example.com"
    );

    let body = json!({"notification_email": null});
    let (status, cleared) = app
        .admin(Method::PATCH, &path, ROOT_TOKEN, Some(body))
        .await;
    assert_eq!(
        (status, &cleared["notification_email"]),
        (200, &Value::Null)
    );
}

async fn a_failing_mail_server_is_retried_and_its_state_shown(backend: Backend) {
    // Each message is refused twice (451), then taken.
    let sink = SmtpSink::start(Answer::FailFirst(2)).await;
    let via = mail_via(&sink);
    let app = spawn_app_with(backend, |settings| {
        via(settings);
        // Two seconds at least between tries: time to see the pending
        // state on a loaded machine.
        settings.webhook_retry_base_seconds = 2;
    })
    .await;
    let org = new_org(&app, json!({"name": "Acme", "plan": "enterprise"})).await;
    member(&app, &org, "owner").await;
    create(
        &app,
        &org,
        "api-keys",
        json!({"name": "deploys", "scopes": ["payouts:read"], "expires_at": in_days(1)}),
    )
    .await;

    sink.wait_until(|r| !r.is_empty()).await;
    let mut pending = Vec::new();
    for _ in 0..200 {
        pending = emails(&app, &org, "?state=pending").await;
        if pending
            .first()
            .is_some_and(|e| e["attempts"].as_i64() >= Some(1))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let email = pending
        .first()
        .expect("a pending email after its first refusal");
    assert_eq!(email["last_status"], 451, "{email}");
    assert_eq!(email["last_error"], "delivery failed: SMTP 451");
    assert!(email["next_attempt_at"].is_string() && email["delivered_at"].is_null());

    let accepted = sink.wait_for_accepted(1).await;
    app.emails_sent().await;
    let tries = sink
        .received()
        .iter()
        .filter(|m| m.message_id == accepted[0].message_id)
        .count();
    assert_eq!(tries, 3, "two refusals, then taken");
    let delivered = emails(&app, &org, "?state=delivered").await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["attempts"], 3);
    assert_eq!(delivered[0]["last_status"], 250);
    assert!(delivered[0]["last_error"].is_null());
}

async fn a_mail_server_that_keeps_failing_is_given_up_visibly(backend: Backend) {
    let clock = ManualClock::starting_now();
    let sink = SmtpSink::start(Answer::Always(451)).await;
    let mail = mail_via(&sink);
    let configure = |settings: &mut Settings| {
        mail(settings);
        settings.webhook_retry_window_seconds = 4;
    };
    let app = spawn_app_on(backend, configure, clock.clone()).await;
    let org = new_org(&app, json!({"name": "Acme", "plan": "enterprise"})).await;
    member(&app, &org, "owner").await;
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
        app.emails_sent().await;
        failed = emails(&app, &org, "?state=failed").await;
        if !failed.is_empty() {
            break;
        }
        clock.advance(Duration::from_secs(1));
    }
    assert_eq!(failed.len(), 1, "{:?}", emails(&app, &org, "").await);
    let attempts = sink.received().len();
    assert!(attempts >= 2, "retried before giving up: {attempts}");
    assert_eq!(failed[0]["attempts"], attempts);
    assert_eq!(failed[0]["last_status"], 451);
    assert!(failed[0]["next_attempt_at"].is_null() && failed[0]["delivered_at"].is_null());
    clock.advance(Duration::from_secs(3600));
    app.emails_sent().await;
    assert_eq!(
        sink.received().len(),
        attempts,
        "no attempt after giving up"
    );
}

async fn an_organisation_past_its_hourly_budget_is_not_mailed(backend: Backend) {
    let sink = SmtpSink::start(Answer::FailFirst(0)).await;
    let mail = mail_via(&sink);
    let app = spawn_app_with(backend, |settings| {
        mail(settings);
        settings.email_max_per_org_per_hour = 2;
    })
    .await;
    let org = new_org(&app, json!({"name": "Acme", "plan": "enterprise"})).await;
    member(&app, &org, "owner").await;
    member(&app, &org, "admin").await;
    for name in ["deploys", "reports"] {
        let body = json!({"name": name, "scopes": ["payouts:read"], "expires_at": in_days(1)});
        create(&app, &org, "api-keys", body).await;
    }
    sink.wait_for_accepted(2).await;
    app.expiry_scanned().await;
    app.emails_sent().await;
    assert_eq!(sink.received().len(), 2, "two of four within the budget");
    let failed = emails(&app, &org, "?state=failed").await;
    assert_eq!(failed.len(), 2, "{:?}", emails(&app, &org, "").await);
    for email in &failed {
        assert_eq!(email["attempts"], 0, "{email}");
        assert_eq!(
            email["last_error"],
            "not sent: this organisation reached email_max_per_org_per_hour (2)"
        );
    }
    assert_eq!(emails(&app, &org, "?state=delivered").await.len(), 2);
}

/// A refusal for good (5xx) is not retried; a server that cannot be reached is.
#[tokio::test]
async fn refusals_fail_at_once_and_an_unreachable_server_stays_pending() {
    let refusing = SmtpSink::start(Answer::Always(550)).await;
    let app = spawn_app_with(Backend::Sqlite, mail_via(&refusing)).await;
    let org = new_org(&app, json!({"name": "Acme", "plan": "enterprise"})).await;
    member(&app, &org, "owner").await;
    create(
        &app,
        &org,
        "api-keys",
        json!({"name": "deploys", "scopes": ["payouts:read"], "expires_at": in_days(1)}),
    )
    .await;
    refusing.wait_until(|r| !r.is_empty()).await;
    app.emails_sent().await;
    app.emails_sent().await;
    let failed = emails(&app, &org, "?state=failed").await;
    assert_eq!(failed.len(), 1, "{:?}", emails(&app, &org, "").await);
    assert_eq!(
        (&failed[0]["attempts"], &failed[0]["last_status"]),
        (&json!(1), &json!(550))
    );
    let error = failed[0]["last_error"].as_str().unwrap();
    assert!(
        error.contains("550") && error.contains("not retried"),
        "{error}"
    );
    assert_eq!(refusing.received().len(), 1);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        mail_via(&refusing)(settings);
        settings.smtp_port = Some(port);
    })
    .await;
    let org = new_org(&app, json!({"name": "Acme", "plan": "enterprise"})).await;
    member(&app, &org, "owner").await;
    create(
        &app,
        &org,
        "api-keys",
        json!({"name": "deploys", "scopes": ["payouts:read"], "expires_at": in_days(1)}),
    )
    .await;
    let mut pending = Vec::new();
    for _ in 0..100 {
        pending = emails(&app, &org, "?state=pending").await;
        if pending
            .first()
            .is_some_and(|e| e["attempts"].as_i64() >= Some(1))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        pending[0]["last_error"],
        "delivery failed: could not reach the mail server"
    );
    assert!(pending[0]["last_status"].is_null() && pending[0]["next_attempt_at"].is_string());
}

async fn console_invitations_are_emailed_with_their_link(backend: Backend) {
    let sink = SmtpSink::start(Answer::FailFirst(0)).await;
    let app = spawn_app_with(backend, mail_via(&sink)).await;
    let org = new_org(&app, json!({"name": "Acme <Ops>", "plan": "starter"})).await;
    let (owner, _) = signed_in(&app, &org, "owner").await;
    let members = format!("/console/orgs/{org}/members");
    let page = owner.get(&members).await;
    let invited = owner
        .post(
            &members,
            &[
                ("csrf", &page.csrf()),
                ("email", "Grace@Example.com"),
                ("name", "Grace Hopper"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(invited.status, 303, "{}", invited.body);
    let shown = owner.get(&members).await;
    let link = shown.text_of("invite-link").unwrap().replace("&amp;", "&");

    let got = sink.wait_for_accepted(1).await;
    let message = &got[0];
    assert_eq!(message.rcpt_to, ["grace@example.com"]);
    let parsed = message.parsed();
    assert_eq!(
        parsed.subject(),
        Some("You are invited to Acme <Ops> on Keyward")
    );
    let (text, html) = bodies(message);
    assert!(text.contains(&link) && text.contains("as admin"), "{text}");
    assert!(html.contains(&link.replace('&', "&amp;")), "{html}");
    assert!(html.contains("Acme &lt;Ops&gt;"), "{html}");

    // The emailed link is the one that sets the password.
    let token = link.split_once("?token=").unwrap().1;
    let form = crate::support::console_client::ConsoleClient::new(&app)
        .get(&format!("/console/password?token={token}"))
        .await;
    assert_eq!(form.status, 200, "{}", form.body);

    let listed = emails(&app, &org, "").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["event_type"], "member.invited");
    assert_eq!(listed[0]["recipient"], "grace@example.com");
    assert!(!listed[0].to_string().contains(token));
    // The queue holds the link sealed, never in clear.
    let stored = app
        .store
        .list_email_deliveries(
            &OrgId::parse(&org).unwrap(),
            Some(DeliveryState::Delivered),
            &PageRequest::everything(),
        )
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    let needle = token.as_bytes();
    assert!(!stored[0].body.windows(needle.len()).any(|w| w == needle));
}

/// The settings are checked at start, naming the setting; a password read
/// from `KEYWARD_SMTP_PASSWORD_FILE` never shows in what is printed.
#[test]
fn smtp_settings_are_checked_at_start_and_the_password_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("smtp-password");
    std::fs::write(&password, "smtp-pa55word-from-file\n").unwrap();
    let db = (
        "KEYWARD_DATABASE_URL",
        format!("sqlite://{}/k.db", dir.path().display()),
    );
    let host = ("KEYWARD_SMTP_HOST", "127.0.0.1".to_owned());
    let from = ("KEYWARD_SMTP_FROM", FROM.to_owned());
    let user = ("KEYWARD_SMTP_USERNAME", "mailer".to_owned());
    let secret = ("KEYWARD_SMTP_PASSWORD_FILE", password.display().to_string());
    let plain = ("KEYWARD_SMTP_TLS", "none".to_owned());
    let cases: [(Vec<(&str, String)>, &str); 4] = [
        (vec![host.clone()], "smtp_from"),
        (vec![from.clone()], "smtp_host"),
        (
            vec![host.clone(), from.clone(), secret.clone()],
            "smtp_username",
        ),
        (
            vec![
                host.clone(),
                from.clone(),
                user.clone(),
                secret.clone(),
                plain,
            ],
            "smtp_tls",
        ),
    ];
    for (env, named) in cases {
        let mut env = env;
        env.push(db.clone());
        let output = run(dir.path(), &env, &["migrate"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{env:?}: {stderr}");
        assert!(stderr.contains(named), "{named}: {stderr}");
        assert!(!stderr.contains("pa55word"), "{stderr}");
    }
    let good = [host, from, user, secret, db];
    let output = run(dir.path(), &good, &["migrate"]);
    assert!(output.status.success(), "{output:?}");
    let printed = format!("{output:?}");
    assert!(!printed.contains("pa55word"), "{printed}");
}
