//! `spawn_app()`: the real server on port 0 with its own fresh database,
//! SQLite in a temp dir or a new PostgreSQL database dropped afterwards.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use keyward::configuration::{DatabaseUrl, Settings};
use keyward::crypto::SecretHasher;
use keyward::domain::{
    ApiKey, ApiKeySecret, ApiKeyStatus, Audience, Client, ClientId, ClientStatus, ImportedSecret,
    IpAllowlist, Name, OrgId, Organisation, Plan, ScopeSet, SecretHash, SecretOrigin,
};
use keyward::metrics::Counters;
use keyward::startup::Application;
use keyward::storage::StorageError;
use keyward::storage::{self, Store};
use keyward::telemetry::LogFormat;
use keyward::time::{Clock, SystemClock};
use serde_json::Value;

pub const API: &str = "https://api.example.test";
/// The management API root token every test app is configured with.
pub const ROOT_TOKEN: &str = "kwr_test-root-token-0123456789abcdefghijklmnop";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per backend: `on_both_backends!(name => body_fn);`
/// gives `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::support::helpers::Backend::Sqlite).await
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name($crate::support::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        keyward::telemetry::init("debug", LogFormat::Pretty, std::io::stdout);
    } else {
        keyward::telemetry::init("info", LogFormat::Pretty, std::io::sink);
    }
});

/// The PostgreSQL server the suite uses; tests fail, not skip, without it.
pub fn postgres_admin_url() -> String {
    std::env::var("KEYWARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of one test: a file in a temp dir, or a PostgreSQL database
/// that is dropped when the test ends.
pub struct TestDatabase {
    pub url: String,
    pg_name: Option<String>,
}

impl TestDatabase {
    pub async fn create(backend: Backend, dir: &std::path::Path) -> Self {
        match backend {
            Backend::Sqlite => Self {
                url: format!("sqlite://{}/keyward.db", dir.display()),
                pg_name: None,
            },
            Backend::Postgres => {
                let name = format!("keyward_test_{}", uuid::Uuid::new_v4().simple());
                let admin = sqlx::PgPool::connect(&postgres_admin_url())
                    .await
                    .expect("PostgreSQL must be reachable for the PostgreSQL tests");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&admin)
                    .await
                    .expect("create test database");
                admin.close().await;
                let mut url = url::Url::parse(&postgres_admin_url()).unwrap();
                url.set_path(&name);
                Self {
                    url: url.to_string(),
                    pg_name: Some(name),
                }
            }
        }
    }

    /// Runs `statements` as they are, each on its own, as an operator's
    /// session would (to set up what an older version left behind).
    pub async fn run_sql(&self, statements: &[String]) {
        for statement in statements {
            if self.pg_name.is_some() {
                let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
                sqlx::raw_sql(statement).execute(&pool).await.unwrap();
            } else {
                let pool = sqlx::SqlitePool::connect(&self.url).await.unwrap();
                sqlx::raw_sql(statement).execute(&pool).await.unwrap();
            }
        }
    }

    /// Drops the PostgreSQL database now, connections and all.
    pub fn drop_now(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop runs outside any async context we may block, so use a thread.
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(admin) = sqlx::PgPool::connect(&postgres_admin_url()).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&admin)
                                .await;
                    }
                });
            })
            .join()
            .unwrap();
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.drop_now();
    }
}

pub struct TestApp {
    pub server: actix_web::dev::ServerHandle,
    /// The serving task; it ends after a stop, once usage is written.
    pub running: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub address: String,
    pub http: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub counters: Arc<Counters>,
    /// Stores secrets as the server does (same server secret).
    pub secrets: SecretHasher,
    pub settings: Settings,
    pub db: TestDatabase,
    pub dir: tempfile::TempDir,
}

/// A client created for a test, with its secret in clear.
pub struct TestClient {
    pub id: String,
    pub secret: String,
    pub org_id: String,
}

