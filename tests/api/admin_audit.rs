//! The management API's audit trail: what is recorded, who may read it,
//! that no secret gets in, filters, pages and failed authentications.

use keyward::domain::{ApiKeySecret, OrgId, Plan};
use keyward::metrics::Counters;
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, status_and_json, Backend, TestApp, ROOT_TOKEN};

/// An admin that may do everything the tests drive, and read the trail.
const ADMIN: &[&str] = &[
    "keyward:clients:write",
    "keyward:keys:write",
    "keyward:audit:read",
    "payouts:write",
];

fn audit_path(org: &str) -> String {
    format!("/admin/v1/orgs/{org}/audit-events")
}

/// A management call with an `X-Request-Id`.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
    request_id: &str,
) -> (u16, Value) {
    let mut request = app
        .http
        .request(method, app.url(path))
        .bearer_auth(bearer)
        .header("x-request-id", request_id);
    if let Some(body) = body {
        request = request.json(&body);
    }
    status_and_json(request.send().await.unwrap()).await
}

/// Every event of `org` that `bearer` may read, newest first.
async fn events(app: &TestApp, org: &str, bearer: &str, query: &str) -> Vec<Value> {
    let path = format!("{}?limit=200{query}", audit_path(org));
    let (status, page) = app.admin(Method::GET, &path, bearer, None).await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

fn find<'a>(events: &'a [Value], action: &str, target: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["action"] == action && e["target"]["id"] == target)
        .unwrap_or_else(|| panic!("no {action} of {target} in {events:#?}"))
}

