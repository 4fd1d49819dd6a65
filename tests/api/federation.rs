//! Workload identity federation: a local OIDC issuer on loopback (its own
//! keys, discovery document and JWKS) stands in for GitHub Actions and a
//! Kubernetes cluster. The operator trusts it, a client is bound to one of
//! its workloads, and that workload's platform token, sent as the client
//! assertion, gets the client's token; each mismatch is refused, a token
//! signs in once on every replica, and a rotated issuer key is picked up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use keyward::time::Clock;
use reqwest::Method;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::client_keys::{register, ClientKeyPair, ASSERTION_TYPE};
use crate::support::helpers::{
    spawn_app, spawn_app_on, status_and_json, Backend, TestApp, TestClient, ROOT_TOKEN,
};
use crate::support::jwt_verify::verify;
const SUBJECT: &str = "repo:octo/app:ref:refs/heads/main";

/// An OIDC issuer on loopback: discovery, a JWKS it can change, and how
/// often each was read.
struct LocalIssuer {
    url: String,
    keys: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

impl LocalIssuer {
    fn start(keys: &[&ClientKeyPair]) -> Self {
        use actix_web::{web, App, HttpResponse, HttpServer};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let set = Arc::new(Mutex::new(Value::Null));
        let fetches = Arc::new(AtomicUsize::new(0));
        let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/jwks"),
                               "response_types_supported": ["id_token"]});
        let (served, counted) = (set.clone(), fetches.clone());
        let server = HttpServer::new(move || {
            let (served, counted, discovery) = (served.clone(), counted.clone(), discovery.clone());
            App::new()
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(move || {
                        let discovery = discovery.clone();
                        async move { HttpResponse::Ok().json(discovery) }
                    }),
                )
                .route(
                    "/jwks",
                    web::get().to(move || {
                        counted.fetch_add(1, Ordering::SeqCst);
                        let body = served.lock().unwrap().clone();
                        async move { HttpResponse::Ok().json(body) }
                    }),
                )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        let issuer = Self {
            url,
            keys: set,
            fetches,
        };
        issuer.publish(keys);
        issuer
    }

    fn publish(&self, keys: &[&ClientKeyPair]) {
        let keys: Vec<Value> = keys.iter().map(|k| k.jwk.clone()).collect();
        *self.keys.lock().unwrap() = json!({ "keys": keys });
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// The claims of a fresh token of this issuer for `sub`, for Keyward.
    fn claims(&self, app: &TestApp, sub: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.url, "sub": sub, "aud": app.address,
            "iat": now, "nbf": now, "exp": now + 300,
            "jti": uuid::Uuid::new_v4().to_string(),
            "repository": "octo/app", "ref": "refs/heads/main",
        })
    }
}

/// Registers `body` as a trusted issuer, as root.
async fn trust(app: &TestApp, body: Value) -> Value {
    let (status, view) = app
        .admin(
            Method::POST,
            "/admin/v1/trusted-issuers",
            ROOT_TOKEN,
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{view}");
    view
}

/// Binds `client` to `body`'s workload; the binding's id.
async fn bind(app: &TestApp, client: &TestClient, body: Value) -> String {
    let path = format!(
        "/admin/v1/orgs/{}/clients/{}/federated-subjects",
        client.org_id, client.id
    );
    let (status, view) = app.admin(Method::POST, &path, ROOT_TOKEN, Some(body)).await;
    assert_eq!(status, 201, "{view}");
    view["id"].as_str().unwrap().to_owned()
}

/// A local issuer publishing `key`, trusted, and a client bound to its
/// workload `SUBJECT`.
async fn bound_client(app: &TestApp, key: &ClientKeyPair) -> (LocalIssuer, TestClient) {
    let platform = LocalIssuer::start(&[key]);
    trust(app, json!({"issuer": platform.url})).await;
    let client = app.create_client(&["payouts:read"], &[]).await;
    bind(
        app,
        &client,
        json!({"issuer": platform.url, "subject": SUBJECT}),
    )
    .await;
    (platform, client)
}

/// POST /oauth/token with `token` as the client assertion of `client_id`.
async fn sign_in(app: &TestApp, client_id: Option<&str>, token: &str) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", token),
    ];
    if let Some(id) = client_id {
        form.push(("client_id", id));
    }
    post_token(app, &form).await
}

