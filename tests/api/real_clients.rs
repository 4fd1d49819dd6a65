//! `private_key_jwt` from real clients, unchanged and only configured:
//! Python authlib's `PrivateKeyJWT` and Node openid-client's `PrivateKeyJwt`
//! (and openid-client's OpenID Connect discovery, oauth4webapi's DPoP),
//! at the versions `tests/clients/` pins, run as child processes. They get a
//! token that a resource server accepts, and a wrong `kid` gets them none.
//! `tests/clients/install.sh` installs them; the tests run it when they do
//! not find them, and fail if it fails.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::{json, Value};

use crate::example_resource_server::start_jwks_example;
use crate::on_both_backends;
use crate::support::client_keys::{client_with_key, ClientKeyPair};
use crate::support::helpers::{
    spawn_app, spawn_app_with, Backend, TestApp, TestClient, API, ROOT_TOKEN,
};
use crate::support::installed_clients::{clients_dir, ensure_installed, venv_python};
use crate::support::jwt_verify::verify;

#[derive(Clone, Copy, Debug)]
enum RealClient {
    Authlib,
    OpenidClient,
    /// openid-client's OpenID Connect discovery (node/discovery.mjs).
    OpenidClientDiscovery,
    /// oauth4webapi's DPoP (node/dpop.mjs).
    Oauth4webapi,
}

impl RealClient {
    /// The interpreter and the script, installed at the versions pinned now.
    fn program(self) -> (PathBuf, PathBuf) {
        let clients = clients_dir();
        match self {
            Self::Authlib => (venv_python(), clients.join("python/private_key_jwt.py")),
            Self::OpenidClient | Self::OpenidClientDiscovery | Self::Oauth4webapi => {
                ensure_installed(
                    &clients.join("node/package-lock.json"),
                    &clients.join("node/node_modules/.keyward-package-lock.json"),
                );
                let script = match self {
                    Self::OpenidClient => "node/private_key_jwt.mjs",
                    Self::OpenidClientDiscovery => "node/discovery.mjs",
                    _ => "node/dpop.mjs",
                };
                (PathBuf::from("node"), clients.join(script))
            }
        }
    }

    /// Runs the client for `client` with the private key of `key` under
    /// `kid`: its token response, or why it failed (its standard error).
    async fn token(
        self,
        app: &TestApp,
        client: &TestClient,
        key: &ClientKeyPair,
        alg: &str,
        kid: &str,
    ) -> Result<Value, String> {
        let pem = app.dir.path().join(format!("{}.pem", key.kid));
        std::fs::write(&pem, openssl_pem(key)).unwrap();
        let pem = pem.to_str().unwrap();
        let token_url = app.url("/oauth/token");
        self.run(&[
            ("ISSUER", &app.address),
            ("TOKEN_URL", &token_url),
            ("CLIENT_ID", &client.id),
            ("PRIVATE_KEY_PEM_FILE", pem),
            ("KEY_ID", kid),
            ("ALG", alg),
            ("SCOPE", "payouts:read"),
        ])
        .await
    }

    /// Runs the client with `env`: what it printed as JSON, or why it
    /// failed (its standard error).
    async fn run(self, env: &[(&str, &str)]) -> Result<Value, String> {
        let (interpreter, script) = self.program();
        let mut command = Command::new(&interpreter);
        command
            .arg(&script)
            .envs(env.iter().copied())
            // A proxy of the environment must not stand between it and us.
            .env("NO_PROXY", "127.0.0.1")
            .stdin(Stdio::null());
        // Blocking: the server runs on this test's runtime.
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{self:?}: cannot run {}: {e}", interpreter.display()));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            return Err(format!("{}: {stderr}{stdout}", output.status));
        }
        serde_json::from_str(&stdout).map_err(|e| format!("stdout is not JSON ({e}): {stdout}"))
    }
}

/// Runs the install script once per test run (it does nothing when the
/// pins are installed), so that `cargo test` alone runs these tests.
/// The private key as `openssl genpkey` writes it. ring writes Ed25519
/// keys as PKCS#8 v2 (RFC 5958: the seed and the public key), which the
/// OpenSSL 3.0 under Node and pyca/cryptography do not read; v1 is the seed.
fn openssl_pem(key: &ClientKeyPair) -> String {
    const V2_ED25519: [u8; 16] =
        *b"\x30\x51\x02\x01\x01\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20";
    const V1_ED25519: [u8; 16] =
        *b"\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20";
    let der = pem::parse(&key.private_pem).unwrap().into_contents();
    match der.strip_prefix(&V2_ED25519) {
        Some(rest) => {
            let v1 = [&V1_ED25519[..], &rest[..32]].concat();
            pem::encode(&pem::Pem::new("PRIVATE KEY", v1))
        }
        None => key.private_pem.clone(),
    }
}

/// A new key pair for the JWS algorithm `alg`.
fn key_for(alg: &str) -> ClientKeyPair {
    let kid = alg.to_lowercase();
    match alg {
        "ES256" => ClientKeyPair::es256(&kid),
        "EdDSA" => ClientKeyPair::ed25519(&kid),
        "RS256" => ClientKeyPair::rsa(&kid, Algorithm::RS256),
        "PS256" => ClientKeyPair::rsa(&kid, Algorithm::PS256),
        _ => unreachable!("{alg}"),
    }
}

