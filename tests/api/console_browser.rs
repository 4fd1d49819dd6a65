//! The console in a real Chromium: the operator signs in with the root
//! token, creates an organisation and its owner; the owner sets a password
//! from the link, signs in, creates an API key, copies it, and changes it in the
//! page, while a resource server checks the key at `/v1/keys/verify`.
//! Saves a screenshot of each page (target/console-screenshots).

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::console_client::{member, PASSWORD};
use crate::support::helpers::{spawn_app, Backend, TestApp, TestClient, API, ROOT_TOKEN};

/// What verify answers for `key`, once it is `code`, within a second.
async fn verify_becomes(app: &TestApp, rs: &TestClient, key: &str, code: &str) -> Value {
    let started = Instant::now();
    loop {
        let (_, body) = app.verify_key(rs, json!({ "key": key })).await;
        if body["code"] == code || started.elapsed() > Duration::from_secs(1) {
            assert_eq!(body["code"], code, "{body}");
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_owner_manages_api_keys_in_the_browser() {
    let app = spawn_app(Backend::Sqlite).await;
    let rs = app.create_resource_server(&[API]).await;
    let browser = Browser::start().await;
    let page = |path: &str| app.url(path);

    browser
        .client
        .goto(&page("/console/operator/sign-in"))
        .await
        .unwrap();
    browser.fill("#token", ROOT_TOKEN).await;
    browser.click("main button[type=submit]").await;
    browser.wait_for_text("main h1", "Organisations").await;
    browser.fill("#name", "Initech").await;
    browser
        .client
        .find(Locator::Css("#plan"))
        .await
        .unwrap()
        .select_by_value("professional")
        .await
        .unwrap();
    browser.click("form[action$='/operator/orgs'] button").await;
    browser.text("tbody").await;
    let row = "//tr[td[contains(., 'Initech')]]//code";
    let org = browser
        .client
        .find(Locator::XPath(row))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    browser
        .fill(&format!("#owner-{org}"), "ada@example.com")
        .await;
    browser
        .click(&format!("form[action$='/{org}/owners'] button"))
        .await;
    let link = browser.text("#invite-link").await;
    browser.screenshot("00-operator").await;
    browser.click("header form button").await;
    browser.wait_for_text("h1", "Operator sign-in").await;

    browser.client.goto(&link).await.unwrap();
    browser.screenshot("01-set-password").await;
    browser.fill("#password", PASSWORD).await;
    browser.fill("#confirm", PASSWORD).await;
    browser.click("main button[type=submit]").await;
    browser.wait_for_text("h1", "Your password is set").await;
    browser.click("a.button").await;

    browser.wait_for_text("h1", "Sign in").await;
    browser.fill("#email", "ada@example.com").await;
    browser.fill("#password", PASSWORD).await;
    browser.screenshot("02-sign-in").await;
    browser.click("main button[type=submit]").await;
    browser.wait_for_text("main h1", "Initech").await;
    assert_eq!(browser.path().await, format!("/console/orgs/{org}"));
    browser.screenshot("03-overview").await;

    browser.click("nav a[href$='/api-keys']").await;
    browser.click("a.button[href$='/api-keys/new']").await;
    browser.fill("#name", "deploys").await;
    browser.fill("#scopes", "payouts:read").await;
    browser.screenshot("04-create-key").await;
    browser.click("main button[type=submit]").await;
    let key = browser.text("#new-secret").await;
    assert!(key.starts_with("kw_"), "{key}");
    browser.click("button[data-copy]").await;
    let answered = Instant::now();
    let mut copy = browser.text("button[data-copy]").await;
    while copy == "Copy" && answered.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        copy = browser.text("button[data-copy]").await;
    }
    assert!(copy == "Copied" || copy.starts_with("Selected"), "{copy}");
    browser.screenshot("05-key-shown-once").await;
    let key_page = browser.path().await;

    browser.client.refresh().await.unwrap();
    assert_eq!(browser.path().await, key_page);
    assert!(!browser.has("#new-secret").await, "gone on reload");
    verify_becomes(&app, &rs, &key, "VALID").await;

    browser.click("form[action$='/status'] button").await;
    browser.wait_for_text("h1 .badge", "deactivated").await;
    verify_becomes(&app, &rs, &key, "DEACTIVATED").await;
    browser.click("form[action$='/status'] button").await;
    browser.wait_for_text("h1 .badge", "active").await;
    verify_becomes(&app, &rs, &key, "VALID").await;

    browser.fill("#rate_limit", "250").await;
    browser.click("form[action$='/edit'] button").await;
    browser
        .wait_for_text("#rate-limit", "250 per minute (its own)")
        .await;
    let body = verify_becomes(&app, &rs, &key, "VALID").await;
    assert_eq!(body["ratelimit"]["limit"], 250);
    app.usage_written().await;
    browser.client.refresh().await.unwrap();
    let usage = browser.text("figcaption").await;
    assert!(usage.contains("requests served"), "{usage}");
    browser
        .client
        .execute("document.getElementById('usage').scrollIntoView()", vec![])
        .await
        .unwrap();
    browser.screenshot("06-key-usage").await;

    for name in ["billing-sync", "nightly-export"] {
        browser
            .client
            .goto(&page(&format!("/console/orgs/{org}/api-keys/new")))
            .await
            .unwrap();
        browser.fill("#name", name).await;
        browser.fill("#scopes", "payouts:read").await;
        browser.click("main button[type=submit]").await;
        browser.text("#new-secret").await;
    }
    browser
        .client
        .goto(&page(&format!("/console/orgs/{org}/api-keys")))
        .await
        .unwrap();
    assert!(browser.text("tbody").await.contains("deploys"));
    browser.screenshot("07-api-keys").await;

    browser.client.goto(&page(&key_page)).await.unwrap();
    browser.fill("#confirm", "deploys").await;
    browser.click("form[action$='/delete'] button").await;
    browser.client.accept_alert().await.unwrap();
    browser.wait_for_text("main h1", "API keys").await;
    assert_eq!(
        browser.path().await,
        format!("/console/orgs/{org}/api-keys")
    );
    verify_becomes(&app, &rs, &key, "NOT_FOUND").await;

    browser.click("nav a[href$='/clients']").await;
    browser.click("a.button[href$='/clients/new']").await;
    browser.fill("#name", "billing").await;
    browser.fill("#scopes", "payouts:read").await;
    browser.fill("#audiences", API).await;
    browser.click("main button[type=submit]").await;
    let secret = browser.text("#new-secret").await;
    let id = browser.text("#client-id").await;
    browser.screenshot("08-client-shown-once").await;
    let page_of_client = browser.path().await;
    assert!(page_of_client.contains("/clients/cl_"), "{page_of_client}");
    let token = app.oauth2_token(&id, &secret).await;
    assert!(token.is_ok(), "the copied secret gets a token: {token:?}");
    let key = crate::support::client_keys::ClientKeyPair::es256("ci-2027");
    browser.fill("#key", &key.jwk.to_string()).await;
    browser.click("form[action$='/keys'] button").await;
    browser
        .wait_for_text("#keys + div.card tbody td code", "ci-2027")
        .await;
    browser.screenshot("08-client-keys").await;
    browser.click("nav a[href$='/clients']").await;
    assert!(browser.text("tbody").await.contains("billing"));
    browser.screenshot("08-clients").await;

    browser.click("nav a[href$='/audit']").await;
    assert!(browser.text("tbody").await.contains("client.created"));
    browser.screenshot("09-audit-trail").await;
    browser.click("nav a[href$='/members']").await;
    browser.fill("#email", "grace@example.com").await;
    browser
        .click("form[action$='/members'] button[type=submit]")
        .await;
    let link = browser.text("#invite-link").await;
    assert!(link.contains("/console/password?token="), "{link}");
    browser.screenshot("10-members").await;
    browser.click("nav a[href$='/webhooks']").await;
    browser
        .fill("#url", "https://hooks.example.com/keyward")
        .await;
    browser.click("form[action$='/webhooks'] button").await;
    assert!(browser.text("#new-secret").await.starts_with("kwhs_"));
    browser.screenshot("10-webhooks").await;
    browser.close().await;
}

/// Submits, from the page the browser shows, a form that no page offers:
/// what a member could send by hand.
async fn post_by_hand(browser: &Browser, action: &str, fields: &[(&str, &str)]) {
    let script = "const [action, fields] = arguments; \
        const form = document.createElement('form'); \
        form.method = 'post'; form.action = action; \
        for (const [name, value] of fields) { \
          const input = document.createElement('input'); \
          input.type = 'hidden'; input.name = name; input.value = value; \
          form.appendChild(input); } \
        document.body.appendChild(form); form.submit();";
    browser
        .client
        .execute(script, vec![json!(action), json!(fields)])
        .await
        .unwrap();
}

#[tokio::test]
async fn what_a_viewer_a_free_plan_and_an_idle_session_get_in_the_browser() {
    let clock = keyward::time::ManualClock::starting_now();
    let app = crate::support::helpers::spawn_app_on(Backend::Sqlite, |_| {}, clock.clone()).await;
    let starter = app.create_org(keyward::domain::Plan::Starter).await;
    let free = app.create_org(keyward::domain::Plan::Free).await;
    app.create_api_key(&starter, &["payouts:read"], |_| {})
        .await
        .unwrap();
    let viewer = member(&app, starter.as_str(), "viewer").await;
    let owner = member(&app, free.as_str(), "owner").await;
    let browser = Browser::start().await;
    let sign_in = |email: String| {
        let browser = &browser;
        let url = app.url("/console/sign-in");
        async move {
            browser.client.goto(&url).await.unwrap();
            browser.fill("#email", &email).await;
            browser.fill("#password", PASSWORD).await;
            browser.click("main button[type=submit]").await;
            browser.wait_for_text("main h1", "Acme").await;
        }
    };

    sign_in(viewer).await;
    browser.click("nav a[href$='/api-keys']").await;
    browser.wait_for_text("main h1", "API keys").await;
    assert!(
        !browser.has("a[href$='/api-keys/new']").await,
        "no create control"
    );
    browser.click("tbody a").await;
    browser.text("main h1").await;
    assert!(
        !browser.has("main form").await,
        "no mutating control on a key"
    );
    browser.screenshot("11-viewer-key").await;
    let keys = format!("/console/orgs/{starter}/api-keys");
    let fields = [("name", "mine"), ("scopes", "payouts:read")];
    post_by_hand(&browser, &keys, &fields).await;
    browser.wait_for_text("main h1", "Not allowed").await;
    assert!(
        browser.text("main").await.contains("form has expired"),
        "no CSRF token"
    );
    browser.client.back().await.unwrap();
    let csrf = browser
        .client
        .find(Locator::Css("header input[name=csrf]"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap()
        .unwrap();
    let with_token = [("csrf", csrf.as_str()), fields[0], fields[1]];
    post_by_hand(&browser, &keys, &with_token).await;
    browser
        .wait_for_text(
            "main .notice",
            "Your role in this organisation does not allow this.",
        )
        .await;
    browser.click("header form button").await;

    sign_in(owner).await;
    assert!(browser
        .text("main")
        .await
        .contains("API access requires Starter or higher"));
    browser.click("nav a[href$='/api-keys']").await;
    browser.wait_for_text("main h1", "API keys").await;
    assert!(
        browser.has("button[disabled]").await,
        "creation is disabled"
    );
    browser.screenshot("12-free-plan").await;

    clock.advance(std::time::Duration::from_secs(31 * 60));
    browser.client.refresh().await.unwrap();
    browser.wait_for_text("h1", "Sign in").await;
    assert_eq!(browser.path().await, "/console/sign-in");
    browser.close().await;
}
