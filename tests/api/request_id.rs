//! `X-Request-Id`: a sane one is kept, anything else replaced by a UUIDv4,
//! and every response, errors included, carries it; the audit trail
//! records the same id.

use keyward::domain::Plan;
use reqwest::{Method, Response};
use serde_json::json;

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, Backend, TestApp, ROOT_TOKEN};

fn answered_id(response: &Response) -> String {
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn is_uuid_v4(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 4)
}

/// One request of each kind of answer: success, OAuth error, 404, 405,
/// a refused management call.
async fn requests(app: &TestApp, id: Option<&str>) -> Vec<Response> {
    let calls = [
        app.http.get(app.url("/healthz")),
        app.http
            .post(app.url("/oauth/token"))
            .form(&[("grant_type", "client_credentials")]),
        app.http.get(app.url("/no/such/path?x=1")),
        app.http.get(app.url("/oauth/token")),
        app.http.get(app.url("/admin/v1/orgs")).bearer_auth("wrong"),
    ];
    let mut responses = Vec::new();
    for call in calls {
        let call = match id {
            Some(id) => call.header("x-request-id", id),
            None => call,
        };
        responses.push(call.send().await.unwrap());
    }
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 401, 404, 405, 401]);
    responses
}

#[tokio::test]
async fn a_sane_request_id_is_echoed_on_every_response() {
    let app = spawn_app(Backend::Sqlite).await;
    let longest = "a".repeat(128);
    for sent in ["req-1", "trace.id_2:span-3", longest.as_str()] {
        for response in requests(&app, Some(sent)).await {
            assert_eq!(answered_id(&response), sent, "{}", response.url());
        }
    }
}

#[tokio::test]
async fn an_insane_request_id_is_replaced_by_a_generated_one() {
    let app = spawn_app(Backend::Sqlite).await;
    let too_long = "a".repeat(129);
    for sent in [too_long.as_str(), "has space", "semi;colon", "quote\"d", ""] {
        for response in requests(&app, Some(sent)).await {
            let id = answered_id(&response);
            assert!(is_uuid_v4(&id), "{sent:?} gave {id}");
        }
    }
}

#[tokio::test]
async fn a_request_without_an_id_gets_a_new_one_each_time() {
    let app = spawn_app(Backend::Sqlite).await;
    let ids: Vec<String> = requests(&app, None).await.iter().map(answered_id).collect();
    assert!(ids.iter().all(|id| is_uuid_v4(id)), "{ids:?}");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
}

async fn the_audit_event_carries_the_requests_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let path = format!("/admin/v1/orgs/{org}");
    let mut answered = Vec::new();
    for sent in [Some("rename-1"), None] {
        let mut request = app
            .http
            .patch(app.url(&path))
            .bearer_auth(ROOT_TOKEN)
            .json(&json!({"name": "Renamed"}));
        if let Some(id) = sent {
            request = request.header("x-request-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        answered.push(answered_id(&response));
    }
    assert_eq!(answered[0], "rename-1");
    assert!(is_uuid_v4(&answered[1]));

    let events = format!("{path}/audit-events?action=organisation.updated");
    let (status, page) = app.admin(Method::GET, &events, ROOT_TOKEN, None).await;
    assert_eq!(status, 200, "{page}");
    let mut recorded: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request_id"].as_str().unwrap())
        .collect();
    recorded.sort();
    answered.sort();
    assert_eq!(recorded, answered);
}

on_both_backends!(the_audit_event_carries_the_requests_id);
