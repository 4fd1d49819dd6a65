//! No secret reaches the logs, even at `debug`: the real binary serves a
//! scenario that handles every kind of secret, and its stderr is searched
//! for each of them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::{Client, RequestBuilder};
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::helpers::{status_and_json, Backend, TestDatabase, API};
use crate::support::server_process::ServerProcess;

/// A scenario run against a server whose stderr goes to a file.
struct Run {
    http: Client,
    base: String,
    root: String,
    /// Every secret value the scenario handled.
    secrets: Vec<String>,
}

impl Run {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn keep(&mut self, secret: &str) -> String {
        self.secrets.push(secret.to_owned());
        secret.to_owned()
    }

    /// A request with this Authorization value, remembered as a secret.
    fn authorized(&mut self, request: RequestBuilder, authorization: String) -> RequestBuilder {
        self.keep(&authorization);
        if let Some(credentials) = authorization.strip_prefix("Basic ") {
            if let Ok(decoded) = STANDARD.decode(credentials) {
                self.keep(&String::from_utf8_lossy(&decoded));
            }
        }
        request.header("authorization", authorization)
    }

    fn basic(&mut self, request: RequestBuilder, id: &str, secret: &str) -> RequestBuilder {
        let value = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        self.authorized(request, value)
    }

    async fn admin_post(&mut self, path: &str, body: Value) -> Value {
        let idempotency_key = self.keep(&uuid::Uuid::new_v4().to_string());
        let request = self.http.post(self.url(path)).json(&body);
        let bearer = format!("Bearer {}", self.root);
        let response = self
            .authorized(request, bearer)
            .header("idempotency-key", idempotency_key)
            .header("x-request-id", "redaction-admin")
            .send()
            .await
            .unwrap();
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, 201, "{body}");
        body
    }
}

async fn send(request: RequestBuilder) -> (u16, Value) {
    status_and_json(request.send().await.unwrap()).await
}

