//! The developer console over HTTP, as a browser without JavaScript uses
//! it: password links, sign-in and sessions, API keys made and changed in
//! pages and checked at `/v1/keys/verify`, and what a stranger, a viewer
//! or another organisation's member cannot do.

use std::time::Duration;

use keyward::domain::{ApiKeyId, OrgId, Plan};
use keyward::storage::{ApiKeyQuery, PageRequest};
use keyward::time::ManualClock;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::console_client::{member, signed_in, ConsoleClient, Page, PASSWORD};
use crate::support::helpers::{spawn_app_on, spawn_app_with, Backend, TestApp, API, ROOT_TOKEN};

on_both_backends!(
    a_password_link_works_once_and_signs_in,
    wrong_passwords_and_unknown_emails_get_one_answer,
    a_key_made_in_the_console_is_shown_once_and_checked_everywhere,
    forms_need_the_session_token_and_our_own_origin,
    a_viewer_sees_no_controls_and_is_refused,
    a_free_organisation_cannot_create_keys,
    an_idle_session_is_sent_back_to_sign_in,
    failed_sign_ins_from_one_address_do_not_lock_out_another,
    a_link_used_twice_at_once_sets_one_password,
    a_client_made_in_the_console_gets_tokens_with_the_copied_secret,
    owners_invite_members_and_end_their_sessions,
    the_audit_trail_and_usage_show_what_happened,
    owners_set_the_webhook_and_see_its_secret_once,
    owners_change_roles_but_keep_an_owner,
    the_operator_creates_an_organisation_and_its_first_owner,
    key_lists_come_in_pages_of_fifty,
    another_organisation_cannot_take_over_an_invited_user,
    a_key_added_in_the_console_signs_assertions_until_removed,
    key_and_client_pages_show_the_effective_rate_limit,
);

async fn org(app: &TestApp, plan: Plan) -> String {
    app.create_org(plan).await.as_str().to_owned()
}

async fn stored_keys(app: &TestApp, org: &str) -> usize {
    let query = ApiKeyQuery {
        page: PageRequest::everything(),
        status: None,
        expiring_within: None,
        now: 0,
    };
    let org = OrgId::parse(org).unwrap();
    app.store.list_api_keys(&org, &query).await.unwrap().len()
}

/// Creates a key through the console's form; the answer.
async fn create_key(browser: &ConsoleClient, org: &str, fields: &[(&str, &str)]) -> Page {
    let form = browser
        .get(&format!("/console/orgs/{org}/api-keys/new"))
        .await;
    let csrf = form.csrf();
    let mut sent = vec![("csrf", csrf.as_str())];
    sent.extend_from_slice(fields);
    browser
        .post(&format!("/console/orgs/{org}/api-keys"), &sent)
        .await
}

async fn a_password_link_works_once_and_signs_in(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let org = org(&app, Plan::Starter).await;
    let made = crate::support::cli_process::one_json_object(&crate::support::cli_process::keyward(
        &app,
        &[
            "--json",
            "user",
            "create",
            "--org",
            &org,
            "--email",
            " Ada@Example.com ",
            "--role",
            "owner",
        ],
    ));
    assert_eq!(made["email"], "ada@example.com");
    assert_eq!(made["role"], "owner");
    let link = made["password_link"].as_str().unwrap();
    assert!(link.contains("/console/password?token="), "{link}");
    let token = link.split_once("?token=").unwrap().1;

    let browser = ConsoleClient::new(&app);
    let short = browser.set_password(token, "short").await;
    assert_eq!(short.status, 400);
    assert!(
        short.body.contains("at least 12 characters"),
        "{}",
        short.body
    );
    let set = browser.set_password(token, PASSWORD).await;
    assert_eq!(set.status, 200);
    let again = browser.set_password(token, "another long password").await;
    assert_eq!(again.status, 404, "a link sets a password once");
    assert_eq!(
        browser
            .get(&format!("/console/password?token={token}"))
            .await
            .status,
        404
    );

    let answer = browser.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.location(), "/console");
    let cookie = answer.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("keyward-session="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "a loopback http issuer: {cookie}"
    );

    let home = browser.get("/console").await;
    assert_eq!(home.status, 303);
    assert_eq!(home.location(), format!("/console/orgs/{org}"));
    let overview = browser.get(home.location()).await;
    assert_eq!(overview.status, 200);
    assert!(overview.body.contains("Starter"));
    assert!(overview.body.contains("owner"));
    let policy = overview.headers["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(policy.contains("frame-ancestors 'none'") && !policy.contains("unsafe-inline"));
    assert_eq!(overview.headers["referrer-policy"], "same-origin");
    assert_eq!(overview.headers["cache-control"], "no-store");

    let out = browser
        .post("/console/sign-out", &[("csrf", &overview.csrf())])
        .await;
    assert_eq!(out.status, 303);
    let after = browser.get(&format!("/console/orgs/{org}")).await;
    assert_eq!(after.status, 303);
    assert_eq!(after.location(), "/console/sign-in");
}

