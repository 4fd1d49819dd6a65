//! The request log (`request_log = true`): every key check, key
//! introspection and token request of a known credential on record,
//! listed per key and per client, and nothing when the log is off.

use std::time::{Duration, Instant};

use keyward::domain::{OrgId, Plan, RequestEntry};
use keyward::storage::{PageRequest, RequestLogQuery};
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::client_keys::ClientKeyPair;
use crate::support::console_client::signed_in;
use crate::support::helpers::{
    spawn_app, spawn_app_with, status_and_json, Backend, TestApp, TestClient, ROOT_TOKEN,
};

async fn app_with_log(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.request_log = true).await
}

/// POST /v1/keys/verify with a request id of our own.
async fn verify(app: &TestApp, rs: &TestClient, request_id: &str, body: Value) -> Value {
    let response = app
        .http
        .post(app.url("/v1/keys/verify"))
        .basic_auth(&rs.id, Some(&rs.secret))
        .header("X-Request-Id", request_id)
        .json(&body)
        .send()
        .await
        .unwrap();
    status_and_json(response).await.1
}

/// Every page of `path` (a request log list) with `limit` items a page.
async fn all_pages(app: &TestApp, path: &str, bearer: &str, limit: usize) -> Vec<Value> {
    let (mut items, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{path}{sep}limit={limit}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = app.admin(Method::GET, &url, bearer, None).await;
        assert_eq!(status, 200, "{page}");
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

/// The entries of `path` once there are `count` of them (written behind).
async fn written(app: &TestApp, path: &str, count: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let items = all_pages(app, path, ROOT_TOKEN, 200).await;
        if items.len() >= count {
            assert_eq!(items.len(), count, "{items:#?}");
            return items;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "not written: {items:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn key_checks_are_recorded_with_code_caller_address_and_request_id(backend: Backend) {
    let app = app_with_log(backend).await;
    let (rs, org, key) = app
        .key_to_check(|k| k.rate_limit_per_minute = Some(2))
        .await;
    let check = |scope: Option<&str>, ip: Option<&str>| {
        let mut body = json!({ "key": key.key });
        if let Some(scope) = scope {
            body["required_scope"] = json!(scope);
        }
        if let Some(ip) = ip {
            body["client_ip"] = json!(ip);
        }
        body
    };
    let valid = verify(&app, &rs, "req-valid", check(None, Some("203.0.113.7"))).await;
    assert_eq!(valid["code"], "VALID");
    let scope = verify(&app, &rs, "req-scope", check(Some("payouts:write"), None)).await;
    assert_eq!(scope["code"], "INSUFFICIENT_SCOPE");
    let limited = verify(&app, &rs, "req-limited", check(None, None)).await;
    assert_eq!(limited["code"], "RATE_LIMITED");
    // A stranger's key has no row to grow.
    let unknown = verify(&app, &rs, "req-unknown", json!({ "key": "kw_nope" })).await;
    assert_ne!(unknown["valid"], true);

    let path = format!("/admin/v1/orgs/{org}/api-keys/{}/requests", key.id);
    let items = written(&app, &path, 3).await;
    let expected = [
        ("req-limited", "RATE_LIMITED", "127.0.0.1"),
        ("req-scope", "INSUFFICIENT_SCOPE", "127.0.0.1"),
        ("req-valid", "VALID", "203.0.113.7"),
    ];
    for (item, (request_id, code, ip)) in items.iter().zip(expected) {
        assert_eq!(item["request_id"], request_id, "{item}");
        assert_eq!(item["code"], code, "{item}");
        assert_eq!(item["client_ip"], ip, "{item}");
        assert_eq!(item["endpoint"], "verify");
        assert_eq!(item["resource_server"], rs.id.as_str());
        assert_eq!(item["credential_id"], key.id.as_str());
        assert_eq!(item["org_id"], org.as_str());
        assert!(
            !item.to_string().contains(&key.key),
            "the key is never stored"
        );
    }
    let valid_only = all_pages(&app, &format!("{path}?code=VALID"), ROOT_TOKEN, 10).await;
    assert_eq!(valid_only.len(), 1);
    assert_eq!(valid_only[0]["request_id"], "req-valid");
}

async fn introspection_and_tokens_are_recorded(backend: Backend) {
    let app = app_with_log(backend).await;
    let (rs, org, key) = app.key_to_check(|_| {}).await;
    let (status, body) = app.introspect(&rs, &key.key, &[]).await;
    assert_eq!((status, &body["active"]), (200, &json!(true)));
    let path = format!("/admin/v1/orgs/{org}/api-keys/{}/requests", key.id);
    let items = written(&app, &path, 1).await;
    assert_eq!(items[0]["endpoint"], "introspect");
    assert_eq!(items[0]["code"], "VALID");
    assert_eq!(items[0]["resource_server"], rs.id.as_str());

    let client = app.create_client(&["payouts:read"], &[]).await;
    app.token(&client, &[]).await;
    let refused = app
        .post_token(
            &client,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "payouts:write"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 400);
    // A known client's proof refused for its signature is on record too.
    let proof = ClientKeyPair::es256("k1").dpop_proof("POST", &app.url("/oauth/token"), json!({}));
    let forged = format!("{}AAAA", &proof[..proof.len() - 4]);
    let bad_proof = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&client.id, Some(&client.secret))
        .header("DPoP", forged)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_proof.status(), 400);
    let path = format!(
        "/admin/v1/orgs/{}/clients/{}/requests",
        client.org_id, client.id
    );
    let items = written(&app, &path, 3).await;
    assert_eq!(items[0]["code"], "invalid_dpop_proof");
    assert_eq!(items[1]["code"], "invalid_scope");
    assert_eq!(items[2]["code"], "ISSUED");
    for item in &items {
        assert_eq!(item["endpoint"], "token");
        assert_eq!(item["resource_server"], Value::Null);
        assert_eq!(item["client_ip"], "127.0.0.1");
    }
}

async fn pages_hold_every_entry_once_in_order_and_filter_by_time(backend: Backend) {
    let app = app_with_log(backend).await;
    let (rs, org, key) = app.key_to_check(|_| {}).await;
    for n in 0..7 {
        verify(&app, &rs, &format!("req-{n}"), json!({ "key": key.key })).await;
    }
    let path = format!("/admin/v1/orgs/{org}/api-keys/{}/requests", key.id);
    let everything = written(&app, &path, 7).await;
    let paged = all_pages(&app, &path, ROOT_TOKEN, 2).await;
    assert_eq!(paged, everything);
    let ids: Vec<&str> = paged
        .iter()
        .map(|i| i["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["req-6", "req-5", "req-4", "req-3", "req-2", "req-1", "req-0"]
    );

    let future = "2100-01-01T00:00:00Z";
    let past = "2000-01-01T00:00:00Z";
    let since_future = all_pages(&app, &format!("{path}?since={future}"), ROOT_TOKEN, 50).await;
    assert!(since_future.is_empty());
    let until_past = all_pages(&app, &format!("{path}?until={past}"), ROOT_TOKEN, 50).await;
    assert!(until_past.is_empty());
    let between = format!("{path}?since={past}&until={future}");
    assert_eq!(all_pages(&app, &between, ROOT_TOKEN, 50).await.len(), 7);

    for bad in [
        "?since=yesterday",
        "?limit=0",
        "?cursor=nonsense",
        // A cursor, but not of an entry: "0:rq_nope".
        "?cursor=MDpycV9ub3Bl",
        "?code=",
        "?colour=red",
    ] {
        let (status, problem) = app
            .admin(Method::GET, &format!("{path}{bad}"), ROOT_TOKEN, None)
            .await;
        assert_eq!(status, 400, "{bad}: {problem}");
    }
}

async fn another_orgs_admin_reaches_no_entries(backend: Backend) {
    let app = app_with_log(backend).await;
    let (rs, org, key) = app.key_to_check(|_| {}).await;
    verify(&app, &rs, "req-1", json!({ "key": key.key })).await;
    let path = format!("/admin/v1/orgs/{org}/api-keys/{}/requests", key.id);
    written(&app, &path, 1).await;

    let other = app.create_org(Plan::Enterprise).await;
    let stranger = app
        .admin_token(&other, &["keyward:keys:read", "keyward:clients:read"])
        .await;
    let (status, _) = app.admin(Method::GET, &path, &stranger, None).await;
    assert_eq!(status, 404);
    // Their own org in the path, our key's id: still nothing.
    let theirs = format!("/admin/v1/orgs/{other}/api-keys/{}/requests", key.id);
    let (status, _) = app.admin(Method::GET, &theirs, &stranger, None).await;
    assert_eq!(status, 404);
    let client = format!("/admin/v1/orgs/{other}/clients/{}/requests", rs.id);
    let (status, _) = app.admin(Method::GET, &client, &stranger, None).await;
    assert_eq!(status, 404);
    let (status, _) = app.admin(Method::GET, &theirs, ROOT_TOKEN, None).await;
    assert_eq!(status, 404);
}

async fn nothing_is_recorded_with_the_log_off(backend: Backend) {
    let app = spawn_app(backend).await;
    let (rs, org, key) = app.key_to_check(|_| {}).await;
    verify(&app, &rs, "req-1", json!({ "key": key.key })).await;
    app.introspect(&rs, &key.key, &[]).await;
    let client = app.create_client(&["payouts:read"], &[]).await;
    app.token(&client, &[]).await;
    app.usage_written().await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let path = format!("/admin/v1/orgs/{org}/api-keys/{}/requests", key.id);
    assert!(all_pages(&app, &path, ROOT_TOKEN, 50).await.is_empty());
    let path = format!(
        "/admin/v1/orgs/{}/clients/{}/requests",
        client.org_id, client.id
    );
    assert!(all_pages(&app, &path, ROOT_TOKEN, 50).await.is_empty());
}

async fn the_console_key_page_lists_the_latest_entries(backend: Backend) {
    let app = app_with_log(backend).await;
    let (rs, org, key) = app.key_to_check(|_| {}).await;
    for n in 0..12 {
        verify(&app, &rs, &format!("req-{n}"), json!({ "key": key.key })).await;
    }
    let path = format!("/admin/v1/orgs/{org}/api-keys/{}/requests", key.id);
    written(&app, &path, 12).await;

    let (browser, _) = signed_in(&app, org.as_str(), "viewer").await;
    let page = browser
        .get(&format!("/console/orgs/{org}/api-keys/{}", key.id))
        .await;
    assert_eq!(page.status, 200);
    for n in 2..12 {
        assert!(page.body.contains(&format!(">req-{n}<")), "{}", page.body);
    }
    assert!(!page.body.contains(">req-1<"), "only the latest ten");
    assert!(page.body.contains(&rs.id), "the resource server");
    assert!(!page.body.contains(&key.key), "never the key");
    let all = format!("/console/orgs/{org}/api-keys/{}/requests", key.id);
    assert!(
        page.body.contains(&format!("href=\"{all}\"")),
        "{}",
        page.body
    );

    let everything = browser.get(&all).await;
    assert_eq!(everything.status, 200);
    for n in 0..12 {
        assert!(everything.body.contains(&format!(">req-{n}<")));
    }
    let other = app.create_org(Plan::Enterprise).await;
    let (stranger, _) = signed_in(&app, other.as_str(), "owner").await;
    let theirs = format!("/console/orgs/{other}/api-keys/{}/requests", key.id);
    assert_eq!(stranger.get(&theirs).await.status, 404);
    assert_eq!(stranger.get(&all).await.status, 404);
}

async fn a_graceful_stop_writes_what_is_queued(backend: Backend) {
    let mut app = app_with_log(backend).await;
    let (rs, org, key) = app.key_to_check(|_| {}).await;
    verify(&app, &rs, "req-last", json!({ "key": key.key })).await;
    app.server.stop(true).await;
    app.running.take().unwrap().await.unwrap().unwrap();
    let kept = app
        .store
        .list_requests(&org, &key.id, &everything())
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].request_id, "req-last");
}

