//! The management API's API keys: lifecycle, isolation, plan limits, lists
//! and bad input.

use keyward::domain::{OrgId, Plan};
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, Backend, TestApp, API, ROOT_TOKEN};

const KEYS_RW: &[&str] = &["keyward:keys:read", "keyward:keys:write"];
/// An admin that may manage keys and grant the data scopes the tests use:
/// an admin gives a key only scopes it holds itself.
const KEYS_ADMIN: &[&str] = &["keyward:keys:write", "payouts:write", "x:read"];

fn keys_path(org: &OrgId) -> String {
    format!("/admin/v1/orgs/{org}/api-keys")
}

async fn create_key(app: &TestApp, org: &OrgId, token: &str, body: Value) -> Value {
    let (status, key) = app
        .admin(Method::POST, &keys_path(org), token, Some(body))
        .await;
    assert_eq!(status, 201, "{key}");
    key
}

async fn verify(app: &TestApp, rs: &crate::support::helpers::TestClient, key: &Value) -> Value {
    app.verify_key(rs, json!({ "key": key["key"] })).await.1
}

async fn an_admin_runs_a_key_through_its_whole_life(backend: Backend) {
    let app = spawn_app(backend).await;
    let rs = app.create_resource_server(&[API]).await;
    let org = app.create_org(Plan::Enterprise).await;
    let token = app.admin_token(&org, KEYS_ADMIN).await;

    let created = create_key(
        &app,
        &org,
        &token,
        json!({"name": "CI deploys", "scopes": ["payouts:write"], "rate_limit_per_minute": 120,
               "ip_allowlist": ["203.0.113.0/24"], "metadata": {"team": "platform"}}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["key"].as_str().unwrap();
    assert!(secret.starts_with(created["prefix"].as_str().unwrap()));
    assert_eq!(created["status"], "active");
    assert_eq!(created["rate_limit_per_minute"], 120);
    assert_eq!(created["request_count"], 0);
    assert!(created["last_used_at"].is_null());

    let key_path = format!("{}/{id}", keys_path(&org));
    let (_, fetched) = app.admin(Method::GET, &key_path, &token, None).await;
    let (_, listed) = app.admin(Method::GET, &keys_path(&org), &token, None).await;
    for shown in [&fetched, &listed["items"][0]] {
        assert_eq!(shown["id"], id.as_str());
        assert!(shown.get("key").is_none(), "the key is shown only once");
        assert!(!shown.to_string().contains(secret));
        assert!(!shown.to_string().contains("argon2"));
        assert_eq!(shown["metadata"], json!({"team": "platform"}));
        assert_eq!(shown["ip_allowlist"], json!(["203.0.113.0/24"]));
    }

    let from = |ip: &str| json!({ "key": secret, "client_ip": ip });
    assert_eq!(
        app.verify_key(&rs, from("203.0.113.1")).await.1["code"],
        "VALID"
    );
    let (status, patched) = app
        .admin(
            Method::PATCH,
            &key_path,
            &token,
            Some(json!({"ip_allowlist": [], "name": "CI"})),
        )
        .await;
    assert_eq!((status, patched["name"].as_str()), (200, Some("CI")));
    let anywhere = json!({ "key": secret, "client_ip": "192.0.2.1" });
    assert_eq!(app.verify_key(&rs, anywhere).await.1["code"], "VALID");

    let (status, off) = app
        .admin(
            Method::POST,
            &format!("{key_path}/deactivate"),
            &token,
            None,
        )
        .await;
    assert_eq!((status, off["status"].as_str()), (200, Some("deactivated")));
    assert_eq!(verify(&app, &rs, &created).await["code"], "DEACTIVATED");
    assert_eq!(
        app.introspect(&rs, secret, &[]).await.1,
        json!({"active": false})
    );
    let (_, on) = app
        .admin(Method::POST, &format!("{key_path}/activate"), &token, None)
        .await;
    assert_eq!(on["status"], "active");
    assert_eq!(verify(&app, &rs, &created).await["code"], "VALID");

    let (status, rolled) = app
        .admin(
            Method::POST,
            &format!("{key_path}/roll"),
            &token,
            Some(json!({"grace_period_seconds": 3600})),
        )
        .await;
    assert_eq!(status, 201, "{rolled}");
    assert_ne!(rolled["id"], id.as_str());
    assert_eq!(rolled["scopes"], json!(["payouts:write"]));
    assert_eq!(rolled["rate_limit_per_minute"], 120);
    assert_eq!(verify(&app, &rs, &rolled).await["code"], "VALID");
    assert_eq!(
        verify(&app, &rs, &created).await["code"],
        "VALID",
        "in its grace period"
    );
    assert!(rolled["previous"]["expires_at"].is_string());

    let rolled_path = format!("{}/{}", keys_path(&org), rolled["id"].as_str().unwrap());
    let (_, again) = app
        .admin(
            Method::POST,
            &format!("{rolled_path}/roll"),
            &token,
            Some(json!({"grace_period_seconds": 0})),
        )
        .await;
    assert_eq!(
        verify(&app, &rs, &rolled).await["code"],
        "EXPIRED",
        "no grace"
    );
    assert_eq!(verify(&app, &rs, &again).await["code"], "VALID");

    let (status, _) = app.admin(Method::DELETE, &key_path, &token, None).await;
    assert_eq!(status, 204);
    assert_eq!(
        verify(&app, &rs, &created).await,
        json!({"valid": false, "code": "NOT_FOUND"})
    );
    let (status, _) = app.admin(Method::GET, &key_path, &token, None).await;
    assert_eq!(status, 404);
}

async fn one_organisation_cannot_see_or_touch_anothers_keys(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_org(Plan::Enterprise).await;
    let b = app.create_org(Plan::Enterprise).await;
    let a_token = app.admin_token(&a, KEYS_ADMIN).await;
    let b_token = app.admin_token(&b, KEYS_ADMIN).await;
    let a_key = create_key(
        &app,
        &a,
        &a_token,
        json!({"name": "a", "scopes": ["x:read"]}),
    )
    .await;
    // An API key with management scopes is an admin credential too.
    let b_admin_key = create_key(&app, &b, &b_token, json!({"name": "b", "scopes": KEYS_RW})).await;
    let b_key = b_admin_key["key"].as_str().unwrap();
    let (status, own) = app.admin(Method::GET, &keys_path(&b), b_key, None).await;
    assert_eq!(
        (status, own["items"].as_array().map(Vec::len)),
        (200, Some(1))
    );

    let a_key_path = format!("{}/{}", keys_path(&a), a_key["id"].as_str().unwrap());
    for credential in [b_token.as_str(), b_key] {
        for (method, path, body) in [
            (Method::GET, keys_path(&a), None),
            (
                Method::POST,
                keys_path(&a),
                Some(json!({"name": "x", "scopes": ["x:read"]})),
            ),
            (Method::GET, a_key_path.clone(), None),
            (
                Method::PATCH,
                a_key_path.clone(),
                Some(json!({"name": "stolen"})),
            ),
            (Method::POST, format!("{a_key_path}/deactivate"), None),
            (Method::POST, format!("{a_key_path}/roll"), None),
            (Method::DELETE, a_key_path.clone(), None),
            (Method::GET, format!("/admin/v1/orgs/{a}"), None),
        ] {
            let (status, problem) = app.admin(method.clone(), &path, credential, body).await;
            assert_eq!(
                (status, problem["code"].as_str()),
                (404, Some("NOT_FOUND")),
                "{method} {path}"
            );
        }
    }
    let (_, untouched) = app.admin(Method::GET, &a_key_path, &a_token, None).await;
    assert_eq!(untouched["name"], "a");
    assert_eq!(untouched["status"], "active");

    let reader = app.admin_token(&a, &["keyward:keys:read"]).await;
    let (status, problem) = app
        .admin(
            Method::POST,
            &keys_path(&a),
            &reader,
            Some(json!({"name": "x", "scopes": ["x:read"]})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(problem["code"], "INSUFFICIENT_SCOPE");
    assert_eq!(problem["required"], "keyward:keys:write");
}

async fn plans_limit_keys_at_the_exact_count(backend: Backend) {
    let app = spawn_app(backend).await;
    let starter = app.create_org(Plan::Starter).await;
    let body = json!({"name": "k", "scopes": ["x:read"]});
    for _ in 0..2 {
        create_key(&app, &starter, ROOT_TOKEN, body.clone()).await;
    }
    let (status, problem) = app
        .admin(
            Method::POST,
            &keys_path(&starter),
            ROOT_TOKEN,
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("PLAN_LIMIT_REACHED"))
    );

    let free = app.create_org(Plan::Free).await;
    let (status, problem) = app
        .admin(Method::POST, &keys_path(&free), ROOT_TOKEN, Some(body))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("API_ACCESS_NOT_AVAILABLE"))
    );
}

async fn lists_filter_and_paginate(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let soon = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let later = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let expiring = create_key(
        &app,
        &org,
        ROOT_TOKEN,
        json!({"name": "soon", "scopes": ["x:read"], "expires_at": soon}),
    )
    .await;
    create_key(
        &app,
        &org,
        ROOT_TOKEN,
        json!({"name": "later", "scopes": ["x:read"], "expires_at": later}),
    )
    .await;
    let off = create_key(
        &app,
        &org,
        ROOT_TOKEN,
        json!({"name": "off", "scopes": ["x:read"]}),
    )
    .await;
    let off_path = format!(
        "{}/{}/deactivate",
        keys_path(&org),
        off["id"].as_str().unwrap()
    );
    app.admin(Method::POST, &off_path, ROOT_TOKEN, None).await;

    // Keys made within one second list in id order: compare as sets.
    let names = |list: &Value| -> Vec<String> {
        let mut names: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let get = |query: &str| {
        let path = format!("{}?{query}", keys_path(&org));
        let app = &app;
        async move { app.admin(Method::GET, &path, ROOT_TOKEN, None).await }
    };
    assert_eq!(names(&get("expiring_within=7d").await.1), ["soon"]);
    assert_eq!(names(&get("status=deactivated").await.1), ["off"]);
    assert_eq!(names(&get("status=active").await.1), ["later", "soon"]);
    assert_eq!(expiring["status"], "active");

    let (_, first) = get("limit=2").await;
    assert_eq!(names(&first).len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, rest) = get(&format!("limit=2&cursor={cursor}")).await;
    assert!(rest["next_cursor"].is_null());
    let mut all = [names(&first), names(&rest)].concat();
    all.sort();
    assert_eq!(all, ["later", "off", "soon"]);

    for bad in [
        "limit=0",
        "limit=201",
        "status=bogus",
        "expiring_within=7x",
        // A multi-byte unit once split a character in two and panicked.
        "expiring_within=7%C3%A9",
        "cursor=%%%",
        "unknown=1",
    ] {
        let (status, problem) = get(bad).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (400, Some("INVALID_REQUEST")),
            "{bad}"
        );
    }
}

async fn bad_input_gets_400_problems_that_name_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let path = keys_path(&org);
    let past = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let cases = [
        (json!({"scopes": ["x:read"]}), "name"),
        (json!({"name": "k", "scopes": "x:read"}), "scopes"),
        (json!({"name": "k", "scopes": ["bad scope"]}), "scopes"),
        (json!({"name": "k", "scopes": []}), "scopes"),
        (
            json!({"name": "k", "scopes": ["x:read"], "color": "red"}),
            "color",
        ),
        (
            json!({"name": "k", "scopes": ["x:read"], "ip_allowlist": ["10.0.0.0/33"]}),
            "ip_allowlist",
        ),
        (
            json!({"name": "k", "scopes": ["x:read"], "rate_limit_per_minute": 0}),
            "rate_limit_per_minute",
        ),
        (
            json!({"name": "k", "scopes": ["x:read"], "rate_limit_per_minute": 10001}),
            "rate_limit_per_minute",
        ),
        (
            json!({"name": "k", "scopes": ["x:read"], "expires_at": past}),
            "expires_at",
        ),
        (
            json!({"name": "k", "scopes": ["x:read"], "expires_at": "tomorrow"}),
            "expires_at",
        ),
        (
            json!({"name": "k", "scopes": ["x:read"], "metadata": {"blob": "x".repeat(5000)}}),
            "metadata",
        ),
        (
            json!({"name": "k", "scopes": ["x:read"], "metadata": [1]}),
            "metadata",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = app
            .admin(Method::POST, &path, ROOT_TOKEN, Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {problem}");
        assert_eq!(problem["code"], "INVALID_REQUEST");
        assert!(
            problem["field"].as_str().unwrap().starts_with(field),
            "{body}: {problem}"
        );
    }
    let malformed = app
        .http
        .post(app.url(&path))
        .bearer_auth(ROOT_TOKEN)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let text = app
        .http
        .post(app.url(&path))
        .bearer_auth(ROOT_TOKEN)
        .body("name=k")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);
    let (_, list) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
    assert_eq!(list["items"], json!([]), "nothing was stored");
}

/// Rolling, reviving and prolonging keys cannot add usable keys beyond the
/// plan: a key in a roll's grace period is the only overflow, it cannot be
/// made permanent, and chains of rolls stop at twice the limit.
async fn no_path_makes_more_usable_keys_than_the_plan_allows(backend: Backend) {
    let app = spawn_app(backend).await;
    let starter = app.create_org(Plan::Starter).await;
    let now = chrono::Utc::now();
    let lapsed = app
        .create_api_key(&starter, &["x:read"], |k| {
            k.expires_at = Some(now.timestamp() - 60)
        })
        .await
        .unwrap();
    let body = json!({"name": "k", "scopes": ["x:read"]});
    let a = create_key(&app, &starter, ROOT_TOKEN, body.clone()).await;
    let b = create_key(&app, &starter, ROOT_TOKEN, body).await;
    let path = |id: &str| format!("{}/{id}", keys_path(&starter));
    let patch = |id: String, expires_at: Value| {
        let app = &app;
        async move {
            let body = json!({ "expires_at": expires_at });
            let (status, problem) = app
                .admin(Method::PATCH, &path(&id), ROOT_TOKEN, Some(body))
                .await;
            (status, problem["code"].as_str().map(str::to_owned))
        }
    };
    let refused = (403, Some("PLAN_LIMIT_REACHED".to_owned()));
    let in_a_year = (now + chrono::Duration::days(365)).to_rfc3339();
    let in_a_minute = (now + chrono::Duration::minutes(1)).to_rfc3339();

    // Reviving an expired key needs room on the plan.
    assert_eq!(patch(lapsed.id.clone(), Value::Null).await, refused);
    assert_eq!(patch(lapsed.id.clone(), json!(in_a_year)).await, refused);

    // A rolled-out key works through its grace period, no longer.
    let roll = |id: String| {
        let app = &app;
        async move {
            let (status, body) = app
                .admin(
                    Method::POST,
                    &format!("{}/roll", path(&id)),
                    ROOT_TOKEN,
                    None,
                )
                .await;
            (status, body)
        }
    };
    let (status, a2) = roll(a["id"].as_str().unwrap().to_owned()).await;
    assert_eq!(status, 201, "{a2}");
    let a_id = a["id"].as_str().unwrap().to_owned();
    assert_eq!(patch(a_id.clone(), Value::Null).await, refused);
    assert_eq!(patch(a_id.clone(), json!(in_a_year)).await, refused);
    assert_eq!(patch(a_id.clone(), json!(in_a_minute)).await.0, 200);

    // Each key the plan allows may be rolled once at a time.
    let (status, _) = roll(b["id"].as_str().unwrap().to_owned()).await;
    assert_eq!(status, 201);
    let (status, problem) = roll(a2["id"].as_str().unwrap().to_owned()).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("PLAN_LIMIT_REACHED"))
    );
    let (_, usable) = app
        .admin(
            Method::GET,
            &format!("{}?status=active", keys_path(&starter)),
            ROOT_TOKEN,
            None,
        )
        .await;
    assert_eq!(
        usable["items"].as_array().unwrap().len(),
        4,
        "two keys and their grace-period predecessors"
    );

    // With room on the plan, a key is revived.
    let roomy = app.create_org(Plan::Starter).await;
    let lapsed = app
        .create_api_key(&roomy, &["x:read"], |k| {
            k.expires_at = Some(now.timestamp() - 60)
        })
        .await
        .unwrap();
    create_key(
        &app,
        &roomy,
        ROOT_TOKEN,
        json!({"name": "k", "scopes": ["x:read"]}),
    )
    .await;
    let (status, revived) = app
        .admin(
            Method::PATCH,
            &format!("{}/{}", keys_path(&roomy), lapsed.id),
            ROOT_TOKEN,
            Some(json!({"expires_at": null})),
        )
        .await;
    assert_eq!(status, 200, "{revived}");
    let rs = app.create_resource_server(&[API]).await;
    let (_, verdict) = app.verify_key(&rs, json!({"key": lapsed.key})).await;
    assert_eq!(verdict["code"], "VALID");
}

