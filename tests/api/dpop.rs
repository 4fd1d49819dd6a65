//! DPoP at the token endpoint (RFC 9449): a proof binds the token to the
//! client's key (`cnf.jkt`), each check of the proof refuses what it
//! should, a replay fails on any replica, the server's nonce is required
//! when configured, a client can be held to DPoP, and Keyward's own
//! endpoints refuse a bound token presented as Bearer.

use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::shared_limits::redis_turn;
use crate::support::client_keys::{client_with_key, dpop_claims, ClientKeyPair, ASSERTION_TYPE};
use crate::support::helpers::{
    spawn_app, spawn_app_with, status_and_json, Backend, TestApp, TestClient, API, ROOT_TOKEN,
};
use crate::support::jwt_verify::verify;

fn token_endpoint(app: &TestApp) -> String {
    app.url("/oauth/token")
}

/// POST /oauth/token with Basic credentials and each of `proofs` as a
/// `DPoP` header: the status, the `DPoP-Nonce` header and the body.
async fn token_with_proofs(
    app: &TestApp,
    client: &TestClient,
    proofs: &[&str],
) -> (u16, Option<String>, Value) {
    let mut request = app
        .http
        .post(token_endpoint(app))
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[("grant_type", "client_credentials")]);
    for proof in proofs {
        request = request.header("DPoP", *proof);
    }
    let response = request.send().await.unwrap();
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = status_and_json(response).await;
    (status, nonce, body)
}

async fn token_with_proof(app: &TestApp, client: &TestClient, proof: &str) -> (u16, Value) {
    let (status, _, body) = token_with_proofs(app, client, &[proof]).await;
    (status, body)
}

fn proof_for(app: &TestApp, key: &ClientKeyPair) -> String {
    key.dpop_proof("POST", &token_endpoint(app), json!({}))
}

async fn a_proof_binds_the_token_to_the_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.create_client(&["payouts:read"], &[API]).await;
    let rs = app.create_resource_server(&[API]).await;
    let keys = [
        ClientKeyPair::es256("es"),
        ClientKeyPair::ed25519("ed"),
        ClientKeyPair::rsa("rs", Algorithm::RS256),
        ClientKeyPair::rsa("ps", Algorithm::PS256),
    ];
    for key in &keys {
        let (status, body) = token_with_proof(&app, &client, &proof_for(&app, key)).await;
        assert_eq!(status, 200, "{}: {body}", key.kid);
        assert_eq!(body["token_type"], "DPoP");
        let token = body["access_token"].as_str().unwrap();
        let verified = verify(&app, token, API).await.unwrap();
        assert_eq!(verified.claims["cnf"], json!({"jkt": key.thumbprint()}));
        let (status, answer) = app.introspect(&rs, token, &[]).await;
        assert_eq!(status, 200);
        assert_eq!(answer["active"], true);
        assert_eq!(answer["token_type"], "DPoP");
        assert_eq!(answer["cnf"]["jkt"], key.thumbprint().as_str());
    }
    // Without a proof, the same client gets a Bearer token with no cnf.
    let (status, _, body) = token_with_proofs(&app, &client, &[]).await;
    assert_eq!((status, body["token_type"].as_str()), (200, Some("Bearer")));
    let token = body["access_token"].as_str().unwrap();
    let verified = verify(&app, token, API).await.unwrap();
    assert!(verified.claims.get("cnf").is_none());
    let (_, answer) = app.introspect(&rs, token, &[]).await;
    assert_eq!(answer["token_type"], "Bearer");
    assert!(answer.get("cnf").is_none());
    // The metadata lists the proof algorithms.
    let metadata = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(
        metadata["dpop_signing_alg_values_supported"],
        json!(["ES256", "EdDSA", "Ed25519", "RS256", "PS256"])
    );
}

