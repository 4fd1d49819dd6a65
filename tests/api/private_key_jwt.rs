//! `private_key_jwt` (RFC 7523 §2.2): a client registers public keys and
//! signs its own assertions; each check of the assertion refuses what it
//! should, a replay fails on any replica, and a client can be held to the
//! method.

use jsonwebtoken::Algorithm;
use keyward::domain::Plan;
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::shared_limits::redis_turn;
use crate::support::client_keys::{
    assertion_claims, keys_path, register, ClientKeyPair, ASSERTION_TYPE,
};
use crate::support::helpers::{
    spawn_app, spawn_app_with, status_and_json, Backend, TestApp, TestClient, ROOT_TOKEN,
};
use crate::support::jwt_verify::verify;

/// A client with `key` registered through the management API.
async fn client_with_key(app: &TestApp, key: &ClientKeyPair) -> TestClient {
    let client = app.create_client(&["payouts:read"], &[]).await;
    let (status, body) = register(app, &client, key.registration()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["kid"], key.kid.as_str());
    client
}

/// A client with an ES256 key, and a first assertion of it.
async fn client_with_assertion(app: &TestApp) -> (ClientKeyPair, TestClient, String) {
    let key = ClientKeyPair::es256("k1");
    let client = client_with_key(app, &key).await;
    let assertion = key.assertion(&client.id, &token_endpoint(app));
    (key, client, assertion)
}

async fn token_with_assertion(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    status_and_json(response).await
}

async fn token_with(app: &TestApp, assertion: &str) -> (u16, Value) {
    token_with_assertion(
        app,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ],
    )
    .await
}

fn token_endpoint(app: &TestApp) -> String {
    app.url("/oauth/token")
}

async fn every_allowed_algorithm_gets_a_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let keys = [
        ClientKeyPair::es256("es"),
        ClientKeyPair::ed25519("ed"),
        ClientKeyPair::rsa("rs", Algorithm::RS256),
        ClientKeyPair::rsa("ps", Algorithm::PS256),
    ];
    for key in &keys {
        let client = client_with_key(&app, key).await;
        // The token endpoint's URL and the issuer are both our audience.
        for audience in [token_endpoint(&app), app.address.clone()] {
            let (status, body) = token_with(&app, &key.assertion(&client.id, &audience)).await;
            assert_eq!(status, 200, "{} to {audience}: {body}", key.kid);
            let token = body["access_token"].as_str().unwrap();
            let verified = verify(&app, token, &app.address).await.unwrap();
            assert_eq!(verified.claims["client_id"], client.id.as_str());
        }
    }
    // client_id beside the assertion is fine when it names the same client.
    let key = &keys[0];
    let client = client_with_key(&app, key).await;
    let assertion = key.assertion(&client.id, &token_endpoint(&app));
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client.id.as_str()),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ];
    assert_eq!(token_with_assertion(&app, &form).await.0, 200);
}

