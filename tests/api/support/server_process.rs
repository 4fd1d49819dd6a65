//! The `keyward` binary as a server process, configured only by the
//! environment the way the container image runs it, for tests that need
//! real signals: a clean stop, `kill -9`, a restart on the same database.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::cli_process::Child;
use crate::support::helpers::ROOT_TOKEN;

const START_WITHIN: Duration = Duration::from_secs(30);

pub struct ServerProcess {
    child: Child,
    pub base: String,
    pub http: reqwest::Client,
    log: PathBuf,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ServerProcess {
    /// Starts the binary on `database_url` with keys under `dir`, and waits
    /// until `/healthz` answers.
    pub async fn start(dir: &Path, database_url: &str) -> Self {
        Self::start_with(dir, database_url, &[]).await
    }

    /// `start` with settings changed: `Some` sets one, `None` leaves it unset.
    pub async fn start_with(
        dir: &Path,
        database_url: &str,
        changes: &[(&str, Option<&str>)],
    ) -> Self {
        let port = free_port();
        let mut env = vec![
            ("KEYWARD_LISTEN", format!("127.0.0.1:{port}")),
            ("KEYWARD_DATABASE_URL", database_url.to_owned()),
            ("KEYWARD_KEYS_DIR", dir.join("keys").display().to_string()),
            ("KEYWARD_ROOT_TOKEN", ROOT_TOKEN.to_owned()),
            ("KEYWARD_WORKERS", "2".to_owned()),
            ("KEYWARD_ADMIN_RATE_LIMIT_PER_MINUTE", "100000".to_owned()),
            ("KEYWARD_LOG", "info".to_owned()),
        ];
        for (name, value) in changes {
            env.retain(|(set, _)| set != name);
            if let Some(value) = value {
                env.push((name, (*value).to_owned()));
            }
        }
        let log = dir.join(format!("server-{port}.log"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("KEYWARD_")) {
            command.env_remove(key);
        }
        let child = command
            .current_dir(dir)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let server = Self {
            child: Child(child),
            base: format!("http://127.0.0.1:{port}"),
            // No idle connection of the test's own keeps a stopping server
            // waiting for it.
            http: keyward::tls::client_builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            log,
        };
        server.wait_until_healthy().await;
        server
    }

    async fn wait_until_healthy(&self) {
        let started = Instant::now();
        while started.elapsed() < START_WITHIN {
            let health = self.http.get(self.url("/healthz")).send().await;
            if health.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not come up: {}", self.log());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log once it holds `needle`, or as it is after `within`: lines are
    /// written off the request threads, so one may land after the server
    /// already answers.
    pub async fn log_once_it_holds(&self, needle: &str, within: Duration) -> String {
        let started = Instant::now();
        loop {
            let log = self.log();
            if log.contains(needle) || started.elapsed() >= within {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    }

    /// `kill -9`: no chance to finish anything.
    pub fn crash(&mut self) {
        self.child.0.kill().unwrap();
        self.child.0.wait().unwrap();
    }

    /// Waits for the process to end, failing the test after `limit`.
    pub async fn exit_status(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "still running {limit:?} after the signal: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A management API call with the root token.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Result<(u16, Value)> {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(ROOT_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.json().await?;
        Ok((status, body))
    }

    /// Like `admin`, for calls that must succeed with `expected`.
    pub async fn admin_ok(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        expected: u16,
    ) -> Value {
        let (status, body) = self.admin(method, path, body).await.unwrap();
        assert_eq!(status, expected, "{path}: {body}");
        body
    }

    /// A new enterprise organisation's id.
    pub async fn create_org(&self) -> String {
        let body = json!({"name": "Acme", "plan": "enterprise"});
        self.admin_ok(reqwest::Method::POST, "/admin/v1/orgs", Some(body), 201)
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}