fn b64(value: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

async fn each_proof_check_refuses(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.create_client(&["payouts:read"], &[API]).await;
    let key = ClientKeyPair::es256("k1");
    let other = ClientKeyPair::es256("k2");
    let endpoint = token_endpoint(&app);
    let now = chrono::Utc::now().timestamp();
    let signed = |change: &dyn Fn(&mut Value)| {
        let mut claims = dpop_claims("POST", &endpoint);
        change(&mut claims);
        key.sign_with(&key.dpop_header(), &claims)
    };
    let remove = |name: &'static str| {
        move |c: &mut Value| {
            c.as_object_mut().unwrap().remove(name);
        }
    };
    let mut keyless = key.dpop_header();
    keyless.jwk = None;
    let mut untyped = key.dpop_header();
    untyped.typ = Some("JWT".into());
    let mut foreign_key = key.dpop_header();
    foreign_key.jwk = other.dpop_header().jwk;
    let claims = dpop_claims("POST", &endpoint);
    let with_private_jwk = {
        let mut jwk = key.jwk.clone();
        jwk["d"] = json!("AAAA");
        format!(
            "{}.{}.c2ln",
            b64(&json!({"alg": "ES256", "typ": "dpop+jwt", "jwk": jwk})),
            b64(&claims)
        )
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "typ",
            key.sign_with(&untyped, &claims),
            "typ must be dpop+jwt",
        ),
        ("no jwk", key.sign_with(&keyless, &claims), "jwk header"),
        ("private jwk", with_private_jwk, "private key"),
        (
            "signed by another key",
            key.sign_with(&foreign_key, &claims),
            "does not verify",
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "dpop+jwt"})),
                b64(&claims)
            ),
            "is not accepted",
        ),
        (
            "HMAC",
            format!(
                "{}.{}.c2ln",
                b64(&json!({"alg": "HS256", "typ": "dpop+jwt", "jwk": key.jwk})),
                b64(&claims)
            ),
            "is not accepted",
        ),
        ("no jti", signed(&remove("jti")), "needs jti"),
        ("no htm", signed(&remove("htm")), "needs jti"),
        ("no htu", signed(&remove("htu")), "needs jti"),
        ("no iat", signed(&remove("iat")), "needs jti"),
        (
            "htm",
            signed(&|c| c["htm"] = json!("GET")),
            "htm must be POST",
        ),
        (
            "htu",
            signed(&|c| c["htu"] = json!(app.url("/oauth/introspect"))),
            "htu must be",
        ),
        (
            "htu elsewhere",
            signed(&|c| c["htu"] = json!("https://evil.test/oauth/token")),
            "htu must be",
        ),
        (
            "old",
            signed(&|c| c["iat"] = json!(now - 400)),
            "iat must be within",
        ),
        (
            "ahead",
            signed(&|c| c["iat"] = json!(now + 120)),
            "iat must be within",
        ),
        ("not a JWS", "not-a-proof".into(), "not a compact JWS"),
    ];
    for (what, proof, description) in cases {
        let (status, body) = token_with_proof(&app, &client, &proof).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_dpop_proof")),
            "{what}: {body}"
        );
        let text = body["error_description"].as_str().unwrap();
        assert!(text.contains(description), "{what}: {text}");
    }

    // The query of htu is ignored, as RFC 9449 §4.3 says.
    let with_query = signed(&|c| c["htu"] = json!(format!("{endpoint}?x=1")));
    assert_eq!(token_with_proof(&app, &client, &with_query).await.0, 200);
    // Two proofs are one too many.
    let (one, two) = (proof_for(&app, &key), proof_for(&app, &key));
    let (status, _, body) = token_with_proofs(&app, &client, &[&one, &two]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    // A proof is good once.
    let once = proof_for(&app, &key);
    assert_eq!(token_with_proof(&app, &client, &once).await.0, 200);
    let (status, body) = token_with_proof(&app, &client, &once).await;
    assert_eq!(status, 400);
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("used before"));
    // A good proof with a wrong secret is a client authentication failure.
    let stranger = TestClient {
        id: client.id.clone(),
        secret: "kws_wrong".into(),
        org_id: client.org_id.clone(),
    };
    let (status, body) = token_with_proof(&app, &stranger, &proof_for(&app, &key)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // So is a bad one: the proof is checked only once the client is known,
    // so a stranger's proof costs no signature check.
    let (status, body) =
        token_with_proof(&app, &stranger, &key.sign_with(&foreign_key, &claims)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

async fn a_replay_on_another_replica_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let replica = app.replica().await;
    let client = app.create_client(&["payouts:read"], &[API]).await;
    let key = ClientKeyPair::es256("k1");
    let proof = proof_for(&app, &key);
    assert_eq!(token_with_proof(&app, &client, &proof).await.0, 200);
    let (status, body) = token_with_proof(&replica, &client, &proof).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
}

async fn a_replay_through_redis_is_refused(backend: Backend) {
    let _redis = redis_turn().await;
    let url =
        std::env::var("KEYWARD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let app = spawn_app_with(backend, |s| s.redis_url = Some(url.clone())).await;
    let replica = app.replica().await;
    let client = app.create_client(&["payouts:read"], &[API]).await;
    let key = ClientKeyPair::es256("k1");
    let proof = proof_for(&app, &key);
    assert_eq!(token_with_proof(&replica, &client, &proof).await.0, 200);
    assert_eq!(token_with_proof(&app, &client, &proof).await.0, 400);
    // Recorded in Redis, not in the database.
    let without_redis = app.replica_with(|s| s.redis_url = None).await;
    assert_eq!(
        token_with_proof(&without_redis, &client, &proof).await.0,
        200
    );
}

async fn a_required_nonce_is_handed_out_and_checked() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.dpop_nonce = true).await;
    let replica = app.replica().await;
    let client = app.create_client(&["payouts:read"], &[API]).await;
    let key = ClientKeyPair::es256("k1");
    // Without a nonce: use_dpop_nonce, and one to use.
    let (status, nonce, body) = token_with_proofs(&app, &client, &[&proof_for(&app, &key)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("use_dpop_nonce")),
        "{body}"
    );
    let nonce = nonce.expect("a DPoP-Nonce header");
    // With it, a token, and the next nonce; on the other replica too.
    let with_nonce = || key.dpop_proof("POST", &token_endpoint(&app), json!({"nonce": nonce}));
    let (status, next, body) = token_with_proofs(&app, &client, &[&with_nonce()]).await;
    assert_eq!(
        (status, body["token_type"].as_str()),
        (200, Some("DPoP")),
        "{body}"
    );
    assert!(next.is_some());
    let (status, _, body) = token_with_proofs(&replica, &client, &[&with_nonce()]).await;
    assert_eq!(status, 200, "{body}");
    // A proof refused for its nonce leaves a client's assertion unused, so
    // the retry with the nonce may send the same assertion.
    let signer = ClientKeyPair::es256("signer");
    let key_client = client_with_key(&app, &signer).await;
    let assertion = signer.assertion(&key_client.id, &token_endpoint(&app));
    let with_assertion = |proof: String| {
        app.http
            .post(token_endpoint(&app))
            .header("DPoP", proof)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
    };
    let (status, body) =
        status_and_json(with_assertion(proof_for(&app, &key)).await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("use_dpop_nonce"))
    );
    let (status, body) = status_and_json(with_assertion(with_nonce()).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    // A nonce we did not make is refused like a missing one.
    let forged = key.dpop_proof(
        "POST",
        &token_endpoint(&app),
        json!({"nonce": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
    );
    let (status, again, body) = token_with_proofs(&app, &client, &[&forged]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("use_dpop_nonce"))
    );
    assert!(again.is_some());
    // Without nonces configured, no header is sent.
    let plain = spawn_app(Backend::Sqlite).await;
    let client = plain.create_client(&["payouts:read"], &[API]).await;
    let (status, header, _) = token_with_proofs(&plain, &client, &[&proof_for(&plain, &key)]).await;
    assert_eq!((status, header), (200, None));
}

async fn a_client_can_be_held_to_dpop(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = app.create_client(&[], &[]).await.org_id;
    let body = json!({
        "name": "payouts-worker",
        "scopes": ["payouts:read"],
        "audiences": [API],
        "dpop_bound_access_tokens": true,
    });
    let (status, created) = app
        .admin(
            Method::POST,
            &format!("/admin/v1/orgs/{org}/clients"),
            ROOT_TOKEN,
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["dpop_bound_access_tokens"], true);
    let client = TestClient {
        id: created["client_id"].as_str().unwrap().to_owned(),
        secret: created["client_secret"].as_str().unwrap().to_owned(),
        org_id: org.clone(),
    };
    let (status, _, body) = token_with_proofs(&app, &client, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{body}"
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("must send a DPoP proof"));
    let key = ClientKeyPair::ed25519("k1");
    assert_eq!(
        token_with_proof(&app, &client, &proof_for(&app, &key))
            .await
            .0,
        200
    );

    let path = format!("/admin/v1/orgs/{org}/clients/{}", client.id);
    let (status, updated) = app
        .admin(
            Method::PATCH,
            &path,
            ROOT_TOKEN,
            Some(json!({"dpop_bound_access_tokens": false})),
        )
        .await;
    assert_eq!(
        (status, &updated["dpop_bound_access_tokens"]),
        (200, &json!(false))
    );
    let (status, _, body) = token_with_proofs(&app, &client, &[]).await;
    assert_eq!(
        (status, body["token_type"].as_str()),
        (200, Some("Bearer")),
        "{body}"
    );
}

async fn keywards_own_endpoints_refuse_a_bound_token_as_bearer(backend: Backend) {
    let app = spawn_app(backend).await;
    let rs = app.create_resource_server(&[API]).await;
    let key = ClientKeyPair::es256("k1");
    let (status, body) = token_with_proof(&app, &rs, &proof_for(&app, &key)).await;
    assert_eq!(status, 200, "{body}");
    let bound = body["access_token"].as_str().unwrap();
    let unbound = app.token(&rs, &[]).await;
    // Introspection by a Bearer caller.
    let introspect_as = |caller: &str| {
        app.http
            .post(app.url("/oauth/introspect"))
            .bearer_auth(caller)
            .form(&[("token", unbound.as_str())])
            .send()
    };
    assert_eq!(introspect_as(&unbound).await.unwrap().status(), 200);
    assert_eq!(introspect_as(bound).await.unwrap().status(), 401);
    // The management API.
    let admin = app.create_client(&["keyward:clients:read"], &[]).await;
    let (status, body) = token_with_proof(&app, &admin, &proof_for(&app, &key)).await;
    assert_eq!(status, 200, "{body}");
    let bound = body["access_token"].as_str().unwrap();
    let path = format!("/admin/v1/orgs/{}/clients", admin.org_id);
    assert_eq!(app.admin(Method::GET, &path, bound, None).await.0, 401);
    let unbound = app.token(&admin, &[]).await;
    assert_eq!(app.admin(Method::GET, &path, &unbound, None).await.0, 200);
}

on_both_backends!(
    a_proof_binds_the_token_to_the_key,
    each_proof_check_refuses,
    a_replay_on_another_replica_is_refused,
    a_replay_through_redis_is_refused,
    a_client_can_be_held_to_dpop,
    keywards_own_endpoints_refuse_a_bound_token_as_bearer,
);

#[tokio::test]
async fn a_required_nonce_is_handed_out_and_checked_sqlite() {
    a_required_nonce_is_handed_out_and_checked().await
}