/// Settings of a test app whose files live under `dir`.
pub fn test_settings(dir: &std::path::Path, db: &TestDatabase) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: DatabaseUrl::new(db.url.clone()),
        keys_dir: dir.join("keys"),
        workers: Some(1),
        argon2_concurrency: Some(2),
        root_token: Some(ROOT_TOKEN.into()),
        // Tests wait for two flushes (`usage_written`).
        usage_flush_seconds: 1,
        ..Settings::default()
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(backend, configure, Arc::new(SystemClock)).await
}

/// `spawn_app_with`, on a clock the test moves.
pub async fn spawn_app_on(
    backend: Backend,
    configure: impl FnOnce(&mut Settings),
    clock: Arc<dyn Clock>,
) -> TestApp {
    LazyLock::force(&TRACING);
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(backend, dir.path()).await;
    let mut settings = test_settings(dir.path(), &db);
    configure(&mut settings);
    start_with_clock(settings, db, dir, clock).await
}

/// Starts the server for prepared settings; also used to start a second
/// replica on the same database and keys.
pub async fn start(settings: Settings, db: TestDatabase, dir: tempfile::TempDir) -> TestApp {
    start_with_clock(settings, db, dir, Arc::new(SystemClock)).await
}

/// `start`, with the clock the server's caches and management core read.
pub async fn start_with_clock(
    settings: Settings,
    db: TestDatabase,
    dir: tempfile::TempDir,
    clock: Arc<dyn Clock>,
) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let app = Application::build_with_clock(settings.clone(), listener, clock)
        .await
        .expect("app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let counters = app.counters();
    let server = app.handle();
    let running = tokio::spawn(app.run_until_stopped());
    let store = storage::connect(&db.url, Arc::new(Counters::default()))
        .await
        .unwrap();
    let secrets = keyward::parts::secret_hasher(&settings, Arc::new(Counters::default())).unwrap();
    TestApp {
        secrets,
        address,
        http: keyward::tls::client_builder()
            .redirect(reqwest::redirect::Policy::none())
            // Under the server's 5 s keep-alive: a connection the server is
            // closing is never reused (hyper's IncompleteMessage).
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .unwrap(),
        store,
        counters,
        settings,
        db,
        dir,
        server,
        running: Some(running),
    }
}

/// An active client of `org` with no restrictions beyond its scopes and audiences.
/// A client to arrange for a test, stored as it is: a fixture may be what
/// the management API would refuse, such as one that has expired.
pub struct NewClient {
    pub org_id: OrgId,
    pub name: Name,
    pub scopes: ScopeSet,
    pub audiences: Vec<Audience>,
    pub resource_server: bool,
    pub expires_at: Option<i64>,
    pub ip_allowlist: IpAllowlist,
    pub rate_limit_per_minute: Option<u32>,
    /// A secret brought from another server; else one is generated.
    pub secret: Option<ImportedSecret>,
}

/// An API key to arrange for a test, stored as it is.
pub struct NewApiKey {
    pub org_id: OrgId,
    pub name: Name,
    pub scopes: ScopeSet,
    pub expires_at: Option<i64>,
    pub rate_limit_per_minute: Option<u32>,
    pub ip_allowlist: IpAllowlist,
    pub metadata: serde_json::Map<String, Value>,
}

fn new_client(org: &OrgId, scopes: &[&str], audiences: &[&str]) -> NewClient {
    NewClient {
        org_id: org.clone(),
        name: Name::parse("integration").unwrap(),
        scopes: ScopeSet::from_strs(scopes.iter().copied()).unwrap(),
        audiences: audiences
            .iter()
            .map(|a| Audience::parse(a).unwrap())
            .collect(),
        resource_server: false,
        expires_at: None,
        ip_allowlist: IpAllowlist::default(),
        rate_limit_per_minute: None,
        secret: None,
    }
}

