//! The management API's OAuth clients: lifecycle with secret rotation,
//! what only the operator may do, isolation and bad input.

use keyward::domain::{OrgId, Plan};
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::helpers::{
    spawn_app, status_and_json, Backend, TestApp, TestClient, API, ROOT_TOKEN,
};

const CLIENTS_RW: &[&str] = &["keyward:clients:read", "keyward:clients:write"];
/// Manages clients and may grant the data scopes the tests use.
const CLIENTS_ADMIN: &[&str] = &["keyward:clients:write", "payouts:write", "wallets:read"];

fn clients_path(org: &OrgId) -> String {
    format!("/admin/v1/orgs/{org}/clients")
}

fn as_client(view: &Value, secret: &str) -> TestClient {
    TestClient {
        id: view["client_id"].as_str().unwrap().to_owned(),
        secret: secret.to_owned(),
        org_id: view["org_id"].as_str().unwrap().to_owned(),
    }
}

async fn token_status(app: &TestApp, client: &TestClient) -> (u16, Value) {
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "payouts:read"),
    ];
    status_and_json(app.post_token(client, &form).await).await
}

async fn an_admin_runs_a_client_through_its_whole_life(backend: Backend) {
    let app = spawn_app(backend).await;
    let rs = app.create_resource_server(&[API]).await;
    let org = app.create_org(Plan::Starter).await;
    let admin = app.admin_token(&org, CLIENTS_ADMIN).await;
    let body = json!({"name": "payouts worker", "scopes": ["payouts:write"], "audiences": [API],
                      "rate_limit_per_minute": 600, "ip_allowlist": ["127.0.0.0/8"]});
    let (status, created) = app
        .admin(Method::POST, &clients_path(&org), &admin, Some(body))
        .await;
    assert_eq!(status, 201, "{created}");
    let first_secret = created["client_secret"].as_str().unwrap().to_owned();
    let client = as_client(&created, &first_secret);
    assert_eq!(created["rate_limit_per_minute"], 600);
    assert_eq!(token_status(&app, &client).await.0, 200);

    let path = format!("{}/{}", clients_path(&org), client.id);
    let (_, fetched) = app.admin(Method::GET, &path, &admin, None).await;
    let (_, listed) = app
        .admin(Method::GET, &clients_path(&org), &admin, None)
        .await;
    let in_list = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == client.id.as_str())
        .expect("listed");
    for shown in [&fetched, in_list] {
        assert_eq!(shown["name"], "payouts worker");
        assert!(
            !shown.to_string().contains(&first_secret),
            "the secret is shown only once"
        );
    }

    let (status, patched) = app
        .admin(
            Method::PATCH,
            &path,
            &admin,
            Some(json!({"scopes": ["wallets:read"], "rate_limit_per_minute": null})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert!(patched["rate_limit_per_minute"].is_null());
    let (status, refused) = token_status(&app, &client).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    app.admin(
        Method::PATCH,
        &path,
        &admin,
        Some(json!({"scopes": ["payouts:read"]})),
    )
    .await;

    let rotate = format!("{path}/rotate-secret");
    let (status, rotated) = app
        .admin(
            Method::POST,
            &rotate,
            &admin,
            Some(json!({"grace_period_seconds": 3600})),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let second = as_client(&rotated, rotated["client_secret"].as_str().unwrap());
    assert_ne!(second.secret, first_secret);
    assert_eq!(token_status(&app, &second).await.0, 200);
    assert_eq!(
        token_status(&app, &client).await.0,
        200,
        "old secret in its grace period"
    );
    let (_, again) = app
        .admin(
            Method::POST,
            &rotate,
            &admin,
            Some(json!({"grace_period_seconds": 0})),
        )
        .await;
    let third = as_client(&again, again["client_secret"].as_str().unwrap());
    assert_eq!(token_status(&app, &third).await.0, 200);
    for ended in [&client, &second] {
        let (status, body) = token_status(&app, ended).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );
    }

    let token = app.token(&third, &[("resource", API)]).await;
    let (_, off) = app
        .admin(Method::POST, &format!("{path}/deactivate"), &admin, None)
        .await;
    assert_eq!(off["status"], "deactivated");
    assert_eq!(
        app.introspect(&rs, &token, &[]).await.1,
        json!({"active": false})
    );
    let (status, body) = token_status(&app, &third).await;
    assert_eq!(status, 401);
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("deactivated"));
    let (_, on) = app
        .admin(Method::POST, &format!("{path}/activate"), &admin, None)
        .await;
    assert_eq!(on["status"], "active");
    assert_eq!(app.introspect(&rs, &token, &[]).await.1["active"], true);

    let (status, _) = app.admin(Method::DELETE, &path, &admin, None).await;
    assert_eq!(status, 204);
    assert_eq!(token_status(&app, &third).await.0, 401);
    assert_eq!(app.admin(Method::GET, &path, &admin, None).await.0, 404);
}