fn everything() -> RequestLogQuery {
    RequestLogQuery {
        page: PageRequest::everything(),
        code: None,
        since: None,
        until: None,
    }
}

fn entry(org: &OrgId, request_id: &str, at_ns: i64) -> RequestEntry {
    RequestEntry {
        occurred_at_ns: at_ns,
        credential_id: "ak_test".into(),
        org_id: org.clone(),
        endpoint: "verify",
        code: "VALID",
        resource_server: None,
        client_ip: Some([192, 0, 2, 1].into()),
        request_id: request_id.into(),
    }
}

/// The request ids of a list of the store, in its order.
fn request_ids(records: &[keyward::domain::RequestRecord]) -> Vec<&str> {
    records.iter().map(|r| r.request_id.as_str()).collect()
}

async fn old_entries_are_purged(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let day = 86_400;
    let now = chrono::Utc::now().timestamp();
    let ns = 1_000_000_000;
    let entries = [
        entry(&org, "req-1", (now - 31 * day) * ns),
        entry(&org, "req-2", (now - 29 * day) * ns),
        entry(&org, "req-3", now * ns),
    ];
    app.store.append_requests(&entries).await.unwrap();
    let retention = i64::from(app.settings.request_log_retention_days);
    assert_eq!(retention, 30, "the default retention");
    assert_eq!(
        app.store
            .purge_requests(now - retention * day)
            .await
            .unwrap(),
        1
    );
    let kept = app
        .store
        .list_requests(&org, "ak_test", &everything())
        .await
        .unwrap();
    assert_eq!(request_ids(&kept), ["req-3", "req-2"]);
    assert_eq!(kept[1].occurred_at, now - 29 * day);
    assert_eq!(kept[1].client_ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(
        (kept[1].endpoint, kept[1].code.as_str()),
        ("verify", "VALID")
    );
}

async fn entries_of_one_instant_page_apart_once_each(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let at = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let entries: Vec<_> = (0..5)
        .map(|n| entry(&org, &format!("req-{n}"), at))
        .collect();
    app.store.append_requests(&entries).await.unwrap();
    let listed = pages_of(&app, &org, everything(), 2).await;
    let mut seen: Vec<_> = listed.into_iter().map(|r| r.request_id).collect();
    seen.sort();
    assert_eq!(seen, ["req-0", "req-1", "req-2", "req-3", "req-4"]);
}

/// Every page of `query`'s list of `ak_test`, at `limit` entries a page.
async fn pages_of(
    app: &TestApp,
    org: &OrgId,
    query: RequestLogQuery,
    limit: i64,
) -> Vec<keyward::domain::RequestRecord> {
    let mut page = PageRequest { limit, after: None };
    let mut listed = Vec::new();
    loop {
        let query = RequestLogQuery {
            page: page.clone(),
            ..query.clone()
        };
        let got = app
            .store
            .list_requests(org, "ak_test", &query)
            .await
            .unwrap();
        let Some(last) = got.last() else { break };
        page.after = Some((last.occurred_at, last.id.clone()));
        listed.extend(got);
    }
    listed
}

/// Entries are stored in batches of one credential and minute: two flushes
/// (or two replicas) write batches whose times interleave, a busy minute
/// fills several, and a list reads more batches than one read holds. Pages
/// still hold every entry once, newest first, and a code filter finds the
/// one entry that has it.
async fn interleaved_and_full_batches_list_in_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let minute_ns = 60_000_000_000;
    let start = (chrono::Utc::now().timestamp_nanos_opt().unwrap() / minute_ns - 5) * minute_ns;
    for flush in 0..20 {
        let entries: Vec<_> = (0..30)
            .map(|i| {
                let mut entry = entry(&org, &format!("req-{flush}-{i}"), start + i * 20 + flush);
                if (flush, i) == (3, 7) {
                    entry.code = "RATE_LIMITED";
                }
                entry
            })
            .collect();
        app.store.append_requests(&entries).await.unwrap();
    }
    let busy: Vec<_> = (0..2_100)
        .map(|i| entry(&org, &format!("busy-{i}"), start + minute_ns + i))
        .collect();
    app.store.append_requests(&busy).await.unwrap();

    let listed = pages_of(&app, &org, everything(), 250).await;
    assert_eq!(listed.len(), 20 * 30 + 2_100);
    let positions: Vec<_> = listed
        .iter()
        .map(|r| keyward::domain::RequestRecord::position_of(&r.id).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first, each once"
    );
    assert_eq!(listed[0].request_id, "busy-2099");
    assert_eq!(listed.last().unwrap().request_id, "req-0-0");

    let limited = RequestLogQuery {
        code: Some("RATE_LIMITED".into()),
        ..everything()
    };
    let found = pages_of(&app, &org, limited, 2).await;
    assert_eq!(request_ids(&found), ["req-3-7"]);
}