impl TestApp {
    /// Deactivates `client` in the database, past this node, as another
    /// replica or the CLI would.
    pub async fn deactivate_in_store(&self, client: &TestClient) {
        let id = ClientId::parse(&client.id).unwrap();
        let now = chrono::Utc::now().timestamp();
        self.store
            .set_client_status(&id, ClientStatus::Deactivated, now)
            .await
            .unwrap();
    }

    /// Returns once the usage writer has written everything tallied before
    /// the call: two of its rounds have ended since.
    pub async fn usage_written(&self) {
        self.rounds(|c| &c.usage_flush_rounds, 2).await;
    }

    /// Returns once this node has scanned for expiring credentials twice
    /// since the call: whatever it would warn about is warned about.
    pub async fn expiry_scanned(&self) {
        self.rounds(|c| &c.expiry_scan_rounds, 2).await;
    }

    /// Returns once this node has looked for due webhooks twice since the
    /// call: whatever was due then has been sent.
    pub async fn webhooks_sent(&self) {
        self.rounds(|c| &c.webhook_dispatch_rounds, 2).await;
    }

    /// Returns once this node has looked for due emails twice since the
    /// call: whatever was due then has been sent.
    pub async fn emails_sent(&self) {
        self.rounds(|c| &c.email_dispatch_rounds, 2).await;
    }