async fn post_token(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    status_and_json(response).await
}

fn refused_for(body: &Value, why: &str) -> bool {
    body["error"] == "invalid_client"
        && body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains(why))
}

async fn a_bound_workload_signs_in_and_is_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = ClientKeyPair::es256("k1");
    let platform = LocalIssuer::start(&[&key]);
    let view = trust(&app, json!({"issuer": platform.url})).await;
    assert_eq!(view["keys_from"], "discovery");
    // Only the operator trusts issuers.
    let client = app.create_client(&["payouts:read"], &[]).await;
    let admin = app
        .admin_token(
            &keyward::domain::OrgId::parse(&client.org_id).unwrap(),
            &["keyward:clients:write"],
        )
        .await;
    let body = json!({"issuer": "https://evil.example"});
    let (status, _) = app
        .admin(
            Method::POST,
            "/admin/v1/trusted-issuers",
            &admin,
            Some(body),
        )
        .await;
    assert_eq!(status, 403);

    let binding = bind(
        &app,
        &client,
        json!({"issuer": platform.url, "subject": SUBJECT, "claims": {"repository": "octo/app"}}),
    )
    .await;
    let token = key.sign(&platform.claims(&app, SUBJECT));
    let (status, body) = sign_in(&app, Some(&client.id), &token).await;
    assert_eq!(status, 200, "{body}");
    let issued = body["access_token"].as_str().unwrap();
    let verified = verify(&app, issued, &app.address).await.unwrap();
    assert_eq!(verified.claims["client_id"], client.id.as_str());
    assert_eq!(verified.claims["scope"], "payouts:read");

    // The sign-in is in the organisation's audit trail.
    let path = format!("/admin/v1/orgs/{}/audit-events", client.org_id);
    let event = || async {
        let (_, page) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "client.federated_sign_in")
            .cloned()
    };
    let mut found = None;
    for _ in 0..50 {
        found = event().await;
        if found.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let event = found.expect("a federated sign-in event");
    assert_eq!(event["target"]["id"], client.id.as_str());
    assert_eq!(event["changes"]["issuer"]["new"], platform.url.as_str());
    assert_eq!(event["changes"]["subject"]["new"], SUBJECT);
    assert_eq!(event["changes"]["binding"]["new"], binding.as_str());

    // A pattern binds every repository of an owner, anchored at both ends.
    let deployer = app.create_client(&["payouts:write"], &[]).await;
    bind(
        &app,
        &deployer,
        json!({"issuer": platform.url, "subject": "repo:octo/*:environment:prod",
               "subject_match": "glob"}),
    )
    .await;
    for (sub, status) in [
        ("repo:octo/api:environment:prod", 200),
        ("repo:octo/api:environment:prod-eu", 401),
        ("repo:other/api:environment:prod", 401),
    ] {
        let token = key.sign(&platform.claims(&app, sub));
        assert_eq!(
            sign_in(&app, Some(&deployer.id), &token).await.0,
            status,
            "{sub}"
        );
    }
    // The other client's binding does not sign in this one.
    let token = key.sign(&platform.claims(&app, SUBJECT));
    assert_eq!(sign_in(&app, Some(&deployer.id), &token).await.0, 401);
}