/// Entries written before the log was stored in batches (one row each, by
/// migration 20261201000003) are moved into batches and listed as before.
async fn entries_of_the_row_layout_survive_the_migration(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let at = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let old_layout = [
        "DROP TABLE request_log_batches".to_owned(),
        "DELETE FROM _sqlx_migrations WHERE version = 20261201000004".to_owned(),
        match backend {
            Backend::Sqlite => {
                include_str!("../../migrations/sqlite/20261201000003_request_log.sql")
            }
            Backend::Postgres => {
                include_str!("../../migrations/postgres/20261201000003_request_log.sql")
            }
        }
        .to_owned(),
        format!(
            "INSERT INTO request_log VALUES \
             ({at}, 11, 'ak_test', '{org}', 'verify', 'VALID', 'cl_rs', '192.0.2.1', 'req-1'), \
             ({}, 12, 'ak_test', '{org}', 'introspect', 'RATE_LIMITED', NULL, NULL, 'req-2')",
            at + 1
        ),
    ];
    app.db.run_sql(&old_layout).await;

    let upgraded = app.replica().await;
    let listed = upgraded
        .store
        .list_requests(&org, "ak_test", &everything())
        .await
        .unwrap();
    assert_eq!(request_ids(&listed), ["req-2", "req-1"]);
    let first = &listed[1];
    assert_eq!(first.id, keyward::domain::RequestRecord::id_of(at, 11));
    assert_eq!(first.occurred_at, at.div_euclid(1_000_000_000));
    assert_eq!((first.endpoint, first.code.as_str()), ("verify", "VALID"));
    assert_eq!(first.resource_server.as_deref(), Some("cl_rs"));
    assert_eq!(first.client_ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(
        (
            listed[0].endpoint,
            listed[0].code.as_str(),
            listed[0].client_ip.as_deref()
        ),
        ("introspect", "RATE_LIMITED", None)
    );
}

on_both_backends!(
    interleaved_and_full_batches_list_in_order,
    entries_of_the_row_layout_survive_the_migration,
    key_checks_are_recorded_with_code_caller_address_and_request_id,
    introspection_and_tokens_are_recorded,
    pages_hold_every_entry_once_in_order_and_filter_by_time,
    another_orgs_admin_reaches_no_entries,
    nothing_is_recorded_with_the_log_off,
    old_entries_are_purged,
    entries_of_one_instant_page_apart_once_each,
    the_console_key_page_lists_the_latest_entries,
    a_graceful_stop_writes_what_is_queued,
);
