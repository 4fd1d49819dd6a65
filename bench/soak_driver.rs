//! The load behind `bench/soak`: measures the server's capacity for a mix
//! of 70% introspection, 20% API key verification and 10% token requests,
//! then holds that mix at a fraction of it (80% by default) for five
//! minutes with a trickle of management writes, and checks the pass
//! conditions: no errors, p99 per minute, server RSS sampled every 10 s not
//! growing over 10% after the first minute, and usage counts equal to the
//! requests sent. Built as a Cargo example so it shares Cargo.lock.
//!
//! Settings come from the environment (SOAK_*), which bench/soak sets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    #[arg(long, env = "SOAK_BASE_URL")]
    base: String,
    #[arg(long, env = "SOAK_SERVER_PID")]
    server_pid: u32,
    #[arg(long, env = "SOAK_ROOT_TOKEN", hide_env_values = true)]
    root_token: String,
    #[arg(long, env = "SOAK_ORG_ID")]
    org_id: String,
    #[arg(long, env = "SOAK_CLIENT_ID")]
    client_id: String,
    #[arg(long, env = "SOAK_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,
    #[arg(long, env = "SOAK_RS_ID")]
    rs_id: String,
    #[arg(long, env = "SOAK_RS_SECRET", hide_env_values = true)]
    rs_secret: String,
    #[arg(long, env = "SOAK_KEY_ID")]
    key_id: String,
    #[arg(long, env = "SOAK_KEY", hide_env_values = true)]
    key: String,
    #[arg(long, env = "SOAK_AUDIENCE")]
    audience: String,
    #[arg(long, env = "SOAK_SECONDS", default_value_t = 300)]
    seconds: u64,
    #[arg(long, env = "SOAK_LOAD", default_value_t = 0.8)]
    load: f64,
    #[arg(long, env = "SOAK_CONNECTIONS", default_value_t = 64)]
    connections: usize,
    #[arg(long, env = "SOAK_CAPACITY_SECONDS", default_value_t = 10)]
    capacity_seconds: u64,
    /// Where the one-line JSON summary is appended.
    #[arg(long, env = "SOAK_OUT")]
    out: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy)]
enum Operation {
    IntrospectToken,
    IntrospectKey,
    VerifyKey,
    Token,
}

/// Ten requests of the mix: 7 introspections (4 of a token, 3 of an API
/// key), 2 verifications, 1 token request.
const MIX: [Operation; 10] = {
    use Operation::*;
    [
        IntrospectToken,
        IntrospectKey,
        IntrospectToken,
        VerifyKey,
        IntrospectKey,
        IntrospectToken,
        Token,
        IntrospectKey,
        IntrospectToken,
        VerifyKey,
    ]
};

struct Target {
    http: reqwest::Client,
    args: Args,
    token: String,
    /// Requests that counted as usage: key checks and tokens issued.
    key_checks: AtomicU64,
    tokens_issued: AtomicU64,
}

