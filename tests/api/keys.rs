//! Key rotation: a token signed by a rotated-out key verifies until that key
//! is retired; the CLI adds and lists keys.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use keyward::crypto::signing_key::generate_pkcs8;
use keyward::crypto::SigningAlgorithm;
use keyward::startup::Application;
use serde_json::Value;

use crate::on_both_backends;
use crate::support::cli_process::keyward;
use crate::support::helpers::{spawn_app_with, Backend, TestApp};
use crate::support::jwt_verify::verify_with;

const ISSUER: &str = "http://keyward.test";

/// Writes a key file as `keys rotate` would, but created `age` seconds ago.
fn write_backdated_key(dir: &Path, age_seconds: i64) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let created = chrono::Utc::now() - chrono::Duration::seconds(age_seconds);
    let kid = format!(
        "{}-{:08x}",
        created.format("%Y%m%dT%H%M%S%.3fZ"),
        rand::random::<u32>()
    );
    let der = generate_pkcs8(SigningAlgorithm::ES256).unwrap();
    let path = dir.join(format!("{kid}.pem"));
    std::fs::write(&path, pem::encode(&pem::Pem::new("PRIVATE KEY", der))).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    kid
}

/// Another replica on the same database and keys/: what it serves now.
struct Replica {
    address: String,
}

async fn start_replica(app: &TestApp) -> Replica {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let replica = Application::build_on(app.settings.clone(), listener)
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", replica.port());
    tokio::spawn(replica.run_until_stopped());
    Replica { address }
}

impl Replica {
    async fn jwks(&self, app: &TestApp) -> jsonwebtoken::jwk::JwkSet {
        let url = format!("{}/.well-known/jwks.json", self.address);
        app.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn token(&self, app: &TestApp, client: &crate::support::helpers::TestClient) -> String {
        let response = app
            .http
            .post(format!("{}/oauth/token", self.address))
            .basic_auth(&client.id, Some(&client.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn rotated_out_key_verifies_until_retired(backend: Backend) {
    let keys_dir = tempfile::tempdir().unwrap();
    let old_kid = write_backdated_key(keys_dir.path(), 2 * 3600);
    let keys_path = keys_dir.path().to_owned();
    let app = spawn_app_with(backend, |s| {
        s.issuer = Some(ISSUER.into());
        s.keys_dir = keys_path;
    })
    .await;
    let client = app.create_client(&["payouts:read"], &[]).await;
    let first = start_replica(&app).await;
    let old_token = first.token(&app, &client).await;
    assert_eq!(kid_of(&old_token), old_kid, "the only key signs");

    let rotated = keyward(&app, &["--json", "keys", "rotate"]);
    assert!(rotated.status.success(), "{rotated:?}");
    let rotated: Value = serde_json::from_slice(&rotated.stdout).unwrap();
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    assert_eq!(rotated["alg"], "ES256");
    assert_eq!(rotated["state"], "active");

    let second = start_replica(&app).await;
    let jwks = second.jwks(&app).await;
    assert_eq!(jwks.keys.len(), 2, "the retiring key stays published");
    verify_with(&jwks, &old_token, ISSUER, ISSUER)
        .expect("a token of the rotated-out key verifies");
    let new_token = second.token(&app, &client).await;
    assert_eq!(kid_of(&new_token), new_kid, "the new key signs");
    verify_with(&jwks, &new_token, ISSUER, ISSUER).unwrap();

    // A key whose successor is older than TTL + leeway is retired.
    write_backdated_key(keys_dir.path(), 3600);
    let third = start_replica(&app).await;
    let jwks = third.jwks(&app).await;
    assert!(
        jwks.find(&old_kid).is_none(),
        "the retired key is no longer published"
    );
    let err = verify_with(&jwks, &old_token, ISSUER, ISSUER).unwrap_err();
    assert!(err.contains("not in the JWKS"), "{err}");

    let listed = keyward(&app, &["--json", "keys", "list"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let states: Vec<(&str, &str)> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap(), k["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states.len(), 3);
    assert_eq!(states[0], (old_kid.as_str(), "retired"));
    assert_eq!(states[1].1, "retiring");
    assert_eq!(states[2], (new_kid.as_str(), "active"));
}

on_both_backends!(rotated_out_key_verifies_until_retired);