    /// Returns once the round counter `of` has grown by `rounds`.
    async fn rounds(&self, of: impl Fn(&Counters) -> &std::sync::atomic::AtomicU64, rounds: u64) {
        let read = || of(&self.counters).load(std::sync::atomic::Ordering::Relaxed);
        let (before, start) = (read(), std::time::Instant::now());
        while read() < before + rounds {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "the background task did not run"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Another node on the same database and keys, with caches of its own.
    pub async fn replica(&self) -> TestApp {
        self.replica_with(|_| {}).await
    }

    /// Another node, with its settings adjusted by `configure`.
    pub async fn replica_with(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let db = TestDatabase {
            url: self.db.url.clone(),
            pg_name: None,
        };
        let mut settings = self.settings.clone();
        // Replicas share one issuer; by default each would take its own address.
        settings.issuer.get_or_insert_with(|| self.address.clone());
        configure(&mut settings);
        start(settings, db, tempfile::tempdir().unwrap()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.settings.keys_dir.clone()
    }

    pub async fn create_org(&self, plan: Plan) -> OrgId {
        let org = Organisation {
            id: OrgId::generate(),
            name: Name::parse("Acme").unwrap(),
            plan,
            created_at: chrono::Utc::now().timestamp(),
            webhook_url: None,
            webhook_signing_nonce: None,
            notification_email: None,
        };
        self.store.insert_organisation(&org).await.unwrap();
        org.id
    }

    /// A client of a new starter-plan organisation.
    pub async fn create_client(&self, scopes: &[&str], audiences: &[&str]) -> TestClient {
        let org = self.create_org(Plan::Starter).await;
        self.create_client_in(&org, scopes, audiences, None).await
    }

    pub async fn create_client_in(
        &self,
        org: &OrgId,
        scopes: &[&str],
        audiences: &[&str],
        expires_at: Option<i64>,
    ) -> TestClient {
        self.register(org, scopes, audiences, expires_at, false)
            .await
    }

    /// A client of a new starter-plan organisation, adjusted by `configure`.
    pub async fn create_client_with(
        &self,
        scopes: &[&str],
        configure: impl FnOnce(&mut NewClient),
    ) -> TestClient {
        let org = self.create_org(Plan::Starter).await;
        let mut new = new_client(&org, scopes, &[]);
        configure(&mut new);
        self.insert_client(new).await
    }

    async fn register(
        &self,
        org: &OrgId,
        scopes: &[&str],
        audiences: &[&str],
        expires_at: Option<i64>,
        resource_server: bool,
    ) -> TestClient {
        self.insert_client(NewClient {
            resource_server,
            expires_at,
            ..new_client(org, scopes, audiences)
        })
        .await
    }

    async fn insert_client(&self, new: NewClient) -> TestClient {
        let now = chrono::Utc::now().timestamp();
        let generated = keyward::crypto::secret::generate_client_secret();
        let (secret, hash) = match &new.secret {
            Some(imported) => (
                imported.expose().to_owned(),
                SecretHash {
                    phc: self.secrets.hash_imported(imported.expose()).await,
                    origin: SecretOrigin::Imported,
                    expires_at: None,
                },
            ),
            None => (
                generated.expose().to_owned(),
                SecretHash {
                    phc: self.secrets.digest(generated.expose()),
                    origin: SecretOrigin::Generated,
                    expires_at: None,
                },
            ),
        };
        let client = Client {
            id: ClientId::generate(),
            org_id: new.org_id,
            name: new.name,
            scopes: new.scopes,
            audiences: new.audiences,
            status: ClientStatus::Active,
            resource_server: new.resource_server,
            created_at: now,
            updated_at: now,
            expires_at: new.expires_at,
            ip_allowlist: new.ip_allowlist,
            rate_limit_per_minute: new.rate_limit_per_minute,
            last_used_at: None,
            request_count: 0,
            auth_method: None,
            public_keys: Default::default(),
            jwks_uri: None,
            dpop_bound_access_tokens: false,
            federated_subjects: Default::default(),
        };
        self.store.insert_client(&client, &hash).await.unwrap();
        TestClient {
            id: client.id.to_string(),
            secret,
            org_id: client.org_id.to_string(),
        }
    }

    /// A resource-server client serving `audiences`.
    pub async fn create_resource_server(&self, audiences: &[&str]) -> TestClient {
        let org = self.create_org(Plan::Enterprise).await;
        self.register(&org, &["keyward:introspect"], audiences, None, true)
            .await
    }

    /// A fresh access token of `client`, with an optional form addition.
    pub async fn token(&self, client: &TestClient, extra: &[(&str, &str)]) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        let (status, body) = status_and_json(self.post_token(client, &form).await).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A fresh DPoP-bound access token of `client`, bound to `key`.
    pub async fn dpop_token(
        &self,
        client: &TestClient,
        key: &crate::support::client_keys::ClientKeyPair,
        extra: &[(&str, &str)],
    ) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        let proof = key.dpop_proof("POST", &self.url("/oauth/token"), Value::Null);
        let response = self
            .http
            .post(self.url("/oauth/token"))
            .basic_auth(&client.id, Some(&client.secret))
            .header("DPoP", proof)
            .form(&form)
            .send()
            .await
            .unwrap();
        let (status, body) = status_and_json(response).await;
        assert_eq!(
            (status, body["token_type"].as_str()),
            (200, Some("DPoP")),
            "{body}"
        );
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A token through the `oauth2` crate, as an integration gets one.
    pub async fn oauth2_token(&self, id: &str, secret: &str) -> Result<String, String> {
        use oauth2::TokenResponse;
        let oauth = oauth2::basic::BasicClient::new(oauth2::ClientId::new(id.to_owned()))
            .set_client_secret(oauth2::ClientSecret::new(secret.to_owned()))
            .set_token_uri(oauth2::TokenUrl::new(self.url("/oauth/token")).unwrap())
            .set_auth_type(oauth2::AuthType::BasicAuth);
        oauth
            .exchange_client_credentials()
            .request_async(&self.http)
            .await
            .map(|t| t.access_token().secret().clone())
            .map_err(|e| format!("{e:?}"))
    }

    /// POST /oauth/introspect as `caller` (Basic), with `token` and extra parameters.
    pub async fn introspect(
        &self,
        caller: &TestClient,
        token: &str,
        extra: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut form = vec![("token", token)];
        form.extend_from_slice(extra);
        let response = self
            .http
            .post(self.url("/oauth/introspect"))
            .basic_auth(&caller.id, Some(&caller.secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["cache-control"], "no-store");
        status_and_json(response).await
    }

    /// POST /oauth/revoke as `client` (Basic).
    pub async fn revoke(&self, client: &TestClient, token: &str) -> u16 {
        self.http
            .post(self.url("/oauth/revoke"))
            .basic_auth(&client.id, Some(&client.secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// POST /oauth/token with a form body and Basic credentials.
    pub async fn post_token(
        &self,
        client: &TestClient,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.http
            .post(self.url("/oauth/token"))
            .basic_auth(&client.id, Some(&client.secret))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }
}

/// An API key created for a test, with the key in clear.
pub struct TestApiKey {
    pub id: String,
    pub key: String,
}

impl TestApp {
    /// An API key of `org` with `scopes`, adjusted by `configure`, stored
    /// as it is (no plan applies).
    pub async fn create_api_key(
        &self,
        org: &OrgId,
        scopes: &[&str],
        configure: impl FnOnce(&mut NewApiKey),
    ) -> Result<TestApiKey, StorageError> {
        let mut new = NewApiKey {
            org_id: org.clone(),
            name: Name::parse("integration key").unwrap(),
            scopes: ScopeSet::from_strs(scopes.iter().copied()).unwrap(),
            expires_at: None,
            rate_limit_per_minute: None,
            ip_allowlist: IpAllowlist::default(),
            metadata: serde_json::Map::new(),
        };
        configure(&mut new);
        let now = chrono::Utc::now().timestamp();
        let secret = ApiKeySecret::generate();
        let key = ApiKey {
            id: secret.id().clone(),
            org_id: new.org_id,
            name: new.name,
            scopes: new.scopes,
            status: ApiKeyStatus::Active,
            created_at: now,
            updated_at: now,
            expires_at: new.expires_at,
            rate_limit_per_minute: new.rate_limit_per_minute,
            ip_allowlist: new.ip_allowlist,
            metadata: new.metadata,
            last_used_at: None,
            request_count: 0,
        };
        let digest = self.secrets.digest(secret.expose());
        self.store.insert_api_key(&key, &digest, None).await?;
        Ok(TestApiKey {
            id: key.id.to_string(),
            key: secret.expose().to_owned(),
        })
    }

    /// A resource server that may check keys, and an enterprise org with a
    /// `payouts:read` API key adjusted by `configure`.
    pub async fn key_to_check(
        &self,
        configure: impl FnOnce(&mut NewApiKey),
    ) -> (TestClient, OrgId, TestApiKey) {
        let rs = self.create_resource_server(&[API]).await;
        let org = self.create_org(Plan::Enterprise).await;
        let key = self
            .create_api_key(&org, &["payouts:read"], configure)
            .await
            .unwrap();
        (rs, org, key)
    }

    /// POST /v1/keys/verify as `caller` (Basic) with a JSON body.
    pub async fn verify_key(&self, caller: &TestClient, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url("/v1/keys/verify"))
            .basic_auth(&caller.id, Some(&caller.secret))
            .json(&body)
            .send()
            .await
            .unwrap();
        status_and_json(response).await
    }
}

impl TestApp {
    /// A management API call with `Authorization: Bearer <bearer>` and an
    /// optional JSON body; every error must be problem+json.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(bearer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        if status >= 400 {
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json",
                "{path}"
            );
        }
        assert!(status < 500, "{path} answered {status}");
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// An organisation admin's access token: a client of `org` with the
    /// given management scopes, through the token endpoint.
    pub async fn admin_token(&self, org: &OrgId, scopes: &[&str]) -> String {
        let client = self.create_client_in(org, scopes, &[], None).await;
        self.token(&client, &[]).await
    }
}

/// Status and parsed body of a response.
pub async fn status_and_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}
