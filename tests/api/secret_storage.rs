//! Secrets stored by how they were born: generated ones as keyed digests,
//! imported ones with argon2id; old argon2id hashes of generated secrets
//! move to the digest on their next success; a changed server secret is
//! caught at start.

use keyward::crypto::password::hash_secret;
use keyward::crypto::ServerSecret;
use keyward::domain::{ApiKeyId, ClientId, Plan, SecretOrigin};
use keyward::metrics::Counters;
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::cli_process::{keyward_with_stdin, one_json_object};
use crate::support::helpers::{spawn_app_with, Backend, TestApp, TestClient, ROOT_TOKEN};

const DIGEST: &str = "$hmac-sha256$k=";
const IMPORTED: &str = "hydra-Zq8xV2mLp0R7tYc4NbWk1sDf";

fn argon2(app: &TestApp) -> u64 {
    Counters::read(&app.counters.argon2_verifications)
}

async fn client_hashes(app: &TestApp, id: &str) -> Vec<(String, SecretOrigin)> {
    let id = ClientId::parse(id).unwrap();
    let found = app.store.client_credentials(&id, 0).await.unwrap().unwrap();
    found
        .secret_hashes
        .into_iter()
        .map(|h| (h.phc, h.origin))
        .collect()
}

async fn key_hash(app: &TestApp, id: &str) -> String {
    let id = ApiKeyId::parse(id).unwrap();
    app.store
        .api_key_credentials(&id)
        .await
        .unwrap()
        .unwrap()
        .phc
}

async fn created_client(app: &TestApp, org: &str, body: Value) -> (u16, Value) {
    let path = format!("/admin/v1/orgs/{org}/clients");
    app.admin(Method::POST, &path, ROOT_TOKEN, Some(body)).await
}

async fn generated_secrets_are_stored_as_keyed_digests(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let org = app.create_org(Plan::Enterprise).await;
    let body = json!({"name": "ci", "scopes": ["payouts:read"]});
    let (status, client) = created_client(&app, org.as_str(), body).await;
    assert_eq!(status, 201, "{client}");
    let (id, secret) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    );
    let stored = client_hashes(&app, id).await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].0.starts_with(DIGEST), "{}", stored[0].0);
    assert_eq!(stored[0].1, SecretOrigin::Generated);
    assert!(!stored[0].0.contains(&secret[4..]));

    let keys = format!("/admin/v1/orgs/{org}/api-keys");
    let body = json!({"name": "k", "scopes": ["payouts:read"]});
    let (_, key) = app.admin(Method::POST, &keys, ROOT_TOKEN, Some(body)).await;
    assert!(key_hash(&app, key["id"].as_str().unwrap())
        .await
        .starts_with(DIGEST));

    let before = argon2(&app);
    assert!(app.oauth2_token(id, secret).await.is_ok());
    assert!(app.oauth2_token(id, "kws_wrong").await.is_err());
    assert_eq!(argon2(&app), before, "digests need no argon2");
}

/// Hashes stored by earlier versions (argon2id of a generated secret) keep
/// working, and the first success stores the digest in their place.
async fn old_argon2_hashes_move_to_the_digest_on_their_next_success(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let client = app.create_client(&["payouts:read"], &[]).await;
    let (rs, _, key) = app.key_to_check(|_| {}).await;
    let client_id = ClientId::parse(&client.id).unwrap();
    let key_id = ApiKeyId::parse(&key.id).unwrap();
    let digest = client_hashes(&app, &client.id).await[0].0.clone();
    let old = hash_secret(&client.secret);
    assert!(app
        .store
        .replace_client_secret_hash(&client_id, &digest, &old)
        .await
        .unwrap());
    let key_digest = key_hash(&app, &key.id).await;
    let old_key = hash_secret(&key.key);
    assert!(app
        .store
        .replace_api_key_hash(&key_id, &key_digest, &old_key)
        .await
        .unwrap());

    // A wrong secret fails against the old hash and changes nothing.
    let before = argon2(&app);
    assert!(app.oauth2_token(&client.id, "kws_wrong").await.is_err());
    assert_eq!(client_hashes(&app, &client.id).await[0].0, old);

    assert!(app.oauth2_token(&client.id, &client.secret).await.is_ok());
    let verdict = app.verify_key(&rs, json!({"key": key.key})).await.1;
    assert_eq!(verdict["code"], "VALID");
    assert_eq!(
        argon2(&app) - before,
        3,
        "the wrong secret, the client, the key"
    );
    let rewritten = client_hashes(&app, &client.id).await;
    assert!(rewritten[0].0.starts_with(DIGEST), "{}", rewritten[0].0);
    assert!(key_hash(&app, &key.id).await.starts_with(DIGEST));
    assert_eq!(Counters::read(&app.counters.secret_hashes_rewritten), 2);

    // From now on, no argon2 for either, here or on another replica.
    let b = app.replica().await;
    let settled = argon2(&app);
    for node in [&app, &b] {
        assert!(node.oauth2_token(&client.id, &client.secret).await.is_ok());
        assert_eq!(
            node.verify_key(&rs, json!({"key": key.key})).await.1["code"],
            "VALID"
        );
    }
    assert_eq!(argon2(&app), settled);
    assert_eq!(argon2(&b), 0);
}