impl Target {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.args.base)
    }

    async fn post_form(
        &self,
        path: &str,
        user: &str,
        secret: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Result<(StatusCode, String)> {
        let response = self
            .http
            .post(self.url(path))
            .basic_auth(user, Some(secret))
            .form(form)
            .send()
            .await?;
        Ok((response.status(), response.text().await?))
    }

    /// Sends one request of the mix; `Err` describes anything but success.
    async fn send(&self, operation: Operation) -> Result<(), String> {
        let a = &self.args;
        let (sent, expect, counter) = match operation {
            Operation::IntrospectToken => (
                self.post_form(
                    "/oauth/introspect",
                    &a.rs_id,
                    &a.rs_secret,
                    &[("token", &self.token)],
                )
                .await,
                r#""active":true"#,
                None,
            ),
            Operation::IntrospectKey => (
                self.post_form(
                    "/oauth/introspect",
                    &a.rs_id,
                    &a.rs_secret,
                    &[("token", &a.key), ("token_type_hint", "api_key")],
                )
                .await,
                r#""active":true"#,
                Some(&self.key_checks),
            ),
            Operation::VerifyKey => {
                let sent = async {
                    let response = self
                        .http
                        .post(self.url("/v1/keys/verify"))
                        .basic_auth(&a.rs_id, Some(&a.rs_secret))
                        .json(&json!({ "key": a.key }))
                        .send()
                        .await?;
                    Ok((response.status(), response.text().await?))
                };
                (sent.await, r#""code":"VALID""#, Some(&self.key_checks))
            }
            Operation::Token => (
                self.post_form(
                    "/oauth/token",
                    &a.client_id,
                    &a.client_secret,
                    &[
                        ("grant_type", "client_credentials"),
                        ("resource", &a.audience),
                    ],
                )
                .await,
                r#""access_token""#,
                Some(&self.tokens_issued),
            ),
        };
        match sent {
            Ok((StatusCode::OK, body)) if body.contains(expect) => {
                if let Some(counter) = counter {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
            Ok((status, body)) => Err(format!(
                "{status} {}",
                body.chars().take(200).collect::<String>()
            )),
            Err(e) => Err(format!("{e}")),
        }
    }

    async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut request = self
            .http
            .request(method.clone(), self.url(path))
            .bearer_auth(&self.args.root_token);
        if let Some(body) = body {
            request = request
                .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                .json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{method} {path}: {status}"));
        }
        Ok(response.json().await.unwrap_or(Value::Null))
    }
}

/// What one worker saw: per minute of the soak, latencies (µs) and errors.
#[derive(Default)]
struct Tally {
    latencies: Vec<Vec<u32>>,
    errors: Vec<u64>,
    first_errors: Vec<String>,
}

impl Tally {
    fn record(&mut self, minute: usize, latency: Duration, outcome: Result<(), String>) {
        if self.latencies.len() <= minute {
            self.latencies.resize_with(minute + 1, Vec::new);
            self.errors.resize(minute + 1, 0);
        }
        self.latencies[minute].push(latency.as_micros().min(u128::from(u32::MAX)) as u32);
        if let Err(e) = outcome {
            self.errors[minute] += 1;
            if self.first_errors.len() < 5 {
                self.first_errors.push(e);
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        for (minute, latencies) in other.latencies.into_iter().enumerate() {
            if self.latencies.len() <= minute {
                self.latencies.resize_with(minute + 1, Vec::new);
                self.errors.resize(minute + 1, 0);
            }
            self.latencies[minute].extend(latencies);
            self.errors[minute] += other.errors[minute];
        }
        self.first_errors.extend(other.first_errors);
    }
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

fn next_operation() -> Operation {
    MIX[(SEQUENCE.fetch_add(1, Ordering::Relaxed) % MIX.len() as u64) as usize]
}

/// Closed loop, as fast as the server answers: requests per second.
async fn measure_capacity(target: &Arc<Target>) -> (f64, u64) {
    let duration = Duration::from_secs(target.args.capacity_seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..target.args.connections)
        .map(|_| {
            let target = target.clone();
            tokio::spawn(async move {
                let (mut done, mut errors) = (0u64, 0u64);
                while started.elapsed() < duration {
                    done += 1;
                    if target.send(next_operation()).await.is_err() {
                        errors += 1;
                    }
                }
                (done, errors)
            })
        })
        .collect();
    let (mut done, mut errors) = (0, 0);
    for worker in workers {
        let (d, e) = worker.await.unwrap();
        done += d;
        errors += e;
    }
    (done as f64 / started.elapsed().as_secs_f64(), errors)
}

/// Open loop: request k is due at k / rate seconds; late requests go at once.
async fn soak(target: &Arc<Target>, rate: f64) -> Tally {
    let duration = Duration::from_secs(target.args.seconds);
    let started = tokio::time::Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..target.args.connections)
        .map(|_| {
            let (target, next) = (target.clone(), next.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let due = Duration::from_secs_f64(k as f64 / rate);
                    if due >= duration {
                        return tally;
                    }
                    tokio::time::sleep_until(started + due).await;
                    let sent = Instant::now();
                    let outcome = target.send(next_operation()).await;
                    // A request due in the last minute counts there, however late it ends.
                    let minute = (due.as_secs() / 60) as usize;
                    tally.record(minute, sent.elapsed(), outcome);
                }
            })
        })
        .collect();
    let mut total = Tally::default();
    for worker in workers {
        total.merge(worker.await.unwrap());
    }
    total
}

/// Management writes while the load runs: create, rename and delete keys.
async fn management_trickle(
    target: Arc<Target>,
    stop: Arc<tokio::sync::Notify>,
) -> (u64, Vec<String>) {
    let org = target.args.org_id.clone();
    let (mut writes, mut errors) = (0u64, Vec::new());
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let stopped = stop.notified();
    tokio::pin!(stopped);
    for n in 0u64.. {
        tokio::select! {
            _ = &mut stopped => break,
            _ = tick.tick() => {}
        }
        let created = target
            .admin(
                Method::POST,
                &format!("/admin/v1/orgs/{org}/api-keys"),
                Some(json!({"name": format!("soak {n}"), "scopes": ["payouts:read"]})),
            )
            .await;
        let steps = async {
            let id = created?["id"].as_str().unwrap_or_default().to_owned();
            let path = format!("/admin/v1/orgs/{org}/api-keys/{id}");
            target
                .admin(
                    Method::PATCH,
                    &path,
                    Some(json!({"name": format!("soak {n} renamed")})),
                )
                .await?;
            target.admin(Method::DELETE, &path, None).await?;
            Ok::<_, String>(3)
        };
        match steps.await {
            Ok(done) => writes += done,
            Err(e) => errors.push(e),
        }
    }
    (writes, errors)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn sample_rss(pid: u32, stop: Arc<tokio::sync::Notify>) -> Vec<(u64, u64)> {
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let stopped = stop.notified();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = &mut stopped => return samples,
            _ = tick.tick() => {}
        }
        if let Some(kib) = rss_kib(pid) {
            samples.push((started.elapsed().as_secs(), kib));
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1]) / 1000.0
}

/// Waits (up to 15 s, for the write-behind) until the stored counts match.
async fn stored_usage(target: &Target, key_expected: u64, client_expected: u64) -> (u64, u64) {
    let a = &target.args;
    let key_path = format!("/admin/v1/orgs/{}/api-keys/{}", a.org_id, a.key_id);
    let client_path = format!("/admin/v1/orgs/{}/clients/{}", a.org_id, a.client_id);
    let started = Instant::now();
    loop {
        let count = |view: Result<Value, String>| {
            view.ok()
                .and_then(|v| v["request_count"].as_u64())
                .unwrap_or(0)
        };
        let key = count(target.admin(Method::GET, &key_path, None).await);
        let client = count(target.admin(Method::GET, &client_path, None).await);
        if (key, client) == (key_expected, client_expected)
            || started.elapsed() > Duration::from_secs(15)
        {
            return (key, client);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let http = keyward::tls::client_builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let token = {
        let response = http
            .post(format!("{}/oauth/token", args.base))
            .basic_auth(&args.client_id, Some(&args.client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", args.audience.as_str()),
            ])
            .send()
            .await
            .expect("the server answers");
        let body: Value = response.json().await.expect("a token response");
        body["access_token"].as_str().expect("a token").to_owned()
    };
    let target = Arc::new(Target {
        http,
        args,
        token,
        key_checks: AtomicU64::new(0),
        tokens_issued: AtomicU64::new(1),
    });
    let a = &target.args;

    let (capacity, capacity_errors) = measure_capacity(&target).await;
    let rate = capacity * a.load;
    println!(
        "soak: capacity {capacity:.0} req/s ({capacity_errors} errors) with {} connections; \
         holding {rate:.0} req/s ({:.0}%) for {} s",
        a.connections,
        a.load * 100.0,
        a.seconds
    );

    let stop = Arc::new(tokio::sync::Notify::new());
    let rss = tokio::spawn(sample_rss(a.server_pid, stop.clone()));
    let trickle = tokio::spawn(management_trickle(target.clone(), stop.clone()));
    let tally = soak(&target, rate).await;
    stop.notify_waiters();
    let rss = rss.await.unwrap();
    let (writes, write_errors) = trickle.await.unwrap();

    let mut minutes = Vec::new();
    let mut request_errors = 0;
    for (minute, mut latencies) in tally.latencies.into_iter().enumerate() {
        latencies.sort_unstable();
        let errors = tally.errors[minute];
        request_errors += errors;
        let seconds = (a.seconds - 60 * minute as u64).min(60) as f64;
        let line = json!({
            "minute": minute + 1,
            "requests": latencies.len(),
            "rps": (latencies.len() as f64 / seconds).round(),
            "p50_ms": percentile(&latencies, 0.50),
            "p99_ms": percentile(&latencies, 0.99),
            "max_ms": percentile(&latencies, 1.0),
            "errors": errors,
        });
        println!("soak: minute {line}");
        minutes.push(line);
    }
    for e in tally.first_errors.iter().chain(&write_errors) {
        println!("soak: error: {e}");
    }

    let after_first_minute = rss.iter().find(|(t, _)| *t >= 60).map(|(_, kib)| *kib);
    let peak_after = rss
        .iter()
        .filter(|(t, _)| *t >= 60)
        .map(|(_, kib)| *kib)
        .max();
    let growth = match (after_first_minute, peak_after) {
        (Some(base), Some(peak)) => (peak as f64 / base as f64 - 1.0) * 100.0,
        _ => f64::NAN,
    };
    println!(
        "soak: RSS (s, MiB): {}",
        rss.iter()
            .map(|(t, kib)| format!("{t}:{:.1}", *kib as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join(" ")
    );

    let key_expected = target.key_checks.load(Ordering::Relaxed);
    let client_expected = target.tokens_issued.load(Ordering::Relaxed);
    let (key_stored, client_stored) = stored_usage(&target, key_expected, client_expected).await;
    println!(
        "soak: usage: API key {key_stored} stored / {key_expected} sent; \
         client {client_stored} stored / {client_expected} tokens issued"
    );

    let verdicts = [
        (
            "zero errors",
            request_errors == 0 && capacity_errors == 0 && write_errors.is_empty(),
        ),
        (
            "RSS growth after the first minute at most 10%",
            growth <= 10.0,
        ),
        (
            "usage counts equal requests sent",
            key_stored == key_expected && client_stored == client_expected,
        ),
    ];
    let passed = verdicts.iter().all(|(_, ok)| *ok);
    let summary = json!({
        "capacity_rps": capacity.round(),
        "target_rps": rate.round(),
        "load": a.load,
        "seconds": a.seconds,
        "minutes": minutes,
        "request_errors": request_errors,
        "management_writes": writes,
        "management_errors": write_errors.len(),
        "rss_kib": rss,
        "rss_growth_pct": (growth * 10.0).round() / 10.0,
        "usage": {"key": [key_stored, key_expected], "client": [client_stored, client_expected]},
        "passed": passed,
    });
    if let Some(out) = &a.out {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out)
            .unwrap();
        writeln!(file, "{summary}").unwrap();
    }
    for (what, ok) in verdicts {
        println!("soak: {} {what}", if ok { "PASS" } else { "FAIL" });
    }
    std::process::exit(if passed { 0 } else { 1 });
}