/// Everything that handles a secret: management calls, both client
/// authentication methods, introspection, verification, revocation and
/// refusals.
async fn scenario(run: &mut Run) {
    let org = run
        .admin_post(
            "/admin/v1/orgs",
            json!({"name": "Acme", "plan": "enterprise"}),
        )
        .await;
    let clients = format!("/admin/v1/orgs/{}/clients", org["id"].as_str().unwrap());
    let client = run
        .admin_post(
            &clients,
            json!({"name": "worker", "scopes": ["payouts:read"], "audiences": [API]}),
        )
        .await;
    let rs = run
        .admin_post(&clients, json!({"name": "api", "scopes": ["keyward:introspect"], "audiences": [API], "resource_server": true}))
        .await;
    let keys = format!("/admin/v1/orgs/{}/api-keys", org["id"].as_str().unwrap());
    let key = run
        .admin_post(&keys, json!({"name": "k", "scopes": ["payouts:read"]}))
        .await;
    let (client_id, client_secret) = (
        client["client_id"].as_str().unwrap(),
        run.keep(client["client_secret"].as_str().unwrap()),
    );
    let (rs_id, rs_secret) = (
        rs["client_id"].as_str().unwrap(),
        run.keep(rs["client_secret"].as_str().unwrap()),
    );
    let api_key = run.keep(key["key"].as_str().unwrap());

    let form = [("grant_type", "client_credentials"), ("resource", API)];
    let request = run.http.post(run.url("/oauth/token")).form(&form);
    let (status, basic) = send(run.basic(request, client_id, &client_secret)).await;
    assert_eq!(status, 200, "{basic}");
    let basic_token = run.keep(basic["access_token"].as_str().unwrap());
    let post_form = [
        ("grant_type", "client_credentials"),
        ("resource", API),
        ("client_id", client_id),
        ("client_secret", client_secret.as_str()),
    ];
    let request = run.http.post(run.url("/oauth/token")).form(&post_form);
    let (status, posted) = send(request).await;
    assert_eq!(status, 200, "{posted}");
    let posted_token = run.keep(posted["access_token"].as_str().unwrap());

    for (token, hint) in [(&basic_token, "access_token"), (&api_key, "api_key")] {
        let form = [("token", token.as_str()), ("token_type_hint", hint)];
        let request = run.http.post(run.url("/oauth/introspect")).form(&form);
        let (status, body) = send(run.basic(request, rs_id, &rs_secret)).await;
        assert_eq!((status, &body["active"]), (200, &json!(true)), "{body}");
    }
    let request = run
        .http
        .post(run.url("/v1/keys/verify"))
        .json(&json!({"key": api_key}));
    let (_, verdict) = send(run.basic(request, rs_id, &rs_secret)).await;
    assert_eq!(verdict["code"], "VALID");

    let request = run
        .http
        .post(run.url("/oauth/revoke"))
        .form(&[("token", posted_token.as_str())]);
    assert_eq!(
        send(run.basic(request, client_id, &client_secret)).await.0,
        200
    );

    // Refusals: a wrong secret, malformed Authorization headers, and a
    // secret in a query string, which is never logged.
    let wrong = run.keep("kws_wrong-secret-for-the-redaction-test");
    let request = run.http.post(run.url("/oauth/token")).form(&form);
    assert_eq!(send(run.basic(request, client_id, &wrong)).await.0, 401);
    for malformed in [
        "Basic !!not-base64-redaction!!".to_owned(),
        format!("Basic {}", STANDARD.encode("no-colon-redaction-credential")),
        format!("Bearer {basic_token} extra"),
        format!("Digest {client_secret}"),
    ] {
        let request = run.http.post(run.url("/oauth/token")).form(&form);
        let (status, _) = send(run.authorized(request, malformed)).await;
        assert!((400..500).contains(&status), "{status}");
        let request = run.http.get(run.url("/admin/v1/orgs"));
        let (status, _) = send(run.authorized(request, format!("Bearer {wrong}"))).await;
        assert_eq!(status, 401);
    }
    let query = run.keep("query-secret-for-the-redaction-test");
    let request = run
        .http
        .get(run.url(&format!("/healthz?client_secret={query}")));
    assert_eq!(
        send(request.header("x-request-id", "redaction-query"))
            .await
            .0,
        200
    );
}

async fn no_secret_reaches_the_debug_log(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(backend, dir.path()).await;
    let root = format!("kwr_redaction-root-{}", uuid::Uuid::new_v4().simple());
    let debug = [
        ("KEYWARD_ROOT_TOKEN", Some(root.as_str())),
        ("KEYWARD_LOG", Some("debug")),
        ("KEYWARD_LOG_FORMAT", Some("json")),
        ("KEYWARD_WORKERS", Some("1")),
    ];
    let mut server = ServerProcess::start_with(dir.path(), &db.url, &debug).await;
    let mut run = Run {
        http: Client::new(),
        base: server.base.clone(),
        root: root.clone(),
        secrets: vec![root],
    };
    scenario(&mut run).await;
    // Stopped first, so that every line is written.
    server.signal("TERM");
    server.exit_status(std::time::Duration::from_secs(30)).await;
    let log = server.log();

    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let finished: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "request finished")
        .collect();
    assert!(finished.len() >= 20, "one line a request: {log}");
    assert!(
        finished.iter().all(|l| l["request_id"].is_string()),
        "every request line names its request"
    );
    for sent in ["redaction-admin", "redaction-query"] {
        assert!(finished.iter().any(|l| l["request_id"] == sent), "{sent}");
    }
    assert!(
        lines.iter().any(|l| l["level"] == "DEBUG"),
        "debug lines are captured"
    );
    for secret in &run.secrets {
        assert!(secret.len() >= 8, "too short to search for: {secret}");
        assert!(!log.contains(secret.as_str()), "{secret} is in the log");
    }
}

on_both_backends!(no_secret_reaches_the_debug_log);