async fn each_assertion_check_refuses(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = ClientKeyPair::es256("k1");
    let client = client_with_key(&app, &key).await;
    let other = client_with_key(&app, &ClientKeyPair::es256("k1")).await;
    let audience = token_endpoint(&app);
    let now = chrono::Utc::now().timestamp();
    let good = assertion_claims(&client.id, &audience);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = good.clone();
        claims["jti"] = json!(uuid::Uuid::new_v4().to_string());
        change(&mut claims);
        key.sign(&claims)
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("iss", with(&|c| c["iss"] = json!(other.id)), "iss and sub"),
        ("sub", with(&|c| c["sub"] = json!(other.id)), "iss and sub"),
        (
            "no sub",
            with(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
            "iss and sub",
        ),
        (
            "aud",
            with(&|c| c["aud"] = json!("https://elsewhere.test")),
            "aud must be",
        ),
        (
            "expired",
            with(&|c| c["exp"] = json!(now - 120)),
            "has expired",
        ),
        (
            "no exp",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            "needs exp",
        ),
        (
            "long-lived",
            with(&|c| c["exp"] = json!(now + 3600)),
            "at most 300 s",
        ),
        (
            "iat ahead",
            with(&|c| c["iat"] = json!(now + 600)),
            "not valid yet",
        ),
        (
            "nbf ahead",
            with(&|c| c["nbf"] = json!(now + 600)),
            "not valid yet",
        ),
        (
            "no jti",
            with(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            "needs a jti",
        ),
        (
            "other key",
            ClientKeyPair::es256("k1").assertion(&client.id, &audience),
            "client authentication failed",
        ),
        (
            "unknown kid",
            ClientKeyPair::es256("k9").assertion(&client.id, &audience),
            "client authentication failed",
        ),
        ("not a JWS", "not.a.jws".into(), "not a compact JWS"),
    ];
    for (what, assertion, description) in cases {
        let (status, body) = token_with(&app, &assertion).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{what}: {body}"
        );
        let text = body["error_description"].as_str().unwrap();
        assert!(text.contains(description), "{what}: {text}");
    }

    // alg none and HMAC are refused before any key is looked at.
    let b64 = |v: &Value| base64_url(v.to_string().as_bytes());
    let unsigned = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&good));
    let hmac = format!(
        "{}.{}.c2ln",
        b64(&json!({"alg": "HS256", "kid": "k1"})),
        b64(&good)
    );
    for forged in [unsigned, hmac] {
        let (status, body) = token_with(&app, &forged).await;
        assert_eq!(status, 401, "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("is not accepted"),
            "{body}"
        );
    }

    // A good assertion works once; the same assertion again is a replay.
    let once = key.sign(&good);
    assert_eq!(token_with(&app, &once).await.0, 200);
    let (status, body) = token_with(&app, &once).await;
    assert_eq!(status, 401);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("used before"),
        "{body}"
    );

    // Unknown clients, a mismatched client_id, and mixed methods.
    let stranger = key.assertion("cl_00000000000000000000000000000000", &audience);
    assert_eq!(token_with(&app, &stranger).await.0, 401);
    let fresh = key.assertion(&client.id, &audience);
    let mismatched = [
        ("grant_type", "client_credentials"),
        ("client_id", other.id.as_str()),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", fresh.as_str()),
    ];
    let (status, body) = token_with_assertion(&app, &mismatched).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let with_secret = [
        ("grant_type", "client_credentials"),
        ("client_secret", client.secret.as_str()),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", fresh.as_str()),
    ];
    let (status, body) = token_with_assertion(&app, &with_secret).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let wrong_type = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", "urn:example:saml"),
        ("client_assertion", fresh.as_str()),
    ];
    let (status, body) = token_with_assertion(&app, &wrong_type).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    // After all these refusals, the client's good assertion still works.
    assert_eq!(token_with(&app, &fresh).await.0, 200);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn a_replay_on_another_replica_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let replica = app.replica().await;
    let (key, client, assertion) = client_with_assertion(&app).await;
    assert_eq!(token_with(&app, &assertion).await.0, 200);
    let (status, body) = token_with(&replica, &assertion).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("used before"));
    // And the other way round, with a new assertion.
    let second = key.assertion(&client.id, &token_endpoint(&app));
    assert_eq!(token_with(&replica, &second).await.0, 200);
    assert_eq!(token_with(&app, &second).await.0, 401);
}