async fn wrong_passwords_and_unknown_emails_get_one_answer(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let org = org(&app, Plan::Starter).await;
    let email = member(&app, &org, "admin").await;
    let browser = ConsoleClient::new(&app);
    let wrong = browser.sign_in(&email, "not the password at all").await;
    let unknown = browser
        .sign_in("nobody@example.com", "not the password at all")
        .await;
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert_eq!(
        wrong.body.replace(&email, "EMAIL"),
        unknown.body.replace("nobody@example.com", "EMAIL")
    );
    assert!(wrong.headers.get("set-cookie").is_none());
    assert_eq!(browser.get("/console").await.status, 303);
}

async fn a_key_made_in_the_console_is_shown_once_and_checked_everywhere(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let org = org(&app, Plan::Starter).await;
    let rs = app.create_resource_server(&[API]).await;
    let (browser, _) = signed_in(&app, &org, "admin").await;

    let created = create_key(
        &browser,
        &org,
        &[
            ("name", "deploys"),
            ("scopes", "payouts:read"),
            ("rate_limit", ""),
        ],
    )
    .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page = created.location().to_owned();
    let key_id = page.rsplit('/').next().unwrap().to_owned();
    let shown = browser.get(&page).await;
    let key = shown.text_of("new-secret").expect("the key is shown");
    assert!(key.starts_with("kw_"), "{key}");
    assert!(shown.body.contains("shown only this once"));
    let reload = browser.get(&page).await;
    assert_eq!(reload.status, 200);
    assert!(reload.text_of("new-secret").is_none(), "gone on reload");
    assert!(!reload.body.contains(&key));

    let verify = || app.verify_key(&rs, json!({ "key": key }));
    let (_, body) = verify().await;
    assert_eq!(body["code"], "VALID");
    assert_eq!(body["ratelimit"]["limit"], 60, "blank is the default");

    let csrf = reload.csrf();
    let edited = browser
        .post(
            &format!("{page}/edit"),
            &[
                ("csrf", &csrf),
                ("name", "deploys"),
                ("scopes", "payouts:read"),
                ("expires_at", ""),
                ("rate_limit", "100"),
                ("ip_allowlist", ""),
            ],
        )
        .await;
    assert_eq!(edited.status, 303, "{}", edited.body);
    assert_eq!(verify().await.1["ratelimit"]["limit"], 100);

    let off = browser
        .post(
            &format!("{page}/status"),
            &[("csrf", &csrf), ("status", "deactivated")],
        )
        .await;
    assert_eq!(off.status, 303);
    assert_eq!(verify().await.1["code"], "DEACTIVATED");
    let on = browser
        .post(
            &format!("{page}/status"),
            &[("csrf", &csrf), ("status", "active")],
        )
        .await;
    assert_eq!(on.status, 303);
    assert_eq!(verify().await.1["code"], "VALID");

    let mistyped = browser
        .post(
            &format!("{page}/delete"),
            &[("csrf", &csrf), ("confirm", "deploy")],
        )
        .await;
    assert_eq!(mistyped.status, 400);
    assert_eq!(verify().await.1["code"], "VALID", "kept");
    let deleted = browser
        .post(
            &format!("{page}/delete"),
            &[("csrf", &csrf), ("confirm", "deploys")],
        )
        .await;
    assert_eq!(deleted.status, 303);
    assert_eq!(verify().await.1["code"], "NOT_FOUND");

    let (_, events) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/v1/orgs/{org}/audit-events?target_id={key_id}"),
            ROOT_TOKEN,
            None,
        )
        .await;
    let events = events["items"].as_array().unwrap().clone();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "api_key.created",
        "api_key.updated",
        "api_key.deactivated",
        "api_key.activated",
        "api_key.deleted",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    for event in &events {
        let actor = event["actor"].as_str().unwrap();
        assert!(
            actor.starts_with("user:usr_"),
            "the member is the actor: {event}"
        );
    }
    assert!(!Value::Array(events).to_string().contains(&key));
}

async fn forms_need_the_session_token_and_our_own_origin(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let org = org(&app, Plan::Starter).await;
    let (browser, _) = signed_in(&app, &org, "admin").await;
    let form = browser
        .get(&format!("/console/orgs/{org}/api-keys/new"))
        .await;
    let csrf = form.csrf();
    let path = format!("/console/orgs/{org}/api-keys");
    let fields = [("name", "x"), ("scopes", "payouts:read")];

    let without = browser.post(&path, &fields).await;
    assert_eq!(without.status, 403, "no CSRF token: {}", without.body);
    let incomplete = browser.post(&path, &[("csrf", csrf.as_str())]).await;
    assert_eq!(incomplete.status, 400);
    assert!(incomplete.body.contains("The form was not complete"));
    let wrong = browser
        .post(
            &path,
            &[
                ("csrf", "forged"),
                ("name", "x"),
                ("scopes", "payouts:read"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 403);
    let url = format!("{}{path}", app.address);
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "x"),
        ("scopes", "payouts:read"),
    ];
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let response = browser
            .http
            .post(&url)
            .header(header, value)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{header}: {value}");
    }
    assert_eq!(stored_keys(&app, &org).await, 0);
    let ours = browser
        .http
        .post(&url)
        .header("origin", app.address.as_str())
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(ours.status(), 303);
    assert_eq!(stored_keys(&app, &org).await, 1);
}