async fn admins_grant_only_what_they_hold(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let token = app.admin_token(&org, KEYS_ADMIN).await;
    for scopes in [
        json!(["*"]),
        json!(["keyward:clients:write"]),
        json!(["wallets:read"]),
    ] {
        let body = json!({"name": "more", "scopes": scopes});
        let (status, problem) = app
            .admin(Method::POST, &keys_path(&org), &token, Some(body))
            .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("INSUFFICIENT_SCOPE")),
            "{scopes}"
        );
        assert!(problem["required"].is_string() && problem["actual"].is_string());
    }
    // payouts:write implies payouts:read, so that may be granted.
    create_key(
        &app,
        &org,
        &token,
        json!({"name": "ok", "scopes": ["payouts:read"]}),
    )
    .await;

    let wide = create_key(
        &app,
        &org,
        ROOT_TOKEN,
        json!({"name": "wide", "scopes": ["*"]}),
    )
    .await;
    let wide_path = format!("{}/{}", keys_path(&org), wide["id"].as_str().unwrap());
    let (status, _) = app
        .admin(Method::POST, &format!("{wide_path}/roll"), &token, None)
        .await;
    assert_eq!(status, 403, "rolling would hand out a wider key");
    let (status, _) = app
        .admin(
            Method::PATCH,
            &wide_path,
            &token,
            Some(json!({"scopes": ["*"]})),
        )
        .await;
    assert_eq!(status, 403);

    let data_only = create_key(
        &app,
        &org,
        ROOT_TOKEN,
        json!({"name": "data", "scopes": ["payouts:read"]}),
    )
    .await;
    let data_key = data_only["key"].as_str().unwrap();
    let (status, problem) = app
        .admin(
            Method::GET,
            &format!("/admin/v1/orgs/{org}"),
            data_key,
            None,
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("INSUFFICIENT_SCOPE"))
    );
}