async fn only_the_operator_makes_resource_servers_and_free_plans_get_no_clients(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Enterprise).await;
    let admin = app.admin_token(&org, CLIENTS_RW).await;
    let rs_body = json!({"name": "api", "scopes": ["keyward:introspect"], "audiences": [API], "resource_server": true});
    let (status, problem) = app
        .admin(
            Method::POST,
            &clients_path(&org),
            &admin,
            Some(rs_body.clone()),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("ROOT_REQUIRED"))
    );
    let (status, created) = app
        .admin(Method::POST, &clients_path(&org), ROOT_TOKEN, Some(rs_body))
        .await;
    assert_eq!(
        (status, created["resource_server"].as_bool()),
        (201, Some(true))
    );
    let path = format!(
        "{}/{}",
        clients_path(&org),
        created["client_id"].as_str().unwrap()
    );
    let (status, _) = app
        .admin(
            Method::PATCH,
            &path,
            &admin,
            Some(json!({"resource_server": false})),
        )
        .await;
    assert_eq!(status, 403);

    let free = app.create_org(Plan::Free).await;
    let (status, problem) = app
        .admin(
            Method::POST,
            &clients_path(&free),
            ROOT_TOKEN,
            Some(json!({"name": "x", "scopes": ["a:read"]})),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("API_ACCESS_NOT_AVAILABLE"))
    );
}

async fn one_organisation_cannot_see_or_touch_anothers_clients(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_org(Plan::Starter).await;
    let b = app.create_org(Plan::Starter).await;
    let a_client = app.create_client_in(&a, &["payouts:read"], &[], None).await;
    let b_admin = app.admin_token(&b, CLIENTS_RW).await;
    let path = format!("{}/{}", clients_path(&a), a_client.id);
    for (method, path) in [
        (Method::GET, clients_path(&a)),
        (Method::GET, path.clone()),
        (Method::PATCH, path.clone()),
        (Method::POST, format!("{path}/rotate-secret")),
        (Method::POST, format!("{path}/deactivate")),
        (Method::DELETE, path.clone()),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"name": "stolen"}));
        let (status, problem) = app.admin(method.clone(), &path, &b_admin, body).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (404, Some("NOT_FOUND")),
            "{method} {path}"
        );
    }
    // Org B's own client path with A's client id is just as unknown.
    let cross = format!("{}/{}", clients_path(&b), a_client.id);
    assert_eq!(app.admin(Method::GET, &cross, &b_admin, None).await.0, 404);
    assert_eq!(token_status(&app, &a_client).await.0, 200, "untouched");
}

async fn bad_client_input_gets_400_problems_that_name_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(Plan::Starter).await;
    let cases = [
        (
            json!({"name": "x", "scopes": ["a:read"], "ip_allowlist": ["300.0.0.1"]}),
            "ip_allowlist",
        ),
        (
            json!({"name": "x", "scopes": ["a:read"], "audiences": ["has space"]}),
            "audiences",
        ),
        (
            json!({"name": "x", "scopes": ["a:read"], "rate_limit_per_minute": 0}),
            "rate_limit_per_minute",
        ),
        (
            json!({"name": "x", "scopes": ["a:read"], "resource_server": "yes"}),
            "resource_server",
        ),
        (json!({"name": "", "scopes": ["a:read"]}), "name"),
        (json!({"name": "x", "scopes": ["*:*"]}), "scopes"),
    ];
    for (body, field) in cases {
        let (status, problem) = app
            .admin(
                Method::POST,
                &clients_path(&org),
                ROOT_TOKEN,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 400, "{body}: {problem}");
        assert!(
            problem["field"].as_str().unwrap().starts_with(field),
            "{body}: {problem}"
        );
    }
    let (_, list) = app
        .admin(Method::GET, &clients_path(&org), ROOT_TOKEN, None)
        .await;
    assert_eq!(list["items"], json!([]));
}

on_both_backends!(
    an_admin_runs_a_client_through_its_whole_life,
    only_the_operator_makes_resource_servers_and_free_plans_get_no_clients,
    one_organisation_cannot_see_or_touch_anothers_clients,
    bad_client_input_gets_400_problems_that_name_the_field,
);
