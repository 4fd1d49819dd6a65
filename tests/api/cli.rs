//! The `keyward` binary: admin commands with --json, configuration layering
//! and errors, and `serve` configured only by a file and the environment.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::on_both_backends;
use crate::support::cli_process::{keyward, keyward_with_env, one_json_object, run, Child};
use crate::support::helpers::{spawn_app, status_and_json, Backend, TestClient};

async fn admin_commands_print_one_json_object(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = one_json_object(&keyward(
        &app,
        &[
            "--json", "org", "create", "--name", "Acme", "--plan", "starter",
        ],
    ));
    let org_id = org["id"].as_str().unwrap();
    assert!(org_id.starts_with("org_"));
    assert_eq!(
        (org["name"].as_str(), org["plan"].as_str()),
        (Some("Acme"), Some("starter"))
    );

    let created = one_json_object(&keyward(
        &app,
        &[
            "client",
            "create",
            "--org",
            org_id,
            "--name",
            "ci",
            "--scope",
            "payouts:write",
            "--scope",
            "wallets:read",
            "--audience",
            crate::support::helpers::API,
            "--json",
        ],
    ));
    assert_eq!(created["org_id"], org_id);
    assert_eq!(
        created["scopes"],
        serde_json::json!(["payouts:write", "wallets:read"])
    );
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("kws_") && secret.len() >= 4 + 43);
    let client = TestClient {
        id: created["client_id"].as_str().unwrap().to_owned(),
        secret: secret.clone(),
        org_id: org_id.to_owned(),
    };

    let listed = one_json_object(&keyward(
        &app,
        &["--json", "client", "list", "--org", org_id],
    ));
    assert_eq!(listed["clients"].as_array().unwrap().len(), 1);
    assert!(
        !listed.to_string().contains(&secret),
        "a listing never shows a secret"
    );
    let orgs = one_json_object(&keyward(&app, &["--json", "org", "list"]));
    assert!(orgs["organisations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["id"] == org_id));

    // The running server serves a client the CLI just created.
    let (status, body) = status_and_json(
        app.post_token(&client, &[("grant_type", "client_credentials")])
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "payouts:read payouts:write wallets:read");

    // Text output names the secret once, too.
    let text = keyward(
        &app,
        &[
            "client", "create", "--org", org_id, "--name", "x", "--scope", "a",
        ],
    );
    assert!(String::from_utf8_lossy(&text.stdout).contains("client_secret: kws_"));

    // --require-dpop holds a client to DPoP; an update lets it go again.
    let held = one_json_object(&keyward(
        &app,
        &[
            "--json",
            "client",
            "create",
            "--org",
            org_id,
            "--name",
            "bound",
            "--scope",
            "a",
            "--require-dpop",
        ],
    ));
    assert_eq!(held["dpop_bound_access_tokens"], true, "{held}");
    let held_id = held["client_id"].as_str().unwrap();
    let released = one_json_object(&keyward(
        &app,
        &[
            "--json",
            "client",
            "update",
            held_id,
            "--require-dpop",
            "false",
        ],
    ));
    assert_eq!(released["dpop_bound_access_tokens"], false, "{released}");

    // The operator trusts an issuer; a client is bound to one of its
    // workloads and unbound again; the issuer is removed.
    let jwks = app.dir.path().join("issuer-jwks.json");
    let issuer_key = crate::support::client_keys::ClientKeyPair::es256("ci");
    std::fs::write(
        &jwks,
        serde_json::json!({"keys": [issuer_key.jwk]}).to_string(),
    )
    .unwrap();
    let issuer = one_json_object(&keyward(
        &app,
        &[
            "--json",
            "issuer",
            "add",
            "--issuer",
            "https://ci.example",
            "--jwks-file",
            jwks.to_str().unwrap(),
        ],
    ));
    assert_eq!(issuer["keys_from"], "static", "{issuer}");
    let listed = one_json_object(&keyward(&app, &["--json", "issuer", "list"]));
    assert_eq!(listed["trusted_issuers"][0]["issuer"], "https://ci.example");
    let bound = one_json_object(&keyward(
        &app,
        &[
            "--json",
            "client",
            "bind",
            &client.id,
            "--issuer",
            "https://ci.example",
            "--subject",
            "repo:octo/*",
            "--glob",
            "--claim",
            "ref=refs/heads/main",
        ],
    ));
    let binding = bound["federated_subjects"][0].clone();
    assert_eq!(binding["subject_match"], "glob", "{bound}");
    assert_eq!(
        binding["claims"],
        serde_json::json!({"ref": "refs/heads/main"})
    );
    assert_eq!(bound["subject_id"], binding["id"]);
    let unbound = one_json_object(&keyward(
        &app,
        &[
            "--json",
            "client",
            "unbind",
            &client.id,
            binding["id"].as_str().unwrap(),
        ],
    ));
    assert_eq!(unbound["federated_subjects"], serde_json::json!([]));
    let bad_claim = keyward(
        &app,
        &[
            "client",
            "bind",
            &client.id,
            "--issuer",
            "https://ci.example",
            "--subject",
            "s",
            "--claim",
            "no-equals-sign",
        ],
    );
    assert!(!bad_claim.status.success());
    assert!(String::from_utf8_lossy(&bad_claim.stderr).contains("NAME=VALUE"));
    let removed = keyward(&app, &["issuer", "remove", issuer["id"].as_str().unwrap()]);
    assert!(removed.status.success(), "{removed:?}");

    // Changes made from the command line are in the audit trail, as `cli`.
    let deactivated = keyward(&app, &["client", "deactivate", &client.id]);
    assert!(deactivated.status.success(), "{deactivated:?}");
    let path = format!("/admin/v1/orgs/{org_id}/audit-events");
    let (status, page) = app
        .admin(
            reqwest::Method::GET,
            &path,
            crate::support::helpers::ROOT_TOKEN,
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let by_cli: Vec<(&str, &str)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "cli")
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["target"]["id"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(by_cli.contains(&("organisation.created", org_id)), "{page}");
    assert!(
        by_cli.contains(&("client.created", client.id.as_str())),
        "{page}"
    );
    assert!(
        by_cli.contains(&("client.deactivated", client.id.as_str())),
        "{page}"
    );
    assert!(
        !page.to_string().contains(&secret),
        "no secret in the trail"
    );
}

async fn admin_commands_reject_bad_input(backend: Backend) {
    let app = spawn_app(backend).await;
    let bad_plan = keyward(&app, &["org", "create", "--name", "Acme", "--plan", "gold"]);
    assert!(!bad_plan.status.success());
    assert!(String::from_utf8_lossy(&bad_plan.stderr).contains("--plan"));

    let unknown_org = keyward(
        &app,
        &[
            "client",
            "create",
            "--org",
            "org_0123456789abcdef0123456789abcdef",
            "--name",
            "x",
            "--scope",
            "a",
        ],
    );
    assert!(!unknown_org.status.success());
    assert!(String::from_utf8_lossy(&unknown_org.stderr).contains("does not exist"));

    let org = app.create_org(keyward::domain::Plan::Starter).await;
    let bad_scope = keyward(
        &app,
        &[
            "client",
            "create",
            "--org",
            org.as_str(),
            "--name",
            "x",
            "--scope",
            "a b",
        ],
    );
    assert!(!bad_scope.status.success());
    assert!(String::from_utf8_lossy(&bad_scope.stderr).contains("--scope"));
}

async fn api_key_create_prints_the_key_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let rs = app
        .create_resource_server(&[crate::support::helpers::API])
        .await;
    let org = app.create_org(keyward::domain::Plan::Starter).await;
    let created = one_json_object(&keyward(
        &app,
        &[
            "--json",
            "api-key",
            "create",
            "--org",
            org.as_str(),
            "--name",
            "ci",
            "--scope",
            "payouts:read",
            "--ip-allow",
            "203.0.113.0/24",
        ],
    ));
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));
    assert_eq!(created["org_id"], org.as_str());
    let check = serde_json::json!({ "key": key, "client_ip": "203.0.113.9" });
    assert_eq!(app.verify_key(&rs, check).await.1["code"], "VALID");

    let listed = keyward(&app, &["--json", "client", "list"]);
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(key));
    let bad = keyward(
        &app,
        &[
            "api-key",
            "create",
            "--org",
            org.as_str(),
            "--name",
            "x",
            "--scope",
            "a:read",
            "--rate-limit-per-minute",
            "0",
        ],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--rate-limit-per-minute"));
}