async fn only_live_keys_roll(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Starter).await;
    let key = create_key(
        &app,
        &org,
        ROOT_TOKEN,
        json!({"name": "k", "scopes": ["x:read"]}),
    )
    .await;
    let path = format!("{}/{}", keys_path(&org), key["id"].as_str().unwrap());
    app.admin(
        Method::POST,
        &format!("{path}/deactivate"),
        ROOT_TOKEN,
        None,
    )
    .await;
    let (status, problem) = app
        .admin(Method::POST, &format!("{path}/roll"), ROOT_TOKEN, None)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("API_KEY_DEACTIVATED"))
    );
    app.admin(Method::POST, &format!("{path}/activate"), ROOT_TOKEN, None)
        .await;

    let mut org_record = app.store.get_organisation(&org).await.unwrap();
    org_record.plan = Plan::Free;
    app.store.update_organisation(&org_record, 0).await.unwrap();
    let (status, problem) = app
        .admin(Method::POST, &format!("{path}/roll"), ROOT_TOKEN, None)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("API_ACCESS_NOT_AVAILABLE"))
    );

    // A body without a JSON content type is refused rather than ignored.
    let text = app
        .http
        .post(app.url(&format!("{path}/roll")))
        .bearer_auth(ROOT_TOKEN)
        .body("{\"grace_period_seconds\": 0}")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);
}

