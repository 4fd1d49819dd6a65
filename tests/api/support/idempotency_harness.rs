//! The test app of the Idempotency-Key tests: the middleware around
//! handlers that count their runs, with its own database and server secret.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Service;
use actix_web::http::Method;
use actix_web::{web, App, HttpMessage, HttpResponse, HttpServer};
use keyward::crypto::ServerSecret;
use keyward::metrics::Counters;
use keyward::routes::idempotency::{Idempotency, IdempotencyCaller};
use keyward::storage::{self, Store};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::helpers::{Backend, TestDatabase};

/// How often each test handler actually ran.
#[derive(Default)]
pub struct Runs {
    pub create: AtomicUsize,
    pub slow: AtomicUsize,
    pub flaky: AtomicUsize,
    pub delete: AtomicUsize,
    pub read: AtomicUsize,
    /// While a test holds it for writing, `/slow` waits before it answers.
    pub slow_gate: tokio::sync::RwLock<()>,
}

fn count(counter: &AtomicUsize) -> usize {
    counter.fetch_add(1, Ordering::SeqCst) + 1
}

/// Creates a "thing" with a fresh one-time secret, as a create of the
/// management API does.
fn created(run: usize) -> HttpResponse {
    HttpResponse::Created()
        .insert_header(("Location", format!("/admin/v1/things/{run}")))
        .insert_header(("X-Handler-Run", run.to_string()))
        .json(json!({"id": run, "secret": format!("kws_{}", Uuid::new_v4().simple())}))
}

async fn create(runs: web::Data<Runs>, _body: web::Bytes) -> HttpResponse {
    created(count(&runs.create))
}

async fn create_slowly(runs: web::Data<Runs>) -> HttpResponse {
    let run = count(&runs.slow);
    drop(runs.slow_gate.read().await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    created(run)
}

/// Fails on its first run only.
async fn flaky(runs: web::Data<Runs>) -> HttpResponse {
    match count(&runs.flaky) {
        1 => HttpResponse::InternalServerError().json(json!({"error": "boom"})),
        run => created(run),
    }
}

async fn delete(runs: web::Data<Runs>) -> HttpResponse {
    count(&runs.delete);
    HttpResponse::NoContent().finish()
}

async fn read(runs: web::Data<Runs>) -> HttpResponse {
    count(&runs.read);
    HttpResponse::Ok().json(json!({"things": []}))
}

pub struct TestServer {
    address: String,
    http: reqwest::Client,
    pub runs: Arc<Runs>,
    pub store: Arc<dyn Store>,
    backend: Backend,
    db_url: String,
    keys_dir: PathBuf,
    /// Owned by the first node only; a replica shares them.
    _owned: Option<(TestDatabase, tempfile::TempDir)>,
}

pub async fn serve(backend: Backend) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(backend, dir.path()).await;
    let mut node = start(backend, db.url.clone(), dir.path().join("keys")).await;
    node.store.migrate().await.unwrap();
    node._owned = Some((db, dir));
    node
}

/// A node on the database and keys directory that the caller made.
async fn start(backend: Backend, db_url: String, keys_dir: PathBuf) -> TestServer {
    let store = storage::connect(&db_url, Arc::new(Counters::default()))
        .await
        .unwrap();
    let secret = ServerSecret::load_or_init(&keys_dir).unwrap();
    let idempotency =
        Idempotency::new(store.clone(), &secret, Arc::new(keyward::time::SystemClock));
    let runs = Arc::new(Runs::default());
    let data = web::Data::from(runs.clone());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        let scope = web::scope("/admin/v1")
            .wrap(idempotency.clone())
            // Stands in for the management API's authentication: it runs
            // first and names the caller.
            .wrap_fn(|req, srv| {
                if let Some(org) = req.headers().get("x-test-org") {
                    let org = org.to_str().unwrap().to_owned();
                    req.extensions_mut().insert(IdempotencyCaller(org));
                }
                srv.call(req)
            })
            .route("/things", web::post().to(create))
            .route("/things", web::get().to(read))
            .route("/things", web::head().to(read))
            .route("/things", web::method(Method::OPTIONS).to(read))
            .route("/things/{id}", web::delete().to(delete))
            .route("/slow", web::post().to(create_slowly))
            .route("/flaky", web::post().to(flaky));
        App::new().app_data(data.clone()).service(scope)
    })
    .workers(2)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    TestServer {
        address,
        http: keyward::tls::client(),
        runs,
        store,
        backend,
        db_url,
        keys_dir,
        _owned: None,
    }
}

impl TestServer {
    /// Another node on the same database and keys directory.
    pub async fn replica(&self) -> TestServer {
        start(self.backend, self.db_url.clone(), self.keys_dir.clone()).await
    }

    pub fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
    ) -> reqwest::RequestBuilder {
        self.request_as("alice-token", method, path, key)
    }

    pub fn request_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        key: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}/admin/v1{path}", self.address))
            .bearer_auth(token);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request
    }

    pub async fn post(&self, path: &str, key: Option<&str>, body: &Value) -> Reply {
        Reply::of(
            self.request(Method::POST, path, key)
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The table's rows as stored: (state, caller_hash, key_hash, fingerprint, response).
    pub async fn raw_rows(&self) -> Vec<(String, String, String, String, Option<Vec<u8>>)> {
        const SQL: &str =
            "SELECT state, caller_hash, key_hash, fingerprint, response FROM idempotency_keys";
        match self.backend {
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&self.db_url).await.unwrap();
                let rows = sqlx::query_as(SQL).fetch_all(&pool).await.unwrap();
                pool.close().await;
                rows
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&self.db_url).await.unwrap();
                let rows = sqlx::query_as(SQL).fetch_all(&pool).await.unwrap();
                pool.close().await;
                rows
            }
        }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub async fn of(response: reqwest::Response) -> Self {
        Self {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn replayed(&self) -> bool {
        self.header("x-idempotent-replayed") == Some("true")
    }

    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let body = self.json();
        assert_eq!(body["code"], code);
        assert_eq!(body["status"], status);
        assert_eq!(body["type"], "about:blank");
        assert!(
            body["title"].is_string() && body["detail"].is_string(),
            "{body}"
        );
    }
}