async fn a_viewer_sees_no_controls_and_is_refused(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let org = org(&app, Plan::Starter).await;
    let (admin, _) = signed_in(&app, &org, "admin").await;
    let made = create_key(
        &admin,
        &org,
        &[("name", "deploys"), ("scopes", "payouts:read")],
    )
    .await;
    let page = made.location().to_owned();

    let (viewer, _) = signed_in(&app, &org, "viewer").await;
    let list = viewer.get(&format!("/console/orgs/{org}/api-keys")).await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("deploys"));
    assert!(!list.body.contains("/api-keys/new"), "no create control");
    let detail = viewer.get(&page).await;
    assert_eq!(detail.status, 200);
    assert!(!detail.body.contains("/edit") && !detail.body.contains("/delete"));
    let csrf = detail.csrf();
    let refused = viewer
        .post(
            &format!("/console/orgs/{org}/api-keys"),
            &[
                ("csrf", &csrf),
                ("name", "mine"),
                ("scopes", "payouts:read"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let off = viewer
        .post(
            &format!("{page}/status"),
            &[("csrf", &csrf), ("status", "deactivated")],
        )
        .await;
    assert_eq!(off.status, 403);
    assert_eq!(stored_keys(&app, &org).await, 1);

    let other = self::org(&app, Plan::Starter).await;
    let elsewhere = viewer.get(&format!("/console/orgs/{other}/api-keys")).await;
    assert_eq!(
        elsewhere.status, 404,
        "another organisation does not exist for them"
    );
    let key_id = ApiKeyId::parse(page.rsplit('/').next().unwrap()).unwrap();
    let across = viewer
        .get(&format!("/console/orgs/{other}/api-keys/{key_id}"))
        .await;
    assert_eq!(across.status, 404);
}

async fn a_free_organisation_cannot_create_keys(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let org = org(&app, Plan::Free).await;
    let (owner, _) = signed_in(&app, &org, "owner").await;
    let overview = owner.get(&format!("/console/orgs/{org}")).await;
    assert!(overview
        .body
        .contains("API access requires Starter or higher"));
    let list = owner.get(&format!("/console/orgs/{org}/api-keys")).await;
    assert!(
        list.body.contains("disabled"),
        "the create control is disabled"
    );
    assert_eq!(
        owner
            .get(&format!("/console/orgs/{org}/api-keys/new"))
            .await
            .status,
        403
    );
    let refused = owner
        .post(
            &format!("/console/orgs/{org}/api-keys"),
            &[
                ("csrf", &list.csrf()),
                ("name", "x"),
                ("scopes", "payouts:read"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("no API access"), "{}", refused.body);
    assert_eq!(stored_keys(&app, &org).await, 0);
}

async fn an_idle_session_is_sent_back_to_sign_in(backend: Backend) {
    let clock = ManualClock::starting_now();
    let app = spawn_app_on(backend, |_| {}, clock.clone()).await;
    let org = org(&app, Plan::Starter).await;
    let (browser, _) = signed_in(&app, &org, "viewer").await;
    let page = format!("/console/orgs/{org}");
    for _ in 0..3 {
        clock.advance(Duration::from_secs(29 * 60));
        assert_eq!(browser.get(&page).await.status, 200, "active: not idle");
    }
    clock.advance(Duration::from_secs(31 * 60));
    let idle = browser.get(&page).await;
    assert_eq!(idle.status, 303);
    assert_eq!(idle.location(), "/console/sign-in");
    clock.advance(Duration::from_secs(60));
    assert_eq!(
        browser.get(&page).await.status,
        303,
        "ended, not only refused"
    );

    let (again, _) = signed_in(&app, &org, "viewer").await;
    for _ in 0..26 {
        clock.advance(Duration::from_secs(29 * 60));
        let status = again.get(&page).await.status;
        if status == 303 {
            return;
        }
    }
    panic!("a session lasts at most 12 hours however active");
}

async fn failed_sign_ins_from_one_address_do_not_lock_out_another(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.trusted_proxies = keyward::domain::TrustedProxies::parse(["127.0.0.1/32"]).unwrap()
    })
    .await;
    let org = org(&app, Plan::Starter).await;
    let email = member(&app, &org, "admin").await;
    let from = |ip: &'static str| {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static(ip));
        ConsoleClient::with_headers(&app, headers)
    };
    let attacker = from("203.0.113.7");
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(
            attacker
                .sign_in(&email, "a guess of the password")
                .await
                .status,
        );
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let refused = attacker.sign_in(&email, PASSWORD).await;
    assert_eq!(
        refused.status, 429,
        "that address waits, right password or not"
    );
    assert!(refused.headers.contains_key("retry-after"));

    let user = from("198.51.100.9");
    assert_eq!(user.sign_in(&email, PASSWORD).await.status, 303);
}

async fn a_link_used_twice_at_once_sets_one_password(backend: Backend) {
    use keyward::domain::{Email, Membership, Name, PasswordLink, Role, User, UserId};
    let app = spawn_app_with(backend, |_| {}).await;
    let org = app.create_org(Plan::Starter).await;
    let now = chrono::Utc::now().timestamp();
    let user = User {
        id: UserId::generate(),
        email: Email::parse("grace@example.com").unwrap(),
        display_name: Name::parse("Grace").unwrap(),
        password_hash: None,
        created_at: now,
    };
    let membership = Membership {
        user_id: user.id.clone(),
        org_id: org.clone(),
        role: Role::Admin,
        created_at: now,
    };
    let link = PasswordLink {
        token_digest: "d".repeat(64),
        user_id: user.id.clone(),
        created_at: now,
        expires_at: now + 60,
    };
    app.store
        .insert_user(&user, &membership, Some(&link))
        .await
        .unwrap();
    let duplicate = app.store.insert_user(&user, &membership, None).await;
    assert!(matches!(
        duplicate,
        Err(keyward::storage::StorageError::Conflict)
    ));
    let uses = futures_util::future::join_all(
        ["hash-one", "hash-two"]
            .map(|hash| app.store.use_password_link(&link.token_digest, hash, now)),
    )
    .await;
    assert_eq!(uses.iter().filter(|u| u.is_ok()).count(), 1, "{uses:?}");
    let stored = app.store.get_user(&user.id).await.unwrap();
    assert!(matches!(
        stored.password_hash.as_deref(),
        Some("hash-one" | "hash-two")
    ));
    let expired = app
        .store
        .password_link_user(&link.token_digest, now + 61)
        .await
        .unwrap();
    assert_eq!(expired, None);
    let memberships = app.store.memberships_of(&user.id).await.unwrap();
    assert_eq!(memberships, vec![membership]);
}

#[tokio::test]
async fn the_console_can_be_switched_off() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.console_enabled = false).await;
    let browser = ConsoleClient::new(&app);
    for path in [
        "/console",
        "/console/sign-in",
        "/console/assets/console.css",
    ] {
        assert_eq!(browser.get(path).await.status, 404, "{path}");
    }
}