async fn a_replay_through_redis_is_refused(backend: Backend) {
    let _redis = redis_turn().await;
    let url =
        std::env::var("KEYWARD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let with_redis = |s: &mut keyward::configuration::Settings| s.redis_url = Some(url.clone());
    let app = spawn_app_with(backend, with_redis).await;
    let replica = app.replica().await;
    let key = ClientKeyPair::es256("k1");
    let client = client_with_key(&app, &key).await;
    let claims = assertion_claims(&client.id, &token_endpoint(&app));
    let assertion = key.sign(&claims);
    assert_eq!(token_with(&replica, &assertion).await.0, 200);
    assert_eq!(token_with(&app, &assertion).await.0, 401);
    // The value went to Redis, not to the database: a node without Redis
    // has no record of it.
    let without_redis = app.replica_with(|s| s.redis_url = None).await;
    assert_eq!(token_with(&without_redis, &assertion).await.0, 200);
}

async fn a_client_can_be_held_to_private_key_jwt(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = ClientKeyPair::es256("k1");
    let client = client_with_key(&app, &key).await;
    let path = format!("/admin/v1/orgs/{}/clients/{}", client.org_id, client.id);
    let hold = json!({"token_endpoint_auth_method": "private_key_jwt"});
    let (status, view) = app
        .admin(Method::PATCH, &path, ROOT_TOKEN, Some(hold))
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["token_endpoint_auth_method"], "private_key_jwt");
    // The right secret is refused now, and says why.
    let (status, body) = status_and_json(
        app.post_token(&client, &[("grant_type", "client_credentials")])
            .await,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("registered for private_key_jwt"));
    let assertion = key.assertion(&client.id, &token_endpoint(&app));
    assert_eq!(token_with(&app, &assertion).await.0, 200);

    // Held to client_secret_basic: the assertion and a posted secret fail.
    let basic = json!({"token_endpoint_auth_method": "client_secret_basic"});
    assert_eq!(
        app.admin(Method::PATCH, &path, ROOT_TOKEN, Some(basic))
            .await
            .0,
        200
    );
    let assertion = key.assertion(&client.id, &token_endpoint(&app));
    assert_eq!(token_with(&app, &assertion).await.0, 401);
    let posted = [
        ("grant_type", "client_credentials"),
        ("client_id", client.id.as_str()),
        ("client_secret", client.secret.as_str()),
    ];
    assert_eq!(token_with_assertion(&app, &posted).await.0, 401);
    assert_eq!(
        app.oauth2_token(&client.id, &client.secret)
            .await
            .map(|_| ()),
        Ok(())
    );

    // null frees it again.
    let any = json!({"token_endpoint_auth_method": null});
    assert_eq!(
        app.admin(Method::PATCH, &path, ROOT_TOKEN, Some(any))
            .await
            .0,
        200
    );
    assert_eq!(token_with_assertion(&app, &posted).await.0, 200);
    let bad = json!({"token_endpoint_auth_method": "none"});
    let (status, problem) = app.admin(Method::PATCH, &path, ROOT_TOKEN, Some(bad)).await;
    assert_eq!(status, 400, "{problem}");
}

async fn keys_are_registered_listed_and_removed(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = ClientKeyPair::es256("k1");
    let client = client_with_key(&app, &key).await;

    // A PEM public key, named by its thumbprint when no kid is given.
    let ed = ClientKeyPair::ed25519("unused");
    let spki = public_pem(&ed);
    let (status, added) = register(&app, &client, json!({"pem": spki})).await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["kid"], added["thumbprint"]);
    assert_eq!(added["jwk"]["x"], ed.jwk["x"]);

    let (status, list) = app
        .admin(Method::GET, &keys_path(&client), ROOT_TOKEN, None)
        .await;
    assert_eq!(status, 200);
    let kids: Vec<&str> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["k1", added["kid"].as_str().unwrap()]);

    // Refusals, each with the field and the reason.
    let mut private = key.jwk.clone();
    private["d"] = json!("c2VjcmV0");
    let refusals = [
        (private, "private key"),
        (json!({"kty": "oct", "k": "c2VjcmV0"}), "symmetric"),
        (key.jwk.clone(), "already has this key"),
        (ClientKeyPair::es256("k1").jwk, "kid k1"),
    ];
    for (jwk, why) in refusals {
        let (status, problem) = register(&app, &client, json!({"jwk": jwk})).await;
        assert_eq!(status, 400, "{problem}");
        assert!(
            problem["detail"].as_str().unwrap_or_default().contains(why)
                || problem.to_string().contains(why),
            "{why}: {problem}"
        );
    }
    let both = json!({"jwk": key.jwk, "pem": spki});
    assert_eq!(register(&app, &client, both).await.0, 400);
    for n in 2..5 {
        let extra = ClientKeyPair::es256(&format!("extra{n}"));
        assert_eq!(register(&app, &client, extra.registration()).await.0, 201);
    }
    let (status, problem) =
        register(&app, &client, ClientKeyPair::es256("sixth").registration()).await;
    assert_eq!(status, 400, "{problem}");

    // Removing a key stops its assertions at once.
    let assertion = key.assertion(&client.id, &token_endpoint(&app));
    let path = format!("{}/k1", keys_path(&client));
    assert_eq!(
        app.admin(Method::DELETE, &path, ROOT_TOKEN, None).await.0,
        204
    );
    assert_eq!(token_with(&app, &assertion).await.0, 401);
    assert_eq!(
        app.admin(Method::DELETE, &path, ROOT_TOKEN, None).await.0,
        404
    );

    // Another organisation's admin reaches none of it.
    let stranger_org = app.create_org(Plan::Enterprise).await;
    let stranger = app
        .admin_token(&stranger_org, &["keyward:clients:write"])
        .await;
    let (status, _) = app
        .admin(Method::GET, &keys_path(&client), &stranger, None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .admin(
            Method::POST,
            &keys_path(&client),
            &stranger,
            Some(ClientKeyPair::es256("x").registration()),
        )
        .await;
    assert_eq!(status, 404);

    // Every change is in the audit trail.
    let events = format!(
        "/admin/v1/orgs/{}/audit-events?target_id={}",
        client.org_id, client.id
    );
    let (_, trail) = app.admin(Method::GET, &events, ROOT_TOKEN, None).await;
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"client.key_added") && actions.contains(&"client.key_removed"),
        "{actions:?}"
    );
}