async fn every_management_change_is_recorded(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut secrets = vec![ROOT_TOKEN.to_owned()];
    let orgs = "/admin/v1/orgs";
    let body = json!({"name": "Acme", "plan": "starter"});
    let (status, org) = call(&app, Method::POST, orgs, ROOT_TOKEN, Some(body), "org-1").await;
    assert_eq!(status, 201, "{org}");
    let org_id = org["id"].as_str().unwrap().to_owned();
    let org_path = format!("{orgs}/{org_id}");
    let body = json!({"name": "Acme Ltd", "plan": "enterprise"});
    let (status, _) = call(
        &app,
        Method::PATCH,
        &org_path,
        ROOT_TOKEN,
        Some(body),
        "org-2",
    )
    .await;
    assert_eq!(status, 200);

    let admin = app
        .admin_token(&OrgId::parse(&org_id).unwrap(), ADMIN)
        .await;
    secrets.push(admin.clone());
    let caller = app
        .store
        .list_clients(
            Some(&OrgId::parse(&org_id).unwrap()),
            &keyward::storage::PageRequest::everything(),
        )
        .await
        .unwrap()[0]
        .id
        .as_str()
        .to_owned();
    let go = |method: Method, path: String, body: Option<Value>| {
        let (app, admin) = (&app, admin.clone());
        async move { call(app, method, &path, &admin, body, "step.1_A-b").await }
    };

    let clients = format!("{org_path}/clients");
    let body = json!({"name": "billing", "scopes": ["payouts:write"]});
    let (status, client) = go(Method::POST, clients.clone(), Some(body)).await;
    assert_eq!(status, 201, "{client}");
    secrets.push(client["client_secret"].as_str().unwrap().to_owned());
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let client_path = format!("{clients}/{client_id}");
    go(
        Method::PATCH,
        client_path.clone(),
        Some(json!({"name": "billing-2"})),
    )
    .await;
    let (_, rotated) = go(Method::POST, format!("{client_path}/rotate-secret"), None).await;
    secrets.push(rotated["client_secret"].as_str().unwrap().to_owned());
    for step in ["deactivate", "activate"] {
        assert_eq!(
            go(Method::POST, format!("{client_path}/{step}"), None)
                .await
                .0,
            200
        );
    }
    assert_eq!(go(Method::DELETE, client_path, None).await.0, 204);

    let keys = format!("{org_path}/api-keys");
    let body = json!({"name": "CI", "scopes": ["payouts:write"], "metadata": {"team": "a"}});
    let (status, key) = go(Method::POST, keys.clone(), Some(body)).await;
    assert_eq!(status, 201, "{key}");
    secrets.push(key["key"].as_str().unwrap().to_owned());
    let key_id = key["id"].as_str().unwrap().to_owned();
    let key_path = format!("{keys}/{key_id}");
    let body = json!({"name": "CI deploys", "rate_limit_per_minute": 30});
    assert_eq!(go(Method::PATCH, key_path.clone(), Some(body)).await.0, 200);
    for step in ["deactivate", "activate"] {
        assert_eq!(
            go(Method::POST, format!("{key_path}/{step}"), None).await.0,
            200
        );
    }
    let (status, rolled) = go(Method::POST, format!("{key_path}/roll"), None).await;
    assert_eq!(status, 201, "{rolled}");
    secrets.push(rolled["key"].as_str().unwrap().to_owned());
    let new_key = rolled["id"].as_str().unwrap().to_owned();
    assert_eq!(
        go(Method::DELETE, format!("{keys}/{new_key}"), None)
            .await
            .0,
        204
    );

    let all = events(&app, &org_id, &admin, "").await;
    let by_root = find(&all, "organisation.created", &org_id);
    assert_eq!(by_root["actor"], "root");
    assert_eq!(by_root["request_id"], "org-1");
    assert_eq!(by_root["changes"]["plan"], json!({"new": "starter"}));
    let update = find(&all, "organisation.updated", &org_id);
    assert_eq!(update["request_id"], "org-2");
    assert_eq!(
        update["changes"]["plan"],
        json!({"old": "starter", "new": "enterprise"})
    );
    assert_eq!(
        update["changes"]["name"],
        json!({"old": "Acme", "new": "Acme Ltd"})
    );
    for action in [
        "client.created",
        "client.updated",
        "client.secret_rotated",
        "client.deactivated",
        "client.activated",
        "client.deleted",
    ] {
        let event = find(&all, action, &client_id);
        assert_eq!(event["actor"], format!("client:{caller}"));
        assert_eq!(event["target"]["type"], "client");
        assert_eq!(event["org_id"], org_id.as_str());
        assert_eq!(event["source_ip"], "127.0.0.1");
        assert_eq!(event["request_id"], "step.1_A-b");
        chrono::DateTime::parse_from_rfc3339(event["occurred_at"].as_str().unwrap()).unwrap();
    }
    let changed = &find(&all, "client.updated", &client_id)["changes"];
    assert_eq!(
        changed,
        &json!({"name": {"old": "billing", "new": "billing-2"}})
    );
    let off = &find(&all, "client.deactivated", &client_id)["changes"];
    assert_eq!(
        off["status"],
        json!({"old": "active", "new": "deactivated"})
    );
    for action in [
        "api_key.created",
        "api_key.updated",
        "api_key.deactivated",
        "api_key.activated",
        "api_key.rolled",
    ] {
        let event = find(&all, action, &key_id);
        assert_eq!(event["actor"], format!("client:{caller}"));
        assert_eq!(event["target"]["type"], "api_key");
    }
    find(&all, "api_key.deleted", &new_key);
    let changed = &find(&all, "api_key.updated", &key_id)["changes"];
    assert_eq!(changed["name"], json!({"old": "CI", "new": "CI deploys"}));
    assert_eq!(changed["rate_limit_per_minute"]["new"], 30);
    let rolled = &find(&all, "api_key.rolled", &key_id)["changes"];
    assert_eq!(rolled["rolled_to"]["new"], new_key.as_str());
    let signed_in = find(&all, "admin.authenticated", &format!("client:{caller}"));
    assert_eq!(signed_in["actor"], format!("client:{caller}"));

    let listed = Value::from(all).to_string();
    for secret in &secrets {
        assert!(
            !listed.contains(secret.as_str()),
            "a secret is in the trail"
        );
    }
    assert!(!listed.contains("argon2"), "a hash is in the trail");
}

