//! The management API's organisations, its authentication, and its
//! problem+json errors.

use reqwest::Method;
use serde_json::json;

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, Backend, ROOT_TOKEN};

async fn the_operator_manages_organisations(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, acme) = app
        .admin(
            Method::POST,
            "/admin/v1/orgs",
            ROOT_TOKEN,
            Some(json!({"name": "Acme", "plan": "starter"})),
        )
        .await;
    assert_eq!(status, 201, "{acme}");
    assert_eq!(acme["name"], "Acme");
    assert_eq!(acme["plan"], "starter");
    assert!(acme["created_at"].as_str().unwrap().ends_with('Z'));
    let id = acme["id"].as_str().unwrap();
    let (_, _globex) = app
        .admin(
            Method::POST,
            "/admin/v1/orgs",
            ROOT_TOKEN,
            Some(json!({"name": "Globex", "plan": "free"})),
        )
        .await;

    let (status, first) = app
        .admin(Method::GET, "/admin/v1/orgs?limit=1", ROOT_TOKEN, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = app
        .admin(
            Method::GET,
            &format!("/admin/v1/orgs?limit=1&cursor={cursor}"),
            ROOT_TOKEN,
            None,
        )
        .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_ne!(second["items"][0]["id"], first["items"][0]["id"]);
    let (_, all) = app
        .admin(Method::GET, "/admin/v1/orgs", ROOT_TOKEN, None)
        .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    assert!(all["next_cursor"].is_null());

    let path = format!("/admin/v1/orgs/{id}");
    let change = json!({"name": "Acme Corp", "plan": "enterprise", "webhook_url": "https://hooks.example.test/kw"});
    let (status, mut changed) = app
        .admin(Method::PATCH, &path, ROOT_TOKEN, Some(change))
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["plan"], "enterprise");
    assert_eq!(changed["webhook_url"], "https://hooks.example.test/kw");
    // The first webhook URL brings its signing secret, shown only here.
    let secret = changed.as_object_mut().unwrap().remove("webhook_secret");
    assert!(secret.unwrap().as_str().unwrap().starts_with("kwhs_"));
    let (_, fetched) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
    assert_eq!(fetched, changed);
    let (_, cleared) = app
        .admin(
            Method::PATCH,
            &path,
            ROOT_TOKEN,
            Some(json!({"webhook_url": null})),
        )
        .await;
    assert!(cleared["webhook_url"].is_null());
}

async fn organisation_admins_see_only_their_own_organisation(backend: Backend) {
    let app = spawn_app(backend).await;
    let mine = app.create_org(keyward::domain::Plan::Starter).await;
    let other = app.create_org(keyward::domain::Plan::Starter).await;
    let token = app
        .admin_token(&mine, &["keyward:clients:write", "keyward:keys:read"])
        .await;

    let (status, body) = app
        .admin(Method::GET, &format!("/admin/v1/orgs/{mine}"), &token, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], mine.as_str());
    let (status, body) = app
        .admin(
            Method::GET,
            &format!("/admin/v1/orgs/{other}"),
            &token,
            None,
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")));
    let (status, _) = app
        .admin(Method::GET, "/admin/v1/orgs/org_nonexistent", &token, None)
        .await;
    assert_eq!(status, 404);

    for (method, path, body) in [
        (Method::GET, "/admin/v1/orgs".to_owned(), None),
        (
            Method::POST,
            "/admin/v1/orgs".to_owned(),
            Some(json!({"name": "X", "plan": "enterprise"})),
        ),
        (
            Method::PATCH,
            format!("/admin/v1/orgs/{mine}"),
            Some(json!({"plan": "enterprise"})),
        ),
    ] {
        let (status, problem) = app.admin(method, &path, &token, body).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("ROOT_REQUIRED")),
            "{path}"
        );
    }
    let (status, renamed) = app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/orgs/{mine}"),
            &token,
            Some(json!({"name": "Mine"})),
        )
        .await;
    assert_eq!((status, renamed["name"].as_str()), (200, Some("Mine")));
}

async fn callers_without_valid_credentials_get_401_problems(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(keyward::domain::Plan::Starter).await;
    let integration = app
        .create_client_in(&org, &["payouts:read"], &[], None)
        .await;
    let no_management_scope = app.token(&integration, &[]).await;
    let wrong_audience_client = app
        .create_client_in(
            &org,
            &["keyward:keys:read"],
            &["https://api.example.test"],
            None,
        )
        .await;
    let wrong_audience = app
        .token(
            &wrong_audience_client,
            &[("resource", "https://api.example.test")],
        )
        .await;
    let path = format!("/admin/v1/orgs/{org}/api-keys");

    let response = app.http.get(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 401);
    assert_eq!(problem["code"], "UNAUTHORIZED");
    assert!(problem["title"].is_string() && problem["detail"].is_string());

    for bad in [
        "garbage",
        "kwr_not-the-root-token-0123456789abcdefghijkl",
        &wrong_audience,
    ] {
        let (status, _) = app.admin(Method::GET, &path, bad, None).await;
        assert_eq!(status, 401, "{bad}");
    }
    let (status, problem) = app
        .admin(Method::GET, &path, &no_management_scope, None)
        .await;
    assert_eq!(status, 403);
    assert_eq!(problem["code"], "INSUFFICIENT_SCOPE");
    assert_eq!(problem["required"], "keyward:keys:read");
    assert_eq!(problem["actual"], "payouts:read");
}

on_both_backends!(
    the_operator_manages_organisations,
    organisation_admins_see_only_their_own_organisation,
    callers_without_valid_credentials_get_401_problems,
);