fn public_pem(key: &ClientKeyPair) -> String {
    let der = pem::parse(&key.private_pem).unwrap();
    let pair = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(der.contents()).unwrap();
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair;
    let spki = pair.public_key().as_der().unwrap();
    pem::encode(&pem::Pem::new("PUBLIC KEY", spki.as_ref().to_vec()))
}

async fn revocation_takes_an_assertion_too(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = ClientKeyPair::es256("k1");
    let client = client_with_key(&app, &key).await;
    let (_, body) = token_with(&app, &key.assertion(&client.id, &token_endpoint(&app))).await;
    let token = body["access_token"].as_str().unwrap();
    let assertion = key.assertion(&client.id, &token_endpoint(&app));
    let response = app
        .http
        .post(app.url("/oauth/revoke"))
        .form(&[
            ("token", token),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let checker = app.create_resource_server(&[&app.address]).await;
    let (_, introspected) = app.introspect(&checker, token, &[]).await;
    assert_eq!(introspected["active"], false);
}

async fn copies_sent_at_once_get_one_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let replica = app.replica().await;
    let (_, _, assertion) = client_with_assertion(&app).await;
    // Half to each node, all at once: copies meet in one commit on a node
    // and in the database from both.
    let copies = (0..24).map(|i| token_with(if i % 2 == 0 { &app } else { &replica }, &assertion));
    let statuses: Vec<u16> = futures_util::future::join_all(copies)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        23,
        "{statuses:?}"
    );
}

async fn values_used_before_the_upgrade_stay_used(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = ClientKeyPair::es256("k1");
    let client = client_with_key(&app, &key).await;
    let claims = assertion_claims(&client.id, &token_endpoint(&app));
    let assertion = key.sign(&claims);
    assert_eq!(token_with(&app, &assertion).await.0, 200);
    // The table as migration 20261130000005 made it, holding that value as
    // it was recorded then: the base64url SHA-256 of client id and jti.
    let digest = {
        use base64::Engine;
        let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        context.update(client.id.as_bytes());
        context.update(&[0]);
        context.update(claims["jti"].as_str().unwrap().as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(context.finish())
    };
    let old_layout = [
        "CREATE TABLE used_before AS SELECT expires_at FROM used_one_time_values".to_owned(),
        "DROP TABLE used_one_time_values".to_owned(),
        "CREATE TABLE used_one_time_values \
         (value_digest TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)"
            .to_owned(),
        "CREATE INDEX used_one_time_values_expiry ON used_one_time_values (expires_at)".to_owned(),
        format!("INSERT INTO used_one_time_values SELECT '{digest}', expires_at FROM used_before"),
        "DROP TABLE used_before".to_owned(),
        // The migrations since then run again when the next node starts.
        "DELETE FROM _sqlx_migrations WHERE version IN (20261201000005, 20261202000002)".to_owned(),
    ];
    app.db.run_sql(&old_layout).await;

    let upgraded = app.replica().await;
    let (status, body) = token_with(&upgraded, &assertion).await;
    assert_eq!(status, 401, "{body}");
    let fresh = key.assertion(&client.id, &token_endpoint(&app));
    assert_eq!(token_with(&upgraded, &fresh).await.0, 200);
    assert_eq!(token_with(&app, &fresh).await.0, 401);
}

/// The file of used one-time values beside a test's SQLite database.
fn one_time_file_url(app: &TestApp) -> String {
    app.db.url.replace("keyward.db", "keyward.once.db")
}

/// Another connection that holds the write lock of the SQLite file at `url`
/// until it commits.
async fn hold_write_lock(url: &str) -> sqlx::pool::PoolConnection<sqlx::Sqlite> {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let mut holder = pool.acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    holder
}

/// While another connection holds the write lock of the used values' file,
/// an assertion's record waits for it instead of failing, and is kept.
#[tokio::test]
async fn a_record_waits_for_a_held_write_lock_on_sqlite() {
    let app = spawn_app(Backend::Sqlite).await;
    let (_, _, assertion) = client_with_assertion(&app).await;
    let mut holder = hold_write_lock(&one_time_file_url(&app)).await;
    let release = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        sqlx::query("COMMIT").execute(&mut *holder).await.unwrap();
    };
    let ((status, body), ()) = tokio::join!(token_with(&app, &assertion), release);
    assert_eq!(status, 200, "{body}");
    let replica = app.replica().await;
    assert_eq!(token_with(&replica, &assertion).await.0, 401);
}