async fn an_admin_reads_only_its_own_organisations_trail(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_org(Plan::Enterprise).await;
    let b = app.create_org(Plan::Enterprise).await;
    let body = json!({"name": "k", "scopes": ["payouts:write"]});
    for org in [&a, &b] {
        let path = format!("/admin/v1/orgs/{org}/api-keys");
        let (status, _) = app
            .admin(Method::POST, &path, ROOT_TOKEN, Some(body.clone()))
            .await;
        assert_eq!(status, 201);
    }
    let reader = app.admin_token(&a, &["keyward:audit:read"]).await;
    let seen = events(&app, a.as_str(), &reader, "").await;
    assert!(seen.iter().any(|e| e["action"] == "api_key.created"));
    assert!(seen.iter().all(|e| e["org_id"] == a.as_str()), "{seen:#?}");
    let (status, problem) = app
        .admin(Method::GET, &audit_path(b.as_str()), &reader, None)
        .await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("NOT_FOUND")));
    let by_root = events(&app, b.as_str(), ROOT_TOKEN, "").await;
    assert!(by_root.iter().all(|e| e["org_id"] == b.as_str()));
    assert!(!by_root.is_empty());

    let writer = app.admin_token(&a, &["keyward:keys:write"]).await;
    let (status, problem) = app
        .admin(Method::GET, &audit_path(a.as_str()), &writer, None)
        .await;
    assert_eq!(status, 403);
    assert_eq!(problem["code"], "INSUFFICIENT_SCOPE");
    assert_eq!(problem["required"], "keyward:audit:read");
}

async fn filters_and_pages_select_events(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let keys = format!("/admin/v1/orgs/{org}/api-keys");
    let mut ids = Vec::new();
    for name in ["one", "two", "three"] {
        let body = json!({"name": name, "scopes": ["payouts:write"]});
        let (_, key) = app.admin(Method::POST, &keys, ROOT_TOKEN, Some(body)).await;
        ids.push(key["id"].as_str().unwrap().to_owned());
    }
    let body = Some(json!({"name": "uno"}));
    app.admin(
        Method::PATCH,
        &format!("{keys}/{}", ids[0]),
        ROOT_TOKEN,
        body,
    )
    .await;

    let created = events(&app, org.as_str(), ROOT_TOKEN, "&action=api_key.created").await;
    assert_eq!(created.len(), 3);
    let one = events(
        &app,
        org.as_str(),
        ROOT_TOKEN,
        &format!("&target_id={}", ids[0]),
    )
    .await;
    let actions: Vec<&str> = one.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["api_key.updated", "api_key.created"],
        "newest first"
    );

    let hour = chrono::Duration::hours(1);
    let at = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339().replace('+', "%2B");
    let now = chrono::Utc::now();
    let since = format!("&action=api_key.created&since={}", at(now - hour));
    assert_eq!(
        events(&app, org.as_str(), ROOT_TOKEN, &since).await.len(),
        3
    );
    let later = format!("&since={}", at(now + hour));
    assert!(events(&app, org.as_str(), ROOT_TOKEN, &later)
        .await
        .is_empty());
    let earlier = format!("&until={}", at(now - hour));
    assert!(events(&app, org.as_str(), ROOT_TOKEN, &earlier)
        .await
        .is_empty());

    let first = format!(
        "{}?action=api_key.created&limit=2",
        audit_path(org.as_str())
    );
    let (_, page) = app.admin(Method::GET, &first, ROOT_TOKEN, None).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let (_, rest) = app
        .admin(
            Method::GET,
            &format!("{first}&cursor={cursor}"),
            ROOT_TOKEN,
            None,
        )
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    let mut paged: Vec<Value> = page["items"].as_array().unwrap().clone();
    paged.extend(rest["items"].as_array().unwrap().iter().cloned());
    assert_eq!(paged, created, "the pages are the whole list, in order");

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("cursor=nope", "cursor"),
        ("since=yesterday", "since"),
        ("until=2027-13-01T00:00:00Z", "until"),
        ("action=", "action"),
        ("target_id=", "target_id"),
        ("actor=root", "actor"),
    ] {
        let path = format!("{}?{query}", audit_path(org.as_str()));
        let (status, problem) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(problem["field"], field, "{query}");
    }
}

/// The trail's failed authentications, straight from the database: one
/// that names no organisation is not listed by the API.
async fn failures_in_database(app: &TestApp, backend: Backend) -> Vec<String> {
    let sql = "SELECT actor || '|' || COALESCE(org_id, '') || '|' || COALESCE(target_id, '') \
               || '|' || changes || '|' || request_id FROM audit_events \
               WHERE action = 'admin.authentication_failed'";
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.db.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap()
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap()
        }
    }
}