async fn the_admin_api_answers_every_error_as_a_problem(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let big = json!({"name": "k", "scopes": ["x:read"], "metadata": {"blob": "x".repeat(20_000)}});
    let (status, problem) = app
        .admin(Method::POST, &keys_path(&org), ROOT_TOKEN, Some(big))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE"))
    );
    let (status, problem) = app
        .admin(Method::GET, "/admin/v1/nothing-here", ROOT_TOKEN, None)
        .await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("NOT_FOUND")));
    let response = app
        .http
        .put(app.url(&keys_path(&org)))
        .bearer_auth(ROOT_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, HEAD, POST");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let (status, problem) = app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/orgs/{org}"),
            ROOT_TOKEN,
            Some(json!({"webhook_url": "http://169.254.169.254/"})),
        )
        .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (400, Some("webhook_url"))
    );
}

on_both_backends!(
    no_path_makes_more_usable_keys_than_the_plan_allows,
    admins_grant_only_what_they_hold,
    only_live_keys_roll,
    the_admin_api_answers_every_error_as_a_problem,
    an_admin_runs_a_key_through_its_whole_life,
    one_organisation_cannot_see_or_touch_anothers_keys,
    plans_limit_keys_at_the_exact_count,
    lists_filter_and_paginate,
    bad_input_gets_400_problems_that_name_the_field,
);