/// `scope_rate_limits` and `scope_implications` in their environment form:
/// the CLI shows the tier limit a new key gets, and drops an own limit.
async fn tier_limits_are_read_from_the_environment(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_org(keyward::domain::Plan::Starter).await;
    let settings = [
        ("KEYWARD_SCOPE_RATE_LIMITS", "{free = 10, deployment = 100}"),
        ("KEYWARD_SCOPE_IMPLICATIONS", r#"{ops = ["deployment"]}"#),
    ];
    let create = [
        "--json",
        "api-key",
        "create",
        "--org",
        org.as_str(),
        "--name",
        "ops",
        "--scope",
        "ops",
        "--scope",
        "free",
        "--rate-limit-per-minute",
        "7",
    ];
    let created = one_json_object(&keyward_with_env(&app, &settings, &create));
    let own = serde_json::json!({"per_minute": 7, "source": "credential", "scope": null});
    assert_eq!(created["effective_rate_limit"], own);
    let id = created["id"].as_str().unwrap();
    let update = [
        "--json",
        "api-key",
        "update",
        "--org",
        org.as_str(),
        id,
        "--no-rate-limit",
    ];
    let updated = one_json_object(&keyward_with_env(&app, &settings, &update));
    assert_eq!(updated["rate_limit_per_minute"], serde_json::Value::Null);
    let tier = serde_json::json!({"per_minute": 100, "source": "scope", "scope": "deployment"});
    assert_eq!(updated["effective_rate_limit"], tier);
}

on_both_backends!(
    admin_commands_print_one_json_object,
    admin_commands_reject_bad_input,
    api_key_create_prints_the_key_once,
    tier_limits_are_read_from_the_environment,
);

#[test]
fn a_bad_setting_stops_startup_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let db = (
        "KEYWARD_DATABASE_URL",
        format!("sqlite://{}/k.db", dir.path().display()),
    );
    let cases = [
        ("KEYWARD_TOKEN_TTL_SECONDS", "abc", "token_ttl_seconds"),
        (
            "KEYWARD_TOKEN_TTL_SECONDS",
            "5",
            "KEYWARD_TOKEN_TTL_SECONDS",
        ),
        ("KEYWARD_SIGNING_ALG", "HS256", "signing_alg"),
        ("KEYWARD_USAGE_FLUSH_SECONDS", "0", "usage_flush_seconds"),
        ("KEYWARD_LISTEN", "nowhere", "listen"),
        ("KEYWARD_ISSUER", "ftp://x", "KEYWARD_ISSUER"),
        (
            "KEYWARD_DATABASE_URL",
            "mysql://localhost/x",
            "KEYWARD_DATABASE_URL",
        ),
        (
            "KEYWARD_DEFAULT_AUDIENCE",
            "has space",
            "KEYWARD_DEFAULT_AUDIENCE",
        ),
        (
            "KEYWARD_SCOPES_SUPPORTED",
            r#"["payouts:read", "has space"]"#,
            "KEYWARD_SCOPES_SUPPORTED",
        ),
        (
            "KEYWARD_SCOPE_IMPLICATIONS",
            r#"{admin = ["dep loyment"]}"#,
            "KEYWARD_SCOPE_IMPLICATIONS",
        ),
        (
            "KEYWARD_SCOPE_RATE_LIMITS",
            "{free = 0}",
            "KEYWARD_SCOPE_RATE_LIMITS",
        ),
        (
            "KEYWARD_SCOPE_RATE_LIMITS",
            "{admin = 10001}",
            "KEYWARD_SCOPE_RATE_LIMITS",
        ),
        (
            "KEYWARD_SCOPE_RATE_LIMITS",
            r#"{"fr ee" = 10}"#,
            "KEYWARD_SCOPE_RATE_LIMITS",
        ),
        (
            "KEYWARD_SCOPE_RATE_LIMITS",
            "{free = -1}",
            "KEYWARD_SCOPE_RATE_LIMITS",
        ),
        (
            "KEYWARD_AUDIT_RETENTION_DAYS",
            "0",
            "KEYWARD_AUDIT_RETENTION_DAYS",
        ),
        (
            "KEYWARD_AUDIT_RETENTION_DAYS",
            "3651",
            "KEYWARD_AUDIT_RETENTION_DAYS",
        ),
        (
            "KEYWARD_SHUTDOWN_TIMEOUT_SECONDS",
            "3601",
            "KEYWARD_SHUTDOWN_TIMEOUT_SECONDS",
        ),
        ("KEYWARD_NO_SUCH_SETTING", "1", "no_such_setting"),
    ];
    for (key, value, named) in cases {
        let output = run(
            dir.path(),
            &[db.clone(), (key, value.to_owned())],
            &["migrate"],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{key}={value}: {stderr}");
        assert!(stderr.contains(named), "{key}={value}: {stderr}");
    }

    std::fs::write(dir.path().join("keyward.toml"), "token_ttl = 5\n").unwrap();
    let output = run(dir.path(), &[db], &["migrate"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("token_ttl"));
}

#[test]
fn file_variants_read_settings_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("database_url");
    std::fs::write(
        &url_file,
        format!("sqlite://{}/from-file.db\n", dir.path().display()),
    )
    .unwrap();
    let env = [("KEYWARD_DATABASE_URL_FILE", url_file.display().to_string())];
    let migrated = one_json_object(&run(dir.path(), &env, &["--json", "migrate"]));
    assert_eq!(migrated["backend"], "sqlite");
    assert!(dir.path().join("from-file.db").exists());

    let both = [
        env[0].clone(),
        ("KEYWARD_DATABASE_URL", "sqlite://x.db".into()),
    ];
    let output = run(dir.path(), &both, &["migrate"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("KEYWARD_DATABASE_URL_FILE"));
}

/// `keyward serve` from the binary: keyward.toml under the environment.
#[tokio::test]
async fn serve_layers_file_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("keyward.toml"),
        "token_ttl_seconds = 120\nsigning_alg = \"RS256\"\n\n[scope_implications]\nadmin = [\"deployment\"]\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = vec![
        ("KEYWARD_LISTEN", format!("127.0.0.1:{port}")),
        ("KEYWARD_SIGNING_ALG", "EdDSA".to_owned()),
    ];
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("KEYWARD_")) {
        command.env_remove(key);
    }
    let _server = Child(
        command
            .current_dir(dir.path())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = keyward::tls::client();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server did not come up");
    assert!(
        dir.path().join("data/keyward.db").exists(),
        "default SQLite file is created"
    );

    let org = one_json_object(&run(
        dir.path(),
        &env,
        &[
            "--json",
            "org",
            "create",
            "--name",
            "A",
            "--plan",
            "enterprise",
        ],
    ));
    let client = one_json_object(&run(
        dir.path(),
        &env,
        &[
            "--json",
            "client",
            "create",
            "--org",
            org["id"].as_str().unwrap(),
            "--name",
            "c",
            "--scope",
            "admin",
        ],
    ));
    let response = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(
            client["client_id"].as_str().unwrap(),
            client["client_secret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 120, "the file sets the TTL");
    assert_eq!(
        body["scope"], "admin deployment",
        "the file sets implications"
    );
    let header = jsonwebtoken::decode_header(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(
        header.alg,
        jsonwebtoken::Algorithm::EdDSA,
        "the environment wins over the file"
    );
    // keys/ also holds the generated `server-secret`; count the signing keys.
    let key_files: Vec<_> = std::fs::read_dir(dir.path().join("keys"))
        .unwrap()
        .filter(|entry| {
            entry.as_ref().unwrap().path().extension() == Some(std::ffi::OsStr::new("pem"))
        })
        .collect();
    assert_eq!(key_files.len(), 1, "one key generated on first start");
}