async fn each_mismatch_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = ClientKeyPair::es256("k1");
    let platform = LocalIssuer::start(&[&key]);
    trust(&app, json!({"issuer": platform.url})).await;
    let client = app.create_client(&["payouts:read"], &[]).await;
    bind(
        &app,
        &client,
        json!({"issuer": platform.url, "subject": SUBJECT, "claims": {"ref": "refs/heads/main"}}),
    )
    .await;
    let now = chrono::Utc::now().timestamp();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = platform.claims(&app, SUBJECT);
        change(&mut claims);
        key.sign(&claims)
    };
    let stranger = LocalIssuer::start(&[&key]);
    let impostor = ClientKeyPair::es256("k1");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "claim",
            with(&|c| c["ref"] = json!("refs/heads/dev")),
            "no federated subject",
        ),
        (
            "subject",
            with(&|c| c["sub"] = json!("repo:octo/app:ref:refs/heads/dev")),
            "no federated subject",
        ),
        (
            "audience",
            with(&|c| c["aud"] = json!("https://elsewhere.test")),
            "aud must include",
        ),
        (
            "issuer",
            key.sign(&stranger.claims(&app, SUBJECT)),
            "unless a trusted issuer made it",
        ),
        (
            "expired",
            with(&|c| c["exp"] = json!(now - 120)),
            "has expired",
        ),
        (
            "long-lived",
            with(&|c| c["exp"] = json!(now + 7200)),
            "at most 3600 s",
        ),
        (
            "not yet",
            with(&|c| c["nbf"] = json!(now + 600)),
            "not valid yet",
        ),
        (
            "unknown kid",
            ClientKeyPair::es256("k9").sign(&platform.claims(&app, SUBJECT)),
            "kid k9",
        ),
        (
            "forged",
            impostor.sign(&platform.claims(&app, SUBJECT)),
            "signature does not verify",
        ),
    ];
    for (what, token, why) in cases {
        let (status, body) = sign_in(&app, Some(&client.id), &token).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert!(refused_for(&body, why), "{what}: {body}");
    }
    // Without client_id the workload cannot say which client it wants.
    let (status, body) = sign_in(&app, None, &with(&|_| {})).await;
    assert!(
        status == 401 && refused_for(&body, "client_id is required"),
        "{body}"
    );
    // An unknown client reads as any failed client authentication.
    let (status, body) = sign_in(
        &app,
        Some("cl_00000000000000000000000000000000"),
        &with(&|_| {}),
    )
    .await;
    assert!(
        status == 401 && refused_for(&body, "client authentication failed"),
        "{body}"
    );

    // A token signs in once; after all of the above a fresh one works.
    let once = with(&|_| {});
    assert_eq!(sign_in(&app, Some(&client.id), &once).await.0, 200);
    let (status, body) = sign_in(&app, Some(&client.id), &once).await;
    assert!(status == 401 && refused_for(&body, "used before"), "{body}");
    // One without a jti is remembered by the token itself.
    let without_jti = with(&|c| {
        c.as_object_mut().unwrap().remove("jti");
    });
    assert_eq!(sign_in(&app, Some(&client.id), &without_jti).await.0, 200);
    assert_eq!(sign_in(&app, Some(&client.id), &without_jti).await.0, 401);
    // Unbinding refuses the workload from then on.
    let path = format!(
        "/admin/v1/orgs/{}/clients/{}/federated-subjects",
        client.org_id, client.id
    );
    let (_, listed) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
    let id = listed["federated_subjects"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = app
        .admin(Method::DELETE, &format!("{path}/{id}"), ROOT_TOKEN, None)
        .await;
    assert_eq!(status, 204);
    let (status, body) = sign_in(&app, Some(&client.id), &with(&|_| {})).await;
    assert!(
        status == 401 && refused_for(&body, "no federated subject"),
        "{body}"
    );
}

async fn a_platform_token_signs_in_once_on_every_replica(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = ClientKeyPair::ed25519("k1");
    let (platform, client) = bound_client(&app, &key).await;
    // Started after the issuer was registered, it knows it from the start.
    let replica = app.replica().await;
    let token = key.sign(&platform.claims(&app, SUBJECT));
    assert_eq!(sign_in(&replica, Some(&client.id), &token).await.0, 200);
    let (status, body) = sign_in(&app, Some(&client.id), &token).await;
    assert!(status == 401 && refused_for(&body, "used before"), "{body}");
}