async fn a_client_made_in_the_console_gets_tokens_with_the_copied_secret(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let org = org(&app, Plan::Starter).await;
    let (browser, _) = signed_in(&app, &org, "admin").await;
    let form = browser
        .get(&format!("/console/orgs/{org}/clients/new"))
        .await;
    assert_eq!(form.status, 200);
    let created = browser
        .post(
            &format!("/console/orgs/{org}/clients"),
            &[
                ("csrf", &form.csrf()),
                ("name", "billing"),
                ("scopes", "payouts:read"),
                ("audiences", API),
                ("ip_allowlist", "127.0.0.1/32"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page = created.location().to_owned();
    let shown = browser.get(&page).await;
    let id = shown.text_of("client-id").unwrap();
    let secret = shown.text_of("new-secret").unwrap();
    assert!(secret.starts_with("kws_"));
    assert!(
        browser.get(&page).await.text_of("new-secret").is_none(),
        "shown once"
    );
    let token = app.oauth2_token(&id, &secret).await.expect("a token");
    let verified = crate::support::jwt_verify::verify(&app, &token, API).await;
    assert_eq!(verified.unwrap().claims["client_id"], id.as_str());

    let csrf = shown.csrf();
    let rotated = browser
        .post(
            &format!("{page}/rotate"),
            &[("csrf", &csrf), ("grace_period_seconds", "3600")],
        )
        .await;
    assert_eq!(rotated.status, 303);
    let next = browser.get(&page).await.text_of("new-secret").unwrap();
    assert_ne!(next, secret);
    assert!(app.oauth2_token(&id, &next).await.is_ok());
    assert!(
        app.oauth2_token(&id, &secret).await.is_ok(),
        "the old secret overlaps"
    );

    let off = browser
        .post(
            &format!("{page}/status"),
            &[("csrf", &csrf), ("status", "deactivated")],
        )
        .await;
    assert_eq!(off.status, 303);
    assert!(app.oauth2_token(&id, &next).await.is_err());
    let deleted = browser
        .post(
            &format!("{page}/delete"),
            &[("csrf", &csrf), ("confirm", "billing")],
        )
        .await;
    assert_eq!(deleted.status, 303);
    assert_eq!(browser.get(&page).await.status, 404);
    let list = browser.get(&format!("/console/orgs/{org}/clients")).await;
    assert!(list.body.contains("No OAuth clients yet."));
}

async fn owners_invite_members_and_end_their_sessions(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let org = org(&app, Plan::Starter).await;
    let (owner, _) = signed_in(&app, &org, "owner").await;
    let page = owner.get(&format!("/console/orgs/{org}/members")).await;
    assert_eq!(page.status, 200);
    let invited = owner
        .post(
            &format!("/console/orgs/{org}/members"),
            &[
                ("csrf", &page.csrf()),
                ("email", "Grace@Example.com"),
                ("name", "Grace Hopper"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(invited.status, 303, "{}", invited.body);
    let shown = owner.get(&format!("/console/orgs/{org}/members")).await;
    let link = shown
        .text_of("invite-link")
        .expect("the link is shown once");
    assert!(shown.body.contains("grace@example.com") && shown.body.contains("(invited)"));
    let again = owner.get(&format!("/console/orgs/{org}/members")).await;
    assert!(again.text_of("invite-link").is_none());

    let token = link.split_once("?token=").unwrap().1.replace("&amp;", "&");
    let grace = ConsoleClient::new(&app);
    assert_eq!(grace.set_password(&token, PASSWORD).await.status, 200);
    assert_eq!(
        grace.sign_in("grace@example.com", PASSWORD).await.status,
        303
    );
    let seen = grace.get(&format!("/console/orgs/{org}")).await;
    assert!(seen.body.contains("viewer"));
    assert!(!seen.body.contains("/members"), "members are for owners");
    assert_eq!(
        grace
            .get(&format!("/console/orgs/{org}/members"))
            .await
            .status,
        403
    );

    let user_id = app
        .store
        .user_by_email(&keyward::domain::Email::parse("grace@example.com").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let ended = owner
        .post(
            &format!("/console/orgs/{org}/members/{user_id}/end-sessions"),
            &[("csrf", &again.csrf())],
        )
        .await;
    assert_eq!(ended.status, 303);
    assert_eq!(
        grace.get(&format!("/console/orgs/{org}")).await.status,
        303,
        "signed out"
    );

    let duplicate = owner
        .post(
            &format!("/console/orgs/{org}/members"),
            &[
                ("csrf", &again.csrf()),
                ("email", "grace@example.com"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(duplicate.status, 400);
    assert!(duplicate.body.contains("is a member already"));
    let other = self::org(&app, Plan::Starter).await;
    let stranger = owner
        .post(
            &format!("/console/orgs/{org}/members/{user_id}/end-sessions"),
            &[("csrf", &again.csrf())],
        )
        .await;
    assert_eq!(stranger.status, 303, "a member still: allowed");
    let elsewhere = owner
        .post(
            &format!("/console/orgs/{other}/members/{user_id}/end-sessions"),
            &[("csrf", &again.csrf())],
        )
        .await;
    assert_eq!(
        elsewhere.status, 404,
        "another organisation is out of reach"
    );
}

async fn the_audit_trail_and_usage_show_what_happened(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let org = org(&app, Plan::Starter).await;
    let rs = app.create_resource_server(&[API]).await;
    let (admin, _) = signed_in(&app, &org, "admin").await;
    let created = create_key(
        &admin,
        &org,
        &[
            ("name", "deploys"),
            ("scopes", "payouts:read"),
            ("rate_limit", "2"),
        ],
    )
    .await;
    let page = created.location().to_owned();
    let key = admin.get(&page).await.text_of("new-secret").unwrap();
    let codes: Vec<Value> =
        futures_util::future::join_all((0..3).map(|_| app.verify_key(&rs, json!({ "key": key }))))
            .await
            .into_iter()
            .map(|(_, body)| body["code"].clone())
            .collect();
    assert_eq!(
        codes.iter().filter(|c| *c == "RATE_LIMITED").count(),
        1,
        "{codes:?}"
    );
    app.usage_written().await;
    let detail = admin.get(&page).await;
    assert!(detail.body.contains("<svg"), "a chart");
    assert!(
        detail
            .body
            .contains("2 requests served and 1 rate-limited in the last 24 hours"),
        "{}",
        detail.body
    );
    let month = admin.get(&format!("{page}?usage=month")).await;
    assert!(month.body.contains("in the last 30 days"));

    let trail = admin.get(&format!("/console/orgs/{org}/audit")).await;
    assert_eq!(trail.status, 200);
    assert!(trail.body.contains("api_key.created"));
    assert!(trail.body.contains("user:usr_"));
    let filtered = admin
        .get(&format!("/console/orgs/{org}/audit?action=api_key.deleted"))
        .await;
    assert!(filtered.body.contains("No events match."));
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let dated = admin
        .get(&format!(
            "/console/orgs/{org}/audit?from={today}&to={today}&action=api_key.created"
        ))
        .await;
    assert!(dated.body.contains("api_key.created"));
    let before = admin
        .get(&format!("/console/orgs/{org}/audit?to=2020-01-01"))
        .await;
    assert!(before.body.contains("No events match."));
    assert_eq!(
        admin
            .get(&format!("/console/orgs/{org}/audit?from=yesterday"))
            .await
            .status,
        400
    );
}

async fn owners_set_the_webhook_and_see_its_secret_once(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let org = org(&app, Plan::Starter).await;
    let (owner, _) = signed_in(&app, &org, "owner").await;
    let path = format!("/console/orgs/{org}/webhooks");
    let page = owner.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("/notifications?kind=webhook"),
        "deliveries are listed there"
    );
    let csrf = page.csrf();
    let refused = owner
        .post(&path, &[("csrf", &csrf), ("url", "http://127.0.0.1/hook")])
        .await;
    assert_eq!(refused.status, 400, "a private address is refused");
    let set = owner
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("url", "https://hooks.example.com/keyward"),
            ],
        )
        .await;
    assert_eq!(set.status, 303, "{}", set.body);
    let shown = owner.get(&path).await;
    let secret = shown
        .text_of("new-secret")
        .expect("the secret is shown once");
    assert!(secret.starts_with("kwhs_"));
    assert!(shown.body.contains("https://hooks.example.com/keyward"));
    assert!(owner.get(&path).await.text_of("new-secret").is_none());
    let rotated = owner
        .post(&format!("{path}/rotate-secret"), &[("csrf", &csrf)])
        .await;
    assert_eq!(rotated.status, 303);
    let next = owner.get(&path).await.text_of("new-secret").unwrap();
    assert_ne!(next, secret);

    let (admin, _) = signed_in(&app, &org, "admin").await;
    assert_eq!(admin.get(&path).await.status, 403, "owners only");
}

async fn owners_change_roles_but_keep_an_owner(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let org = org(&app, Plan::Starter).await;
    let (owner, owner_email) = signed_in(&app, &org, "owner").await;
    let (viewer, viewer_email) = signed_in(&app, &org, "viewer").await;
    let id_of = |email: String| {
        let store = app.store.clone();
        async move {
            let email = keyward::domain::Email::parse(&email).unwrap();
            store.user_by_email(&email).await.unwrap().unwrap().id
        }
    };
    let (owner_id, viewer_id) = (id_of(owner_email).await, id_of(viewer_email).await);
    let csrf = owner
        .get(&format!("/console/orgs/{org}/members"))
        .await
        .csrf();
    let members = |user: &keyward::domain::UserId, action: &str| {
        format!("/console/orgs/{org}/members/{user}/{action}")
    };

    let last = owner
        .post(
            &members(&owner_id, "role"),
            &[("csrf", &csrf), ("role", "admin")],
        )
        .await;
    assert_eq!(last.status, 400, "the last owner stays owner");
    assert!(last.body.contains("at least one owner"));
    assert_eq!(
        owner
            .post(&members(&owner_id, "remove"), &[("csrf", &csrf)])
            .await
            .status,
        400
    );

    let promoted = owner
        .post(
            &members(&viewer_id, "role"),
            &[("csrf", &csrf), ("role", "admin")],
        )
        .await;
    assert_eq!(promoted.status, 303);
    let keys = viewer.get(&format!("/console/orgs/{org}/api-keys")).await;
    assert!(
        keys.body.contains("/api-keys/new"),
        "an admin now: {}",
        keys.body
    );
    let bad = owner
        .post(
            &members(&viewer_id, "role"),
            &[("csrf", &csrf), ("role", "root")],
        )
        .await;
    assert_eq!(bad.status, 400);

    let removed = owner
        .post(&members(&viewer_id, "remove"), &[("csrf", &csrf)])
        .await;
    assert_eq!(removed.status, 303);
    assert_eq!(
        viewer.get(&format!("/console/orgs/{org}")).await.status,
        404,
        "no longer a member"
    );
    let gone = owner
        .post(&members(&viewer_id, "remove"), &[("csrf", &csrf)])
        .await;
    assert_eq!(gone.status, 404);
}

async fn the_operator_creates_an_organisation_and_its_first_owner(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let operator = ConsoleClient::new(&app);
    assert_eq!(
        operator.get("/console/operator").await.location(),
        "/console/operator/sign-in"
    );
    let wrong = operator
        .post(
            "/console/operator/sign-in",
            &[("token", "kwr_not-the-root-token")],
        )
        .await;
    assert_eq!(wrong.status, 401);
    let signed = operator
        .post("/console/operator/sign-in", &[("token", ROOT_TOKEN)])
        .await;
    assert_eq!(signed.status, 303);
    let cookie = signed.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("keyward-operator=") && cookie.contains("HttpOnly"),
        "{cookie}"
    );

    let home = operator.get("/console/operator").await;
    assert_eq!(home.status, 200);
    let csrf = home.csrf();
    let forged = operator
        .post(
            "/console/operator/orgs",
            &[("csrf", "x"), ("name", "Globex"), ("plan", "starter")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let created = operator
        .post(
            "/console/operator/orgs",
            &[
                ("csrf", &csrf),
                ("name", "Globex"),
                ("plan", "professional"),
            ],
        )
        .await;
    assert_eq!(created.status, 303);
    let listed = operator.get("/console/operator").await;
    assert!(listed.body.contains("Globex") && listed.body.contains("Professional"));
    let marker = "action=\"/console/operator/orgs/";
    let start = listed.body.find(marker).unwrap() + marker.len();
    let org = listed.body[start..].split('/').next().unwrap().to_owned();

    let added = operator
        .post(
            &format!("/console/operator/orgs/{org}/owners"),
            &[("csrf", &csrf), ("email", "hedy@example.com")],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let link = operator
        .get("/console/operator")
        .await
        .text_of("invite-link")
        .unwrap();
    let token = link.split_once("?token=").unwrap().1.to_owned();
    assert!(operator
        .get("/console/operator")
        .await
        .text_of("invite-link")
        .is_none());
    assert_eq!(
        operator
            .get(&format!("/console/orgs/{org}"))
            .await
            .location(),
        "/console/sign-in",
        "the operator's session is not a member's"
    );

    let owner = ConsoleClient::new(&app);
    assert_eq!(owner.set_password(&token, PASSWORD).await.status, 200);
    assert_eq!(
        owner.sign_in("hedy@example.com", PASSWORD).await.status,
        303
    );
    let overview = owner.get(&format!("/console/orgs/{org}")).await;
    assert!(overview.body.contains("Globex") && overview.body.contains("owner"));
    assert_eq!(
        owner.get("/console/operator").await.location(),
        "/console/operator/sign-in",
        "a member's session is not the operator's"
    );
    let (_, events) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/v1/orgs/{org}/audit-events"),
            ROOT_TOKEN,
            None,
        )
        .await;
    let actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"organisation.created") && actions.contains(&"member.invited"),
        "{actions:?}"
    );

    let out = operator
        .post("/console/operator/sign-out", &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status, 303);
    assert_eq!(operator.get("/console/operator").await.status, 303);
}

async fn key_lists_come_in_pages_of_fifty(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let org = org(&app, Plan::Enterprise).await;
    let org_id = OrgId::parse(&org).unwrap();
    for _ in 0..51 {
        app.create_api_key(&org_id, &["payouts:read"], |_| {})
            .await
            .unwrap();
    }
    let (viewer, _) = signed_in(&app, &org, "viewer").await;
    let first = viewer
        .get(&format!("/console/orgs/{org}/api-keys?status=active"))
        .await;
    let rows = |page: &Page| page.body.matches("<code>kw_").count();
    assert_eq!(rows(&first), 50);
    let marker = "href=\"";
    let next = first.body[..first.body.find(">Next page<").unwrap()]
        .rsplit(marker)
        .next()
        .unwrap();
    let next = next.trim_end_matches('"').replace("&amp;", "&");
    assert!(
        next.contains("status=active") && next.contains("after="),
        "{next}"
    );
    let second = viewer.get(&next).await;
    assert_eq!(rows(&second), 1);
    assert!(!second.body.contains("Next page"));
}

/// Invites carol@example.com as an admin of `org`; the link shown, if any.
async fn invite_carol(browser: &ConsoleClient, org: &str) -> Option<String> {
    let members = format!("/console/orgs/{org}/members");
    let csrf = browser.get(&members).await.csrf();
    let fields = [
        ("csrf", csrf.as_str()),
        ("email", "carol@example.com"),
        ("role", "admin"),
    ];
    let sent = browser.post(&members, &fields).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    browser.get(&members).await.text_of("invite-link")
}

async fn another_organisation_cannot_take_over_an_invited_user(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let victim_org = org(&app, Plan::Starter).await;
    let other_org = org(&app, Plan::Starter).await;
    let (victim_owner, _) = signed_in(&app, &victim_org, "owner").await;
    let (other_owner, _) = signed_in(&app, &other_org, "owner").await;
    let first = invite_carol(&victim_owner, &victim_org)
        .await
        .expect("a new user's link");
    let second = invite_carol(&other_owner, &other_org).await;
    assert_eq!(
        second, None,
        "no link for a user another organisation invited"
    );

    let token = first.split_once("?token=").unwrap().1.to_owned();
    let carol = ConsoleClient::new(&app);
    assert_eq!(carol.set_password(&token, PASSWORD).await.status, 200);
    assert_eq!(
        carol.sign_in("carol@example.com", PASSWORD).await.status,
        303
    );
    let home = carol.get("/console").await;
    assert_eq!(home.status, 200, "a member of both: {}", home.body);
}

async fn a_key_added_in_the_console_signs_assertions_until_removed(backend: Backend) {
    use crate::support::client_keys::ClientKeyPair;
    let app = spawn_app_with(backend, |_| {}).await;
    let org = org(&app, Plan::Starter).await;
    let client = app
        .create_client_in(
            &keyward::domain::OrgId::parse(&org).unwrap(),
            &["payouts:read"],
            &[],
            None,
        )
        .await;
    let (browser, _) = signed_in(&app, &org, "admin").await;
    let page = format!("/console/orgs/{org}/clients/{}", client.id);
    let shown = browser.get(&page).await;
    assert!(shown.body.contains("No keys registered."), "{}", shown.body);
    let csrf = shown.csrf();

    let key = ClientKeyPair::es256("console-key");
    let added = browser
        .post(
            &format!("{page}/keys"),
            &[("csrf", &csrf), ("key", &key.jwk.to_string()), ("kid", "")],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    assert!(browser.get(&page).await.body.contains("console-key"));
    let refused = browser
        .post(
            &format!("{page}/keys"),
            &[("csrf", &csrf), ("key", "not a key"), ("kid", "")],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("PEM"), "{}", refused.body);

    let assertion = key.assertion(&client.id, &app.url("/oauth/token"));
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    let token = |form: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            app.http
                .post(app.url("/oauth/token"))
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let owned = |f: &[(&'static str, &str)]| {
        f.iter()
            .map(|(k, v)| (*k, v.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(token(owned(&form)).await, 200);

    // Held to private_key_jwt from the console, the secret stops working.
    let held = browser
        .post(
            &format!("{page}/auth-method"),
            &[("csrf", &csrf), ("method", "private_key_jwt")],
        )
        .await;
    assert_eq!(held.status, 303, "{}", held.body);
    assert!(app.oauth2_token(&client.id, &client.secret).await.is_err());
    assert!(browser
        .get(&page)
        .await
        .body
        .contains("<strong>private_key_jwt</strong>"));

    // Requiring DPoP from the console refuses a request without a proof.
    let required = browser
        .post(
            &format!("{page}/auth-method"),
            &[("csrf", &csrf), ("method", ""), ("require_dpop", "on")],
        )
        .await;
    assert_eq!(required.status, 303, "{}", required.body);
    assert!(browser
        .get(&page)
        .await
        .body
        .contains("required: every token is bound"));
    let refused = app.oauth2_token(&client.id, &client.secret).await;
    assert!(refused.unwrap_err().contains("invalid_dpop_proof"));
    app.dpop_token(&client, &ClientKeyPair::es256("dpop"), &[])
        .await;

    let removed = browser
        .post(
            &format!("{page}/keys/remove"),
            &[("csrf", &csrf), ("kid", "console-key")],
        )
        .await;
    assert_eq!(removed.status, 303);
    let again = key.assertion(&client.id, &app.url("/oauth/token"));
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", again.as_str()),
    ];
    assert_eq!(token(owned(&form)).await, 401);
}

/// The key and client pages show the limit that applies and where it comes
/// from; a blank rate limit in the edit form drops the key's own.
async fn key_and_client_pages_show_the_effective_rate_limit(backend: Backend) {
    let app = spawn_app_with(backend, crate::tier_limits::tiers).await;
    let org = org(&app, Plan::Starter).await;
    let (browser, _) = signed_in(&app, &org, "admin").await;
    let created = create_key(&browser, &org, &[("name", "free tier"), ("scopes", "free")]).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page = created.location().to_owned();
    let shown = browser.get(&page).await;
    assert_eq!(
        shown.text_of("rate-limit").as_deref(),
        Some("10 per minute")
    );
    assert!(
        shown.body.contains("the tier of scope <code>free</code>"),
        "{}",
        shown.body
    );
    let list = browser.get(&format!("/console/orgs/{org}/api-keys")).await;
    assert!(
        list.body.contains("<td class=\"optional\">10</td>"),
        "{}",
        list.body
    );

    let edit = |rate: &'static str| {
        let (browser, page, csrf) = (&browser, &page, shown.csrf());
        async move {
            let fields = [
                ("csrf", csrf.as_str()),
                ("name", "free tier"),
                ("scopes", "free"),
                ("expires_at", ""),
                ("rate_limit", rate),
                ("ip_allowlist", ""),
            ];
            let edited = browser.post(&format!("{page}/edit"), &fields).await;
            assert_eq!(edited.status, 303, "{}", edited.body);
            browser.get(page).await
        }
    };
    let own = edit("25").await;
    assert_eq!(own.text_of("rate-limit").as_deref(), Some("25 per minute"));
    assert!(own.body.contains("(its own)"));
    let field = |value: &str| format!(r#"name="rate_limit" min="1" max="10000" value="{value}""#);
    assert!(own.body.contains(&field("25")), "the form shows its own");
    let back = edit("").await;
    assert_eq!(back.text_of("rate-limit").as_deref(), Some("10 per minute"));
    assert!(back.body.contains(&field("")), "and blank once dropped");

    for (scopes, limit, source) in [
        (
            "ops",
            "100 per minute",
            "the tier of scope <code>deployment</code>",
        ),
        ("payouts:read", "no limit", "the default"),
    ] {
        let form = browser
            .get(&format!("/console/orgs/{org}/clients/new"))
            .await;
        let fields = [
            ("csrf", form.csrf()),
            ("name", "c".into()),
            ("scopes", scopes.into()),
        ];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let made = browser
            .post(&format!("/console/orgs/{org}/clients"), &fields)
            .await;
        assert_eq!(made.status, 303, "{}", made.body);
        let client = browser.get(made.location()).await;
        assert_eq!(client.text_of("rate-limit").as_deref(), Some(limit));
        assert!(client.body.contains(source), "{}", client.body);
    }
}