async fn an_imported_secret_is_kept_with_argon2_and_a_weak_one_refused(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let org = app.create_org(Plan::Enterprise).await;
    for (weak, reason) in [
        ("short", "at least 24"),
        ("abababababababababababababab", "different characters"),
        ("correct horse battery staple xx", "printable"),
    ] {
        let body = json!({"name": "moved", "scopes": ["payouts:read"], "client_secret": weak});
        let (status, problem) = created_client(&app, org.as_str(), body).await;
        assert_eq!(status, 400, "{weak}");
        assert_eq!(problem["field"], "client_secret");
        assert!(
            problem["detail"].as_str().unwrap().contains(reason),
            "{problem}"
        );
        assert!(
            !problem.to_string().contains(weak),
            "the secret is not echoed"
        );
    }

    let body = json!({"name": "moved", "scopes": ["payouts:read"], "client_secret": IMPORTED});
    let (status, client) = created_client(&app, org.as_str(), body).await;
    assert_eq!(status, 201, "{client}");
    assert!(
        client.get("client_secret").is_none(),
        "an imported secret is not shown back"
    );
    let id = client["client_id"].as_str().unwrap();
    let stored = client_hashes(&app, id).await;
    assert!(stored[0].0.starts_with("$argon2id$"), "{}", stored[0].0);
    assert_eq!(stored[0].1, SecretOrigin::Imported);

    let before = argon2(&app);
    assert!(app.oauth2_token(id, IMPORTED).await.is_ok());
    assert!(app.oauth2_token(id, IMPORTED).await.is_ok());
    assert_eq!(argon2(&app) - before, 1, "checked once, then remembered");
    assert_eq!(
        client_hashes(&app, id).await[0].0,
        stored[0].0,
        "never rewritten"
    );

    // Rotation may import too; the old secret keeps its grace period.
    let rotate = format!("/admin/v1/orgs/{org}/clients/{id}/rotate-secret");
    let next = "keycloak-0a1B2c3D4e5F6g7H8i9J0kLm";
    let body = json!({"client_secret": next, "grace_period_seconds": 60});
    let (status, rotated) = app
        .admin(Method::POST, &rotate, ROOT_TOKEN, Some(body))
        .await;
    assert_eq!(status, 200, "{rotated}");
    assert!(rotated.get("client_secret").is_none());
    assert!(app.oauth2_token(id, next).await.is_ok());
    assert!(app.oauth2_token(id, IMPORTED).await.is_ok());
    let body = json!({"client_secret": "short"});
    assert_eq!(
        app.admin(Method::POST, &rotate, ROOT_TOKEN, Some(body))
            .await
            .0,
        400
    );

    // The CLI reads one from standard input.
    let args = [
        "--json",
        "client",
        "create",
        "--org",
        org.as_str(),
        "--name",
        "cli",
        "--scope",
        "payouts:read",
        "--secret-stdin",
    ];
    let created = one_json_object(&keyward_with_stdin(&app, &args, &format!("{IMPORTED}\n")));
    assert!(created.get("client_secret").is_none());
    let cli_client = created["client_id"].as_str().unwrap();
    assert_eq!(
        client_hashes(&app, cli_client).await[0].1,
        SecretOrigin::Imported
    );
    assert!(app.oauth2_token(cli_client, IMPORTED).await.is_ok());
    let weak = keyward_with_stdin(&app, &args, "short\n");
    assert!(!weak.status.success());
    let stderr = String::from_utf8_lossy(&weak.stderr);
    assert!(stderr.contains("at least 24"), "{stderr}");
    assert!(!stderr.contains("short\n"));
}

/// Digests are keyed by the server secret. A server given another one
/// refuses to start rather than lock every client out; with the old one as
/// `server_secret_previous` it starts, and each digest moves to the new key
/// on its next use.
async fn a_changed_server_secret_is_caught_at_start(backend: Backend) {
    let old = ServerSecret::try_from("old-server-secret-".repeat(3)).unwrap();
    let new = ServerSecret::try_from("new-server-secret-".repeat(3)).unwrap();
    let app = spawn_app_with(backend, |s| s.server_secret = Some(old.clone())).await;
    let client: TestClient = app.create_client(&["payouts:read"], &[]).await;

    let mut changed = app.settings.clone();
    changed.server_secret = Some(new.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused = keyward::startup::Application::build_on(changed, listener).await;
    let message = format!(
        "{:#}",
        refused.err().expect("a start with another secret fails")
    );
    assert!(message.contains("server_secret_previous"), "{message}");

    let rotated = app
        .replica_with(|s| {
            s.server_secret = Some(new.clone());
            s.server_secret_previous = Some(old.clone());
        })
        .await;
    let before = client_hashes(&app, &client.id).await[0].0.clone();
    assert!(rotated
        .oauth2_token(&client.id, &client.secret)
        .await
        .is_ok());
    let after = client_hashes(&app, &client.id).await[0].0.clone();
    assert!(
        after.starts_with(DIGEST) && after != before,
        "rewritten under the new key"
    );
    assert!(rotated
        .oauth2_token(&client.id, &client.secret)
        .await
        .is_ok());

    // Everything moved: the new secret alone starts.
    let only_new = app
        .replica_with(|s| s.server_secret = Some(new.clone()))
        .await;
    assert!(only_new
        .oauth2_token(&client.id, &client.secret)
        .await
        .is_ok());
}

on_both_backends!(
    generated_secrets_are_stored_as_keyed_digests,
    old_argon2_hashes_move_to_the_digest_on_their_next_success,
    an_imported_secret_is_kept_with_argon2_and_a_weak_one_refused,
    a_changed_server_secret_is_caught_at_start,
);
