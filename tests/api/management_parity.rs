//! Each management use case run through the management API and through the
//! CLI: the same stored result, the same validation error, the same audit
//! event (but for its actor) and the same plan check. Both sides run on
//! twin resources, so ids and times are left out of the comparisons.

use keyward::domain::{OrgId, Plan};
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::cli_process::keyward;
use crate::support::helpers::{spawn_app, Backend, TestApp, API, ROOT_TOKEN};

/// Fields that differ between twins: ids, secrets, times, usage.
const VARYING: [&str; 12] = [
    "client_secret",
    "key",
    "webhook_secret",
    "id",
    "client_id",
    "org_id",
    "prefix",
    "created_at",
    "updated_at",
    "last_used_at",
    "request_count",
    "rolled_to",
];

/// Whether two comparable values are the same, but for times a second or
/// two apart: the twins' calls run one after the other, and an end such
/// as now + grace period moves with them.
fn same(a: &Value, b: &Value) -> bool {
    let time = |v: &str| chrono::DateTime::parse_from_rfc3339(v).ok();
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        (Value::String(x), Value::String(y)) => match (time(x), time(y)) {
            (Some(x), Some(y)) => (x - y).num_seconds().abs() <= 2,
            _ => x == y,
        },
        _ => a == b,
    }
}

#[track_caller]
fn assert_same(a: &Value, b: &Value) {
    assert!(same(a, b), "not the same:\n{a}\n{b}");
}

/// A list's comparable items, by name: twins made in the same second may
/// list in either order.
fn by_name(items: &Value) -> Vec<Value> {
    let mut items: Vec<Value> = items.as_array().unwrap().iter().map(comparable).collect();
    items.sort_by_key(|item| item["name"].to_string());
    items
}

/// `value` without the fields that differ between twins, at any depth.
fn comparable(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(name, _)| !VARYING.contains(&name.as_str()))
                .map(|(name, v)| (name.clone(), comparable(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(comparable).collect()),
        other => other.clone(),
    }
}

async fn http(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    app.admin(method, path, ROOT_TOKEN, body).await
}