/// A lock on the used values' file held past SQLite's busy timeout (5 s)
/// answers 503 `temporarily_unavailable`, which a client may retry, and the
/// value stays unused.
#[tokio::test]
async fn a_record_held_past_the_busy_timeout_is_temporarily_unavailable_on_sqlite() {
    let app = spawn_app(Backend::Sqlite).await;
    let (_, _, assertion) = client_with_assertion(&app).await;
    let mut holder = hold_write_lock(&one_time_file_url(&app)).await;
    let (status, body) = token_with(&app, &assertion).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable")),
        "{body}"
    );
    sqlx::query("COMMIT").execute(&mut *holder).await.unwrap();
    assert_eq!(token_with(&app, &assertion).await.0, 200);
}

/// A write that holds the main database file's lock (such as a usage flush)
/// does not hold up an assertion's record, which has a file of its own.
#[tokio::test]
async fn a_record_does_not_wait_for_the_main_files_write_lock_on_sqlite() {
    let app = spawn_app(Backend::Sqlite).await;
    let (_, _, assertion) = client_with_assertion(&app).await;
    let mut holder = hold_write_lock(&app.db.url).await;
    let (status, body) = token_with(&app, &assertion).await;
    assert_eq!(status, 200, "{body}");
    sqlx::query("COMMIT").execute(&mut *holder).await.unwrap();
    let replica = app.replica().await;
    assert_eq!(token_with(&replica, &assertion).await.0, 401);
}

/// PostgreSQL closes the node's connections (a restart, or an idle timeout
/// of something in between): the next record opens a new connection instead
/// of failing the request, and a value used before stays used.
#[tokio::test]
async fn a_record_outlives_its_closed_connection_on_postgres() {
    let app = spawn_app(Backend::Postgres).await;
    let (key, client, assertion) = client_with_assertion(&app).await;
    assert_eq!(token_with(&app, &assertion).await.0, 200);
    let close_the_nodes_connections = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()";
    app.db
        .run_sql(&[close_the_nodes_connections.to_owned()])
        .await;
    let fresh = key.assertion(&client.id, &token_endpoint(&app));
    let (status, body) = token_with(&app, &fresh).await;
    assert_eq!(status, 200, "{body}");
    let replica = app.replica().await;
    assert_eq!(token_with(&replica, &assertion).await.0, 401);
    assert_eq!(token_with(&replica, &fresh).await.0, 401);
}

on_both_backends!(
    copies_sent_at_once_get_one_token,
    values_used_before_the_upgrade_stay_used,
    every_allowed_algorithm_gets_a_token,
    each_assertion_check_refuses,
    a_replay_on_another_replica_is_refused,
    a_replay_through_redis_is_refused,
    a_client_can_be_held_to_private_key_jwt,
    keys_are_registered_listed_and_removed,
    revocation_takes_an_assertion_too,
);