/// Stops the server, which writes the failed authentications of the
/// minute that has not ended yet.
async fn stop(app: &mut TestApp) {
    app.server.stop(true).await;
    app.running.take().unwrap().await.unwrap().unwrap();
}

async fn failed_authentications_are_recorded_without_the_credential(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let wrong = "kwr_not-the-root-token-but-long-enough-0123456789";
    let (status, _) = call(&app, Method::GET, "/admin/v1/orgs", wrong, None, "bad-1").await;
    assert_eq!(status, 401);

    // A key that verifies but is deactivated names its organisation.
    let keys = format!("/admin/v1/orgs/{org}/api-keys");
    let body = json!({"name": "k", "scopes": ["keyward:keys:read"]});
    let (_, key) = app.admin(Method::POST, &keys, ROOT_TOKEN, Some(body)).await;
    let (id, secret) = (key["id"].as_str().unwrap(), key["key"].as_str().unwrap());
    let off = format!("{keys}/{id}/deactivate");
    assert_eq!(app.admin(Method::POST, &off, ROOT_TOKEN, None).await.0, 200);
    let (status, _) = call(&app, Method::GET, &keys, secret, None, "bad-2").await;
    assert_eq!(status, 401);

    stop(&mut app).await;
    let mut rows = failures_in_database(&app, backend).await;
    rows.sort();
    let mut expected = [
        "anonymous|||{\"count\":1}|bad-1".to_owned(),
        format!("anonymous|{org}|key:{id}|{{\"count\":1}}|bad-2"),
    ];
    expected.sort();
    assert_eq!(rows, expected);
    let rows = rows.join("\n");
    for presented in [wrong, secret] {
        assert!(!rows.contains(presented), "{rows}");
    }
}

/// A flood of well-formed API keys that do not exist (their checksum is
/// public) costs no argon2, and the audit trail gains one row per source
/// and minute, with the count, not one per request.
async fn a_flood_of_unknown_keys_runs_no_argon2_and_adds_bounded_audit_rows(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let argon2 = Counters::read(&app.counters.argon2_verifications);
    let flood = 300;
    for n in 0..flood {
        let forged = ApiKeySecret::generate();
        let request_id = format!("flood-{n}");
        let (status, _) = call(
            &app,
            Method::GET,
            "/admin/v1/orgs",
            forged.expose(),
            None,
            &request_id,
        )
        .await;
        assert_eq!(status, 401);
    }
    assert_eq!(Counters::read(&app.counters.argon2_verifications), argon2);
    stop(&mut app).await;
    let rows = failures_in_database(&app, backend).await;
    // The flood may straddle the turn of a minute.
    assert!((1..=2).contains(&rows.len()), "{rows:#?}");
    let counted: u64 = rows
        .iter()
        .map(|row| {
            let changes: Value = serde_json::from_str(row.split('|').nth(3).unwrap()).unwrap();
            changes["count"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(counted, flood);
}

async fn an_insane_request_id_is_replaced(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let path = format!("/admin/v1/orgs/{org}");
    let long = "a".repeat(129);
    for sent in [long.as_str(), "has space", "semi;colon"] {
        let (status, _) = call(&app, Method::GET, &path, ROOT_TOKEN, None, sent).await;
        assert_eq!(status, 200);
    }
    let body = Some(json!({"name": "Renamed"}));
    call(&app, Method::PATCH, &path, ROOT_TOKEN, body, &long).await;
    let seen = events(
        &app,
        org.as_str(),
        ROOT_TOKEN,
        "&action=organisation.updated",
    )
    .await;
    let id = seen[0]["request_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

on_both_backends!(
    every_management_change_is_recorded,
    an_admin_reads_only_its_own_organisations_trail,
    filters_and_pages_select_events,
    failed_authentications_are_recorded_without_the_credential,
    a_flood_of_unknown_keys_runs_no_argon2_and_adds_bounded_audit_rows,
    an_insane_request_id_is_replaced,
);