async fn a_rotated_issuer_key_is_picked_up(backend: Backend) {
    let clock = keyward::time::ManualClock::starting_now();
    let app = spawn_app_on(backend, |_| {}, clock.clone()).await;
    let (first, second) = (
        ClientKeyPair::es256("2026-11"),
        ClientKeyPair::es256("2026-12"),
    );
    let platform = LocalIssuer::start(&[&first]);
    trust(&app, json!({"issuer": platform.url})).await;
    let client = app.create_client(&["payouts:read"], &[]).await;
    bind(
        &app,
        &client,
        json!({"issuer": platform.url, "subject": SUBJECT}),
    )
    .await;
    let claims = || {
        let mut claims = platform.claims(&app, SUBJECT);
        let now = clock.unix();
        claims["iat"] = json!(now);
        claims["nbf"] = json!(now);
        claims["exp"] = json!(now + 300);
        claims
    };
    assert_eq!(
        sign_in(&app, Some(&client.id), &first.sign(&claims()))
            .await
            .0,
        200
    );
    assert_eq!(
        sign_in(&app, Some(&client.id), &first.sign(&claims()))
            .await
            .0,
        200
    );
    assert_eq!(platform.fetches(), 1, "the keys are cached");

    // The issuer rotates. A new kid within 30 s of the last fetch fetches
    // nothing, however often it comes; after, it fetches the set again.
    platform.publish(&[&first, &second]);
    for _ in 0..3 {
        let (status, body) = sign_in(&app, Some(&client.id), &second.sign(&claims())).await;
        assert!(status == 401 && refused_for(&body, "kid 2026-12"), "{body}");
    }
    assert_eq!(platform.fetches(), 1);
    clock.advance(std::time::Duration::from_secs(31));
    let (status, body) = sign_in(&app, Some(&client.id), &second.sign(&claims())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(platform.fetches(), 2);
    assert_eq!(
        sign_in(&app, Some(&client.id), &first.sign(&claims()))
            .await
            .0,
        200
    );
}

async fn a_static_key_set_and_an_own_audience(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = ClientKeyPair::es256("cluster");
    // A cluster Keyward cannot reach: its keys given, its own audience.
    let issuer = "https://kubernetes.default.svc.cluster.local";
    let audience = "https://keyward.example/cluster-a";
    let view = trust(
        &app,
        json!({"issuer": issuer, "jwks": {"keys": [key.jwk]}, "audience": audience}),
    )
    .await;
    assert_eq!(view["keys_from"], "static");
    let client = app.create_client(&["payouts:read"], &[]).await;
    let sub = "system:serviceaccount:payments:worker";
    bind(
        &app,
        &client,
        json!({"issuer": issuer, "subject": sub,
               "claims": {"/kubernetes.io/namespace": "payments"}}),
    )
    .await;
    let now = chrono::Utc::now().timestamp();
    let token = |aud: &str, namespace: &str| {
        key.sign(&json!({
            "iss": issuer, "sub": sub, "aud": [aud], "iat": now, "exp": now + 600,
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": "worker"}},
        }))
    };
    assert_eq!(
        sign_in(&app, Some(&client.id), &token(audience, "payments"))
            .await
            .0,
        200
    );
    let (status, body) = sign_in(&app, Some(&client.id), &token(&app.address, "payments")).await;
    assert!(
        status == 401 && refused_for(&body, "aud must include"),
        "{body}"
    );
    let (status, body) = sign_in(&app, Some(&client.id), &token(audience, "default")).await;
    assert!(
        status == 401 && refused_for(&body, "no federated subject"),
        "{body}"
    );

    // Bindings name only trusted issuers, and never admit every workload.
    let path = format!(
        "/admin/v1/orgs/{}/clients/{}/federated-subjects",
        client.org_id, client.id
    );
    for body in [
        json!({"issuer": "https://untrusted.example", "subject": sub}),
        json!({"issuer": issuer, "subject": "*", "subject_match": "glob"}),
    ] {
        let (status, problem) = app.admin(Method::POST, &path, ROOT_TOKEN, Some(body)).await;
        assert_eq!(status, 400, "{problem}");
    }
    // The operator stops trusting the cluster: its tokens sign no one in.
    let (status, _) = app
        .admin(
            Method::DELETE,
            &format!("/admin/v1/trusted-issuers/{}", view["id"].as_str().unwrap()),
            ROOT_TOKEN,
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        sign_in(&app, Some(&client.id), &token(audience, "payments"))
            .await
            .0,
        401
    );
}

/// The JWT-bearer grant (RFC 7523 §2.1) takes the same platform token as
/// `assertion`; its refusals are `invalid_grant`.
async fn the_jwt_bearer_grant_takes_a_platform_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = ClientKeyPair::es256("k1");
    let (platform, client) = bound_client(&app, &key).await;
    let grant = |assertion: String| {
        let (app, id) = (&app, client.id.clone());
        async move {
            let form = [
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("client_id", id.as_str()),
                ("assertion", assertion.as_str()),
            ];
            post_token(app, &form).await
        }
    };
    let token = key.sign(&platform.claims(&app, SUBJECT));
    let (status, body) = grant(token.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = grant(token.clone()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("used before"));
    // A private_key_jwt assertion is not a grant.
    let own = ClientKeyPair::es256("own");
    let (status, _) = register(&app, &client, own.registration()).await;
    assert_eq!(status, 201);
    let assertion = own.assertion(&client.id, &app.url("/oauth/token"));
    let (status, body) = grant(assertion).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // No other credential beside it.
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("client_id", client.id.as_str()),
        ("client_secret", client.secret.as_str()),
        ("assertion", token.as_str()),
    ];
    let (status, body) = post_token(&app, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
}

async fn every_sign_in_of_a_busy_workload_is_audited_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = ClientKeyPair::es256("k1");
    let (platform, client) = bound_client(&app, &key).await;
    // At once: written behind together, more than one statement's rows.
    const SIGN_INS: usize = 40;
    let sign_ins = (0..SIGN_INS).map(|i| {
        let token = key.sign(&platform.claims(&app, SUBJECT));
        let request = app
            .http
            .post(app.url("/oauth/token"))
            .header("x-request-id", format!("sign-in-{i}"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", token.as_str()),
                ("client_id", client.id.as_str()),
            ]);
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let statuses = futures_util::future::join_all(sign_ins).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    let path = format!(
        "/admin/v1/orgs/{}/audit-events?action=client.federated_sign_in&limit=100",
        client.org_id
    );
    let mut events = Vec::new();
    for _ in 0..50 {
        let (_, page) = app.admin(Method::GET, &path, ROOT_TOKEN, None).await;
        events = page["items"].as_array().unwrap().clone();
        if events.len() >= SIGN_INS {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut request_ids: Vec<&str> = events
        .iter()
        .map(|e| e["request_id"].as_str().unwrap())
        .collect();
    request_ids.sort_unstable();
    let mut sent: Vec<String> = (0..SIGN_INS).map(|i| format!("sign-in-{i}")).collect();
    sent.sort_unstable();
    assert_eq!(request_ids, sent);
    for event in &events {
        assert_eq!(event["target"]["id"], client.id.as_str());
        assert_eq!(event["changes"]["subject"]["new"], SUBJECT);
        assert_eq!(event["changes"]["issuer"]["new"], platform.url.as_str());
    }
}

on_both_backends!(
    every_sign_in_of_a_busy_workload_is_audited_once,
    the_jwt_bearer_grant_takes_a_platform_token,
    a_bound_workload_signs_in_and_is_audited,
    each_mismatch_is_refused,
    a_platform_token_signs_in_once_on_every_replica,
    a_rotated_issuer_key_is_picked_up,
    a_static_key_set_and_an_own_audience,
);