/// A client's own server publishing its key set, counting the fetches.
struct KeySetServer {
    url: String,
    set: std::sync::Arc<std::sync::Mutex<Value>>,
    fetches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl KeySetServer {
    fn start(keys: &[&ClientKeyPair]) -> Self {
        use actix_web::{web, App, HttpResponse, HttpServer};
        let set = std::sync::Arc::new(std::sync::Mutex::new(Value::Null));
        let fetches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (served, counted) = (set.clone(), fetches.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            let (served, counted) = (served.clone(), counted.clone());
            App::new().route(
                "/jwks.json",
                web::get().to(move || {
                    let (served, counted) = (served.clone(), counted.clone());
                    async move {
                        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let body = served.lock().unwrap().clone();
                        HttpResponse::Ok().json(body)
                    }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        let server = Self { url, set, fetches };
        server.publish(keys);
        server
    }

    fn publish(&self, keys: &[&ClientKeyPair]) {
        let keys: Vec<Value> = keys.iter().map(|k| k.jwk.clone()).collect();
        *self.set.lock().unwrap() = json!({ "keys": keys });
    }

    fn fetches(&self) -> usize {
        self.fetches.load(std::sync::atomic::Ordering::SeqCst)
    }
}

async fn a_published_key_set_is_cached_and_fetched_again_for_a_new_kid(backend: Backend) {
    let clock = keyward::time::ManualClock::starting_now();
    let internal = |s: &mut keyward::configuration::Settings| {
        s.webhook_allow_http = true;
        s.webhook_allow_private_networks = true;
    };
    let app = crate::support::helpers::spawn_app_on(backend, internal, clock.clone()).await;
    let (first, second) = (
        ClientKeyPair::es256("first"),
        ClientKeyPair::ed25519("second"),
    );
    let published = KeySetServer::start(&[&first]);
    let client = app.create_client(&["payouts:read"], &[]).await;
    let path = format!("/admin/v1/orgs/{}/clients/{}", client.org_id, client.id);
    let set_uri = json!({ "jwks_uri": published.url });
    let (status, view) = app
        .admin(Method::PATCH, &path, ROOT_TOKEN, Some(set_uri))
        .await;
    assert_eq!(
        (status, view["jwks_uri"].as_str()),
        (200, Some(published.url.as_str())),
        "{view}"
    );
    let audience = token_endpoint(&app);

    assert_eq!(
        token_with(&app, &first.assertion(&client.id, &audience))
            .await
            .0,
        200
    );
    assert_eq!(
        token_with(&app, &first.assertion(&client.id, &audience))
            .await
            .0,
        200
    );
    assert_eq!(
        published.fetches(),
        1,
        "the second assertion used the cached set"
    );

    // The client rotates its key. Within 30 s of the last fetch an unknown
    // kid fetches nothing, however often it is sent.
    published.publish(&[&second]);
    for _ in 0..5 {
        assert_eq!(
            token_with(&app, &second.assertion(&client.id, &audience))
                .await
                .0,
            401
        );
    }
    assert_eq!(published.fetches(), 1);
    clock.advance(std::time::Duration::from_secs(31));
    assert_eq!(
        token_with(&app, &second.assertion(&client.id, &audience))
            .await
            .0,
        200
    );
    assert_eq!(published.fetches(), 2, "the new kid fetched the set again");
    // The key the client took out of its set no longer signs.
    assert_eq!(
        token_with(&app, &first.assertion(&client.id, &audience))
            .await
            .0,
        401
    );
    assert_eq!(published.fetches(), 2);
}

async fn a_key_set_url_must_be_public_and_https(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.create_client(&["payouts:read"], &[]).await;
    let path = format!("/admin/v1/orgs/{}/clients/{}", client.org_id, client.id);
    for uri in [
        "http://keys.example.test/jwks.json",
        "https://127.0.0.1/jwks.json",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/jwks.json",
        "https://10.1.2.3/jwks.json",
        "https://localhost/jwks.json",
        "not a url",
    ] {
        let (status, problem) = app
            .admin(
                Method::PATCH,
                &path,
                ROOT_TOKEN,
                Some(json!({ "jwks_uri": uri })),
            )
            .await;
        assert_eq!(status, 400, "{uri}: {problem}");
        assert!(problem.to_string().contains("jwks_uri"), "{uri}: {problem}");
    }
    let public = json!({ "jwks_uri": "https://keys.example.test/jwks.json" });
    assert_eq!(
        app.admin(Method::PATCH, &path, ROOT_TOKEN, Some(public))
            .await
            .0,
        200
    );
}

on_both_backends!(
    a_published_key_set_is_cached_and_fetched_again_for_a_new_kid,
    a_key_set_url_must_be_public_and_https,
);