/// The CLI's JSON answer, or its error message.
fn cli(app: &TestApp, args: &[&str]) -> Result<Value, String> {
    let output = keyward(app, &[&["--json"], args].concat());
    if output.status.success() {
        Ok(serde_json::from_slice(&output.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn cli_ok(app: &TestApp, args: &[&str]) -> Value {
    cli(app, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// The newest event of `action` on `target`, and who made it.
async fn event(app: &TestApp, org: &str, action: &str, target: &str) -> (String, Value) {
    let path = format!("/admin/v1/orgs/{org}/audit-events?action={action}&target_id={target}");
    let (status, page) = http(app, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{page}");
    let event = page["items"][0].clone();
    assert!(event.is_object(), "no {action} on {target}: {page}");
    let actor = event["actor"].as_str().unwrap().to_owned();
    (
        actor,
        comparable(&json!({
            "action": event["action"],
            "target_type": event["target"]["type"],
            "changes": event["changes"],
        })),
    )
}

/// The same event of `action` on both twins, one by `root`, one by `cli`.
async fn same_event(app: &TestApp, org: (&str, &str), action: &str, target: (&str, &str)) {
    let (by_api, api_event) = event(app, org.0, action, target.0).await;
    let (by_cli, cli_event) = event(app, org.1, action, target.1).await;
    assert_eq!((by_api.as_str(), by_cli.as_str()), ("root", "cli"));
    assert!(
        same(&api_event, &cli_event),
        "{action}:\n{api_event}\n{cli_event}"
    );
}

/// The API's refusal and the CLI's say the same: the API's detail is
/// `field: reason`, the CLI names the field by its option.
fn same_refusal(api: (u16, Value), cli: Result<Value, String>, option: &str) {
    let (status, problem) = api;
    let message = cli.expect_err("the CLI refuses too");
    assert!(status >= 400, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    let reason = match problem["field"].as_str() {
        Some(field) => detail.strip_prefix(&format!("{field}: ")).unwrap(),
        None => detail,
    };
    assert!(message.contains(reason), "API: {detail}; CLI: {message}");
    assert!(message.contains(option), "API: {detail}; CLI: {message}");
}

async fn twin_orgs(app: &TestApp, plan: Plan) -> (OrgId, OrgId) {
    (app.create_org(plan).await, app.create_org(plan).await)
}

/// A client created through each side in twin organisations: (api, cli) ids.
async fn twin_clients(app: &TestApp, orgs: &(OrgId, OrgId)) -> (String, String) {
    let path = format!("/admin/v1/orgs/{}/clients", orgs.0);
    let body = json!({
        "name": "ci", "scopes": ["payouts:read", "payouts:write"], "audiences": [API],
        "expires_at": "2099-01-01T00:00:00Z", "rate_limit_per_minute": 600,
        "ip_allowlist": ["203.0.113.0/24"],
    });
    let (status, by_api) = http(app, Method::POST, &path, Some(body)).await;
    assert_eq!(status, 201, "{by_api}");
    let by_cli = cli_ok(
        app,
        &[
            "client",
            "create",
            "--org",
            orgs.1.as_str(),
            "--name",
            "ci",
            "--scope",
            "payouts:read",
            "--scope",
            "payouts:write",
            "--audience",
            API,
            "--expires-at",
            "2099-01-01T00:00:00Z",
            "--rate-limit-per-minute",
            "600",
            "--ip-allow",
            "203.0.113.0/24",
        ],
    );
    for answer in [&by_api, &by_cli] {
        assert!(
            answer["client_secret"]
                .as_str()
                .unwrap()
                .starts_with("kws_"),
            "{answer}"
        );
    }
    assert_same(&comparable(&by_api), &comparable(&by_cli));
    let ids = (
        by_api["client_id"].as_str().unwrap().to_owned(),
        by_cli["client_id"].as_str().unwrap().to_owned(),
    );
    (ids.0, ids.1)
}

/// Twins of one resource, one made through the API and one through the
/// CLI, in twin organisations: `.0` is the API's, `.1` the CLI's.
struct Twins {
    app: TestApp,
    orgs: (String, String),
    ids: (String, String),
    /// Where the resource is below its organisation, such as `clients`.
    kind: &'static str,
}

impl Twins {
    fn org(&self) -> (&str, &str) {
        (&self.orgs.0, &self.orgs.1)
    }

    fn id(&self) -> (&str, &str) {
        (&self.ids.0, &self.ids.1)
    }

    /// The stored resource of one side (0: the API's, 1: the CLI's), as
    /// the API reads it back.
    async fn stored(&self, which: usize) -> Value {
        let (org, id) = if which == 0 {
            (&self.orgs.0, &self.ids.0)
        } else {
            (&self.orgs.1, &self.ids.1)
        };
        let path = format!("/admin/v1/orgs/{org}/{}/{id}", self.kind);
        comparable(&http(&self.app, Method::GET, &path, None).await.1)
    }
}

/// Organisation create, through both sides.
async fn org_twins(backend: Backend) -> Twins {
    let app = spawn_app(backend).await;
    // Create.
    let body = json!({"name": "Acme", "plan": "starter"});
    let (status, by_api) = http(&app, Method::POST, "/admin/v1/orgs", Some(body)).await;
    assert_eq!(status, 201, "{by_api}");
    let by_cli = cli_ok(
        &app,
        &["org", "create", "--name", "Acme", "--plan", "starter"],
    );
    assert_same(&comparable(&by_api), &comparable(&by_cli));
    let ids = (
        by_api["id"].as_str().unwrap(),
        by_cli["id"].as_str().unwrap(),
    );
    same_event(&app, ids, "organisation.created", ids).await;
    same_refusal(
        http(
            &app,
            Method::POST,
            "/admin/v1/orgs",
            Some(json!({"name": "A", "plan": "gold"})),
        )
        .await,
        cli(&app, &["org", "create", "--name", "A", "--plan", "gold"]),
        "--plan",
    );

    let ids = (ids.0.to_owned(), ids.1.to_owned());
    Twins {
        app,
        orgs: ids.clone(),
        ids,
        kind: "",
    }
}

/// Client create, through both sides.
async fn client_twins(backend: Backend) -> Twins {
    let app = spawn_app(backend).await;
    let orgs = twin_orgs(&app, Plan::Starter).await;
    let ids = twin_clients(&app, &orgs).await;
    let orgs = (orgs.0.to_string(), orgs.1.to_string());
    let twins = Twins {
        app,
        orgs,
        ids,
        kind: "clients",
    };
    same_event(&twins.app, twins.org(), "client.created", twins.id()).await;
    twins
}

/// API key create and get, through both sides.
async fn key_twins(backend: Backend) -> Twins {
    let app = spawn_app(backend).await;
    let orgs = twin_orgs(&app, Plan::Starter).await;
    let org = (orgs.0.as_str(), orgs.1.as_str());
    let create = format!("/admin/v1/orgs/{}/api-keys", org.0);
    let body = json!({
        "name": "ci", "scopes": ["payouts:read"], "expires_at": "2099-01-01T00:00:00Z",
        "rate_limit_per_minute": 120, "ip_allowlist": ["203.0.113.0/24"], "metadata": {"team": "payments"},
    });
    let (status, by_api) = http(&app, Method::POST, &create, Some(body)).await;
    assert_eq!(status, 201, "{by_api}");
    let by_cli = cli_ok(
        &app,
        &[
            "api-key",
            "create",
            "--org",
            org.1,
            "--name",
            "ci",
            "--scope",
            "payouts:read",
            "--expires-at",
            "2099-01-01T00:00:00Z",
            "--rate-limit-per-minute",
            "120",
            "--ip-allow",
            "203.0.113.0/24",
            "--metadata",
            r#"{"team":"payments"}"#,
        ],
    );
    for answer in [&by_api, &by_cli] {
        let key = answer["key"].as_str().unwrap();
        assert!(
            key.starts_with(answer["prefix"].as_str().unwrap()),
            "{answer}"
        );
    }
    assert_same(&comparable(&by_api), &comparable(&by_cli));
    let ids = (
        by_api["id"].as_str().unwrap().to_owned(),
        by_cli["id"].as_str().unwrap().to_owned(),
    );
    let id = (ids.0.as_str(), ids.1.as_str());
    same_event(&app, org, "api_key.created", id).await;
    let twins = Twins {
        orgs: (org.0.to_owned(), org.1.to_owned()),
        ids: ids.clone(),
        app,
        kind: "api-keys",
    };
    let got = cli_ok(&twins.app, &["api-key", "get", "--org", org.1, id.1]);
    assert_same(&twins.stored(1).await, &comparable(&got));
    twins
}

async fn organisation_create(backend: Backend) {
    org_twins(backend).await;
}

async fn client_create(backend: Backend) {
    client_twins(backend).await;
}

async fn api_key_create(backend: Backend) {
    key_twins(backend).await;
}

async fn client_create_validation_and_plan(backend: Backend) {
    let t = client_twins(backend).await;
    let (app, org) = (&t.app, t.org());
    // Validation and the plan, on creation.
    let create = format!("/admin/v1/orgs/{}/clients", org.0);
    let past = json!({"name": "x", "scopes": ["a"], "expires_at": "2001-01-01T00:00:00Z"});
    same_refusal(
        http(app, Method::POST, &create, Some(past)).await,
        cli(
            app,
            &[
                "client",
                "create",
                "--org",
                org.1,
                "--name",
                "x",
                "--scope",
                "a",
                "--expires-at",
                "2001-01-01T00:00:00Z",
            ],
        ),
        "--expires-at",
    );
    let fast = json!({"name": "x", "scopes": ["a"], "rate_limit_per_minute": 0});
    same_refusal(
        http(app, Method::POST, &create, Some(fast)).await,
        cli(
            app,
            &[
                "client",
                "create",
                "--org",
                org.1,
                "--name",
                "x",
                "--scope",
                "a",
                "--rate-limit-per-minute",
                "0",
            ],
        ),
        "--rate-limit-per-minute",
    );
    let free = twin_orgs(app, Plan::Free).await;
    let path = format!("/admin/v1/orgs/{}/clients", free.0);
    let (status, problem) = http(
        app,
        Method::POST,
        &path,
        Some(json!({"name": "x", "scopes": ["a"]})),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("API_ACCESS_NOT_AVAILABLE"))
    );
    same_refusal(
        (status, problem),
        cli(
            app,
            &[
                "client",
                "create",
                "--org",
                free.1.as_str(),
                "--name",
                "x",
                "--scope",
                "a",
            ],
        ),
        "",
    );
}

async fn client_update(backend: Backend) {
    let t = client_twins(backend).await;
    let (app, org, id) = (&t.app, t.org(), t.id());
    // Update.
    let change = json!({"name": "ci-2", "scopes": ["payouts:read"], "rate_limit_per_minute": null, "expires_at": null});
    let (status, body) = http(
        app,
        Method::PATCH,
        &format!("/admin/v1/orgs/{}/clients/{}", org.0, id.0),
        Some(change),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    cli_ok(
        app,
        &[
            "client",
            "update",
            id.1,
            "--name",
            "ci-2",
            "--scope",
            "payouts:read",
            "--no-rate-limit",
            "--no-expiry",
        ],
    );
    assert_same(&t.stored(0).await, &t.stored(1).await);
    assert_same(
        &t.stored(1).await,
        &comparable(&cli_ok(app, &["client", "get", id.1])),
    );
    same_event(app, org, "client.updated", id).await;
    same_refusal(
        http(
            app,
            Method::PATCH,
            &format!("/admin/v1/orgs/{}/clients/{}", org.0, id.0),
            Some(json!({"ip_allowlist": ["nowhere"]})),
        )
        .await,
        cli(app, &["client", "update", id.1, "--ip-allow", "nowhere"]),
        "--ip-allow",
    );
}

async fn client_secret_rotation(backend: Backend) {
    let t = client_twins(backend).await;
    let (app, org, id) = (&t.app, t.org(), t.id());
    // A new secret; the old one keeps working for the grace period.
    let path = format!("/admin/v1/orgs/{}/clients/{}/rotate-secret", org.0, id.0);
    let (status, rotated) = http(
        app,
        Method::POST,
        &path,
        Some(json!({"grace_period_seconds": 60})),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let rotated_by_cli = cli_ok(
        app,
        &[
            "client",
            "rotate-secret",
            id.1,
            "--grace-period-seconds",
            "60",
        ],
    );
    assert_same(&comparable(&rotated), &comparable(&rotated_by_cli));
    same_event(app, org, "client.secret_rotated", id).await;
    same_refusal(
        http(
            app,
            Method::POST,
            &path,
            Some(json!({"grace_period_seconds": -1})),
        )
        .await,
        cli(
            app,
            &["client", "rotate-secret", id.1, "--grace-period-seconds=-1"],
        ),
        "--grace-period-seconds",
    );
}

async fn client_status(backend: Backend) {
    let t = client_twins(backend).await;
    let (app, org, id) = (&t.app, t.org(), t.id());
    // Deactivate, activate.
    for (verb, action) in [
        ("deactivate", "client.deactivated"),
        ("activate", "client.activated"),
    ] {
        let path = format!("/admin/v1/orgs/{}/clients/{}/{verb}", org.0, id.0);
        assert_eq!(http(app, Method::POST, &path, None).await.0, 200);
        cli_ok(app, &["client", verb, id.1]);
        assert_same(&t.stored(0).await, &t.stored(1).await);
        same_event(app, org, action, id).await;
    }
}

async fn client_list_and_get(backend: Backend) {
    let t = client_twins(backend).await;
    let (app, org) = (&t.app, t.org());
    // Both list the same.
    let listed = cli_ok(app, &["client", "list", "--org", org.1]);
    let (_, page) = http(
        app,
        Method::GET,
        &format!("/admin/v1/orgs/{}/clients", org.0),
        None,
    )
    .await;
    assert_same(
        &Value::from(by_name(&listed["clients"])),
        &Value::from(by_name(&page["items"])),
    );
}

async fn client_delete(backend: Backend) {
    let t = client_twins(backend).await;
    let (app, org, id) = (&t.app, t.org(), t.id());
    // Delete.
    let path = format!("/admin/v1/orgs/{}/clients/{}", org.0, id.0);
    assert_eq!(http(app, Method::DELETE, &path, None).await.0, 204);
    cli_ok(app, &["client", "delete", id.1]);
    assert_eq!(http(app, Method::GET, &path, None).await.0, 404);
    assert!(cli(app, &["client", "get", id.1])
        .unwrap_err()
        .contains("does not exist"));
    same_event(app, org, "client.deleted", id).await;
}

async fn api_key_create_validation_and_plan(backend: Backend) {
    let t = key_twins(backend).await;
    let (app, org) = (&t.app, t.org());
    let create = format!("/admin/v1/orgs/{}/api-keys", org.0);
    // Validation, and the plan: starter holds two keys, free none.
    let big = json!({"name": "x", "scopes": ["a:read"], "metadata": {"blob": "x".repeat(5000)}});
    let blob = json!({"blob": "x".repeat(5000)}).to_string();
    same_refusal(
        http(app, Method::POST, &create, Some(big)).await,
        cli(
            app,
            &[
                "api-key",
                "create",
                "--org",
                org.1,
                "--name",
                "x",
                "--scope",
                "a:read",
                "--metadata",
                &blob,
            ],
        ),
        "--metadata",
    );
    let second = json!({"name": "second", "scopes": ["a:read"]});
    assert_eq!(
        http(app, Method::POST, &create, Some(second.clone()))
            .await
            .0,
        201
    );
    cli_ok(
        app,
        &[
            "api-key", "create", "--org", org.1, "--name", "second", "--scope", "a:read",
        ],
    );
    let (status, full) = http(app, Method::POST, &create, Some(second)).await;
    assert_eq!(
        (status, full["code"].as_str()),
        (403, Some("PLAN_LIMIT_REACHED"))
    );
    same_refusal(
        (status, full),
        cli(
            app,
            &[
                "api-key", "create", "--org", org.1, "--name", "third", "--scope", "a:read",
            ],
        ),
        "",
    );
    let free = twin_orgs(app, Plan::Free).await;
    let (status, problem) = http(
        app,
        Method::POST,
        &format!("/admin/v1/orgs/{}/api-keys", free.0),
        Some(json!({"name": "x", "scopes": ["a:read"]})),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("API_ACCESS_NOT_AVAILABLE"))
    );
    same_refusal(
        (status, problem),
        cli(
            app,
            &[
                "api-key",
                "create",
                "--org",
                free.1.as_str(),
                "--name",
                "x",
                "--scope",
                "a:read",
            ],
        ),
        "",
    );
}

async fn api_key_update(backend: Backend) {
    let t = key_twins(backend).await;
    let (app, org, id) = (&t.app, t.org(), t.id());
    // Update.
    let path = format!("/admin/v1/orgs/{}/api-keys/{}", org.0, id.0);
    let change = json!({"name": "ci-2", "rate_limit_per_minute": 60, "expires_at": null, "metadata": {"team": "risk"}});
    assert_eq!(http(app, Method::PATCH, &path, Some(change)).await.0, 200);
    cli_ok(
        app,
        &[
            "api-key",
            "update",
            "--org",
            org.1,
            id.1,
            "--name",
            "ci-2",
            "--rate-limit-per-minute",
            "60",
            "--no-expiry",
            "--metadata",
            r#"{"team":"risk"}"#,
        ],
    );
    assert_same(&t.stored(0).await, &t.stored(1).await);
    same_event(app, org, "api_key.updated", id).await;
    same_refusal(
        http(app, Method::PATCH, &path, Some(json!({"scopes": [""]}))).await,
        cli(
            app,
            &["api-key", "update", "--org", org.1, id.1, "--scope", ""],
        ),
        "--scope",
    );
}

async fn api_key_status(backend: Backend) {
    let t = key_twins(backend).await;
    let (app, org, id) = (&t.app, t.org(), t.id());
    let path = format!("/admin/v1/orgs/{}/api-keys/{}", org.0, id.0);
    // Deactivate, activate.
    for (verb, action) in [
        ("deactivate", "api_key.deactivated"),
        ("activate", "api_key.activated"),
    ] {
        assert_eq!(
            http(app, Method::POST, &format!("{path}/{verb}"), None)
                .await
                .0,
            200
        );
        cli_ok(app, &["api-key", verb, "--org", org.1, id.1]);
        assert_same(&t.stored(0).await, &t.stored(1).await);
        same_event(app, org, action, id).await;
    }
}

async fn api_key_usage_and_list(backend: Backend) {
    let t = key_twins(backend).await;
    let (app, org, id) = (&t.app, t.org(), t.id());
    let path = format!("/admin/v1/orgs/{}/api-keys/{}", org.0, id.0);
    // Usage and listing read the same.
    let usage_api = http(
        app,
        Method::GET,
        &format!("{path}/usage?granularity=day"),
        None,
    )
    .await
    .1;
    let usage_cli = cli_ok(
        app,
        &[
            "api-key",
            "usage",
            "--org",
            org.1,
            id.1,
            "--granularity",
            "day",
        ],
    );
    assert_eq!(
        comparable(&usage_api)["items"],
        comparable(&usage_cli)["items"]
    );
    same_refusal(
        http(
            app,
            Method::GET,
            &format!("{path}/usage?granularity=week"),
            None,
        )
        .await,
        cli(
            app,
            &[
                "api-key",
                "usage",
                "--org",
                org.1,
                id.1,
                "--granularity",
                "week",
            ],
        ),
        "--granularity",
    );
    let listed = cli_ok(
        app,
        &["api-key", "list", "--org", org.1, "--status", "active"],
    );
    let (_, page) = http(
        app,
        Method::GET,
        &format!("/admin/v1/orgs/{}/api-keys?status=active", org.0),
        None,
    )
    .await;
    assert_same(
        &Value::from(by_name(&listed["api_keys"])),
        &Value::from(by_name(&page["items"])),
    );
}

async fn api_key_roll_and_delete(backend: Backend) {
    let t = key_twins(backend).await;
    let (app, org, id) = (&t.app, t.org(), t.id());
    let path = format!("/admin/v1/orgs/{}/api-keys/{}", org.0, id.0);
    // Roll (the plan's overflow allows it), then delete.
    let (status, rolled) = http(
        app,
        Method::POST,
        &format!("{path}/roll"),
        Some(json!({"grace_period_seconds": 60})),
    )
    .await;
    assert_eq!(status, 201, "{rolled}");
    let rolled_by_cli = cli_ok(
        app,
        &[
            "api-key",
            "roll",
            "--org",
            org.1,
            id.1,
            "--grace-period-seconds",
            "60",
        ],
    );
    assert_same(&comparable(&rolled), &comparable(&rolled_by_cli));
    same_event(app, org, "api_key.rolled", id).await;
    assert_eq!(http(app, Method::DELETE, &path, None).await.0, 204);
    cli_ok(app, &["api-key", "delete", "--org", org.1, id.1]);
    same_event(app, org, "api_key.deleted", id).await;
}

async fn audit_trail_and_deliveries(backend: Backend) {
    let t = key_twins(backend).await;
    let (app, org) = (&t.app, t.org());
    // The trails read the same from both sides (the CLI's own events are
    // `cli`'s, the API's `root`'s).
    let trail = cli_ok(app, &["audit-events", "--org", org.1]);
    let (_, page) = http(
        app,
        Method::GET,
        &format!("/admin/v1/orgs/{}/audit-events?limit=200", org.1),
        None,
    )
    .await;
    assert_eq!(trail["audit_events"], page["items"]);
    let deliveries = cli_ok(app, &["webhook-deliveries", "--org", org.1]);
    let (_, page) = http(
        app,
        Method::GET,
        &format!("/admin/v1/orgs/{}/webhook-deliveries", org.1),
        None,
    )
    .await;
    assert_eq!(deliveries["webhook_deliveries"], page["items"]);
}

async fn organisation_update(backend: Backend) {
    let t = org_twins(backend).await;
    let (app, ids) = (&t.app, t.id());
    // Update: the stored result, read back through the API for both.
    let change = json!({"name": "Acme Ltd", "plan": "professional", "webhook_url": "https://hooks.example.test/k"});
    let (status, updated) = http(
        app,
        Method::PATCH,
        &format!("/admin/v1/orgs/{}", ids.0),
        Some(change),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    let updated_by_cli = cli_ok(
        app,
        &[
            "org",
            "update",
            ids.1,
            "--name",
            "Acme Ltd",
            "--plan",
            "professional",
            "--webhook-url",
            "https://hooks.example.test/k",
        ],
    );
    for answer in [&updated, &updated_by_cli] {
        assert!(
            answer["webhook_secret"]
                .as_str()
                .unwrap()
                .starts_with("kwhs_"),
            "{answer}"
        );
    }
    let stored_api = http(app, Method::GET, &format!("/admin/v1/orgs/{}", ids.0), None)
        .await
        .1;
    let stored_cli = http(app, Method::GET, &format!("/admin/v1/orgs/{}", ids.1), None)
        .await
        .1;
    assert_eq!(stored_api["name"], "Acme Ltd");
    assert_same(&comparable(&stored_api), &comparable(&stored_cli));
    assert_same(
        &comparable(&stored_cli),
        &comparable(&cli_ok(app, &["org", "get", ids.1])),
    );
    same_event(app, ids, "organisation.updated", ids).await;
    same_refusal(
        http(
            app,
            Method::PATCH,
            &format!("/admin/v1/orgs/{}", ids.0),
            Some(json!({"plan": "gold"})),
        )
        .await,
        cli(app, &["org", "update", ids.1, "--plan", "gold"]),
        "--plan",
    );
    same_refusal(
        http(
            app,
            Method::PATCH,
            &format!("/admin/v1/orgs/{}", ids.0),
            Some(json!({"webhook_url": "http://localhost/x"})),
        )
        .await,
        cli(
            app,
            &[
                "org",
                "update",
                ids.1,
                "--webhook-url",
                "http://localhost/x",
            ],
        ),
        "--webhook-url",
    );
}

async fn organisation_webhook_secret(backend: Backend) {
    let t = org_twins(backend).await;
    let (app, ids) = (&t.app, t.id());
    // A new webhook secret.
    let path = format!("/admin/v1/orgs/{}/webhook-secret", ids.0);
    let (status, rotated) = http(app, Method::POST, &path, None).await;
    assert_eq!(status, 200, "{rotated}");
    let rotated_by_cli = cli_ok(app, &["org", "rotate-webhook-secret", ids.1]);
    for answer in [&rotated, &rotated_by_cli] {
        assert!(
            answer["webhook_secret"]
                .as_str()
                .unwrap()
                .starts_with("kwhs_"),
            "{answer}"
        );
    }
    assert_ne!(rotated["webhook_secret"], rotated_by_cli["webhook_secret"]);
    same_event(app, ids, "organisation.webhook_secret_rotated", ids).await;
}

async fn organisation_list(backend: Backend) {
    let t = org_twins(backend).await;
    let app = &t.app;
    // Both list what they made.
    let listed = cli_ok(app, &["org", "list"]);
    let (_, page) = http(app, Method::GET, "/admin/v1/orgs?limit=200", None).await;
    let names = |items: &Value| {
        let mut names: Vec<String> = items
            .as_array()
            .unwrap()
            .iter()
            .map(|o| format!("{} {}", o["id"], o["name"]))
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&listed["organisations"]), names(&page["items"]));
}

on_both_backends!(
    organisation_create,
    organisation_update,
    organisation_webhook_secret,
    organisation_list,
    client_create,
    client_create_validation_and_plan,
    client_update,
    client_secret_rotation,
    client_status,
    client_list_and_get,
    client_delete,
    api_key_create,
    api_key_create_validation_and_plan,
    api_key_update,
    api_key_status,
    api_key_usage_and_list,
    api_key_roll_and_delete,
    audit_trail_and_deliveries,
);