/// With a key of each of `algs`, `real` gets a token that a resource server
/// accepts as the client's. Every algorithm is tried before failing.
async fn gets_tokens(real: RealClient, backend: Backend, algs: &[&str]) {
    let app = spawn_app(backend).await;
    let mut failures = Vec::new();
    for alg in algs {
        let key = key_for(alg);
        let client = client_with_key(&app, &key).await;
        let response = match real.token(&app, &client, &key, alg, &key.kid).await {
            Ok(response) => response,
            Err(error) => {
                failures.push(format!("{alg}: {error}"));
                continue;
            }
        };
        // Case-insensitive (RFC 6749 §5.1); openid-client lowercases it.
        let token_type = response["token_type"].as_str().unwrap_or_default();
        assert!(
            token_type.eq_ignore_ascii_case("bearer"),
            "{alg}: {response}"
        );
        assert_eq!(response["scope"], "payouts:read", "{alg}: {response}");
        let token = response["access_token"].as_str().unwrap();
        let verified = verify(&app, token, &app.address)
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(verified.claims["client_id"], client.id.as_str(), "{alg}");
    }
    assert!(
        failures.is_empty(),
        "{real:?} got no token:\n{}",
        failures.join("\n")
    );
}

async fn authlib_gets_a_token(backend: Backend) {
    gets_tokens(
        RealClient::Authlib,
        backend,
        &["ES256", "EdDSA", "RS256", "PS256"],
    )
    .await;
}

/// openid-client signs with an Ed25519 key as `Ed25519` (RFC 9864), not
/// `EdDSA`; the server takes both names.
async fn openid_client_gets_a_token(backend: Backend) {
    gets_tokens(
        RealClient::OpenidClient,
        backend,
        &["ES256", "EdDSA", "RS256", "PS256"],
    )
    .await;
}

on_both_backends!(authlib_gets_a_token, openid_client_gets_a_token);

/// The harness sees a refusal: told a kid the client never registered,
/// each real client fails, and says why.
#[tokio::test]
async fn a_kid_never_registered_gets_no_token() {
    let app = spawn_app(Backend::Sqlite).await;
    let key = ClientKeyPair::es256("registered");
    let client = client_with_key(&app, &key).await;
    for real in [RealClient::Authlib, RealClient::OpenidClient] {
        let refused = real.token(&app, &client, &key, "ES256", "unknown").await;
        let error = refused.expect_err("a kid the client never registered");
        assert!(error.contains("invalid_client"), "{real:?}: {error}");
    }
}

/// oauth4webapi gets a DPoP-bound token from a server that asks for its
/// nonce, for a client held to DPoP, and uses it with a fresh proof at the
/// example resource server, which checks the proof against the token.
async fn oauth4webapi_gets_a_dpop_token_and_uses_it(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.dpop_nonce = true).await;
    let client = app.create_client(&["payouts:read"], &[API]).await;
    let path = format!("/admin/v1/orgs/{}/clients/{}", client.org_id, client.id);
    let held = json!({"dpop_bound_access_tokens": true});
    let (status, body) = app
        .admin(Method::PATCH, &path, ROOT_TOKEN, Some(held))
        .await;
    assert_eq!(status, 200, "{body}");
    let resource_url = start_jwks_example(&app).await;
    let output = RealClient::Oauth4webapi
        .run(&[
            ("ISSUER", &app.address),
            ("CLIENT_ID", &client.id),
            ("CLIENT_SECRET", &client.secret),
            ("SCOPE", "payouts:read"),
            ("RESOURCE", API),
            ("RESOURCE_URL", &resource_url),
        ])
        .await
        .unwrap_or_else(|e| panic!("oauth4webapi: {e}"));
    // oauth4webapi lowercases the token type.
    assert_eq!(output["token_type"], "dpop", "{output}");
    assert_eq!(output["scope"], "payouts:read", "{output}");
    assert_eq!(output["status"], 200, "{output}");
    assert_eq!(output["body"]["payouts"][0]["id"], "po_1", "{output}");
}

on_both_backends!(oauth4webapi_gets_a_dpop_token_and_uses_it);

/// openid-client's default discovery reads `/.well-known/openid-configuration`:
/// it takes the document as it is (no ID token fields) and gets a token
/// there that verifies against the discovered key set.
async fn openid_client_discovers_the_issuer_the_oidc_way(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.create_client(&["payouts:read"], &[API]).await;
    let output = RealClient::OpenidClientDiscovery
        .run(&[
            ("ISSUER", &app.address),
            ("CLIENT_ID", &client.id),
            ("CLIENT_SECRET", &client.secret),
            ("SCOPE", "payouts:read"),
        ])
        .await
        .unwrap_or_else(|e| panic!("openid-client discovery: {e}"));
    let metadata = &output["metadata"];
    assert_eq!(metadata["issuer"], app.address.as_str(), "{output}");
    assert_eq!(
        metadata["jwks_uri"],
        app.url("/.well-known/jwks.json").as_str()
    );
    assert!(metadata
        .get("id_token_signing_alg_values_supported")
        .is_none());
    assert_eq!(output["token"]["scope"], "payouts:read", "{output}");
    let token = output["token"]["access_token"].as_str().unwrap();
    let verified = verify(&app, token, API).await.unwrap();
    assert_eq!(verified.claims["client_id"], client.id.as_str());
}

on_both_backends!(openid_client_discovers_the_issuer_the_oidc_way);
