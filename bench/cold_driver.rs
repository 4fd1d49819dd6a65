//! The load behind bench/run.sh's cold scenarios (COLD=1). A deployment sees
//! many credentials, each once per token lifetime, so the first request of
//! each one, which finds nothing cached, matters as much as the warm rate
//! that wrk measures with a single credential.
//!
//! `setup` creates N OAuth clients and N API keys through the management API
//! and writes their secrets, one JSON object a line, to a private file.
//! `run` sends exactly one request per credential per pass, in order, on C
//! keep-alive connections, checks every answer and appends one JSON line in
//! the shape of ../shared/peers/bench.sh's results. Like wrk, it encodes
//! every request before the clock starts and runs on one thread, so the
//! server keeps the machine it would keep under wrk. Secrets come from that
//! file or the environment, never the command line, and are never printed.
//! Built as a Cargo example so it shares Cargo.lock.

use std::cell::Cell;
use std::future::Future;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::net::TcpStream;

use keyward::crypto::signing_key::{generate_pkcs8, SigningKey};
use keyward::crypto::SigningAlgorithm;

#[derive(Parser)]
enum Cli {
    /// Create the clients and API keys, and write their secrets to --out.
    Setup(Setup),
    /// One request per credential per pass; one JSON line appended to --out.
    Run(Run),
}

#[derive(clap::Args)]
struct Setup {
    #[arg(long)]
    base: String,
    #[arg(long, env = "KEYWARD_ROOT_TOKEN", hide_env_values = true)]
    root_token: String,
    #[arg(long)]
    org: String,
    #[arg(long)]
    clients: usize,
    #[arg(long)]
    keys: usize,
    /// Clients that authenticate with private_key_jwt: each gets an ES256
    /// key of its own, registered through the management API.
    #[arg(long, default_value_t = 0)]
    key_clients: usize,
    /// As many clients again with RS256 keys (one key pair for all of
    /// them: an RSA key takes long to generate).
    #[arg(long)]
    rsa_key_clients: bool,
    /// Clients that sign in with a platform token (workload identity
    /// federation): each bound to a subject of one trusted issuer, whose
    /// key set is registered statically (so it is always cached). The
    /// issuer signs RS256, as GitHub Actions and Kubernetes sign theirs.
    #[arg(long, default_value_t = 0)]
    federated_clients: usize,
    #[arg(long)]
    audience: String,
    /// The keys' rate limit: high enough never to refuse a check.
    #[arg(long, default_value_t = 1_000_000_000)]
    key_rate_limit: u64,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long)]
    out: PathBuf,
}

impl Setup {
    fn total(&self) -> usize {
        let key_clients = self.key_clients * (1 + usize::from(self.rsa_key_clients));
        self.clients + self.keys + key_clients + self.federated_clients
    }
}

#[derive(clap::Args)]
struct Run {
    #[arg(long)]
    base: String,
    /// The credentials written by `setup`.
    #[arg(long)]
    file: PathBuf,
    #[arg(long, value_enum)]
    scenario: Scenario,
    #[arg(long, default_value_t = 1)]
    passes: usize,
    #[arg(long, default_value_t = 32)]
    connections: usize,
    #[arg(long)]
    label: String,
    /// The scenario's name in the results, such as cold_token.
    #[arg(long)]
    name: String,
    #[arg(long)]
    out: PathBuf,
    /// The resource server that checks the keys (verify_key).
    #[arg(long, env = "COLD_RS_ID")]
    rs_id: Option<String>,
    #[arg(long, env = "COLD_RS_SECRET", hide_env_values = true)]
    rs_secret: Option<String>,
    #[arg(long, default_value = "https://api.example.test")]
    audience: String,
    #[arg(long, default_value = "payouts:read")]
    scope: String,
    /// The server's process, whose CPU time over the run is reported.
    #[arg(long, env = "COLD_SERVER_PID")]
    server_pid: Option<u32>,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Scenario {
    Token,
    #[value(name = "verify_key")]
    VerifyKey,
    /// Tokens with private_key_jwt: every request carries a new assertion
    /// of the client's ES256 key, signed before the clock starts.
    Assertion,
    /// The same with the clients' RS256 keys.
    #[value(name = "assertion_rs256")]
    AssertionRs256,
    /// DPoP-bound tokens of the secret clients: every request carries a
    /// new proof of the client's own ES256 key, signed before the clock
    /// starts.
    Dpop,
    /// Tokens of the federated clients: every request carries a new
    /// platform token of the trusted issuer, signed before the clock starts.
    Federated,
}

/// One line of the credentials file.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Credential {
    Client {
        id: String,
        secret: String,
    },
    Key {
        key: String,
    },
    /// A client with its private key (PKCS#8, base64).
    KeyClient {
        id: String,
        kid: String,
        alg: keyward::crypto::SigningAlgorithm,
        pkcs8: String,
    },
    /// A client bound to `subject` of the bench's trusted issuer, with the
    /// issuer's private key (PKCS#8, base64).
    Federated {
        id: String,
        subject: String,
        pkcs8: String,
    },
}

/// The bench's trusted issuer and its key's id.
const BENCH_ISSUER: &str = "https://bench-issuer.example";
const BENCH_ISSUER_KID: &str = "bench-issuer";

impl Credential {
    fn serves(&self, scenario: Scenario) -> bool {
        matches!(
            (self, scenario),
            (Credential::Client { .. }, Scenario::Token | Scenario::Dpop)
                | (Credential::Key { .. }, Scenario::VerifyKey)
                | (
                    Credential::KeyClient {
                        alg: SigningAlgorithm::ES256,
                        ..
                    },
                    Scenario::Assertion
                )
                | (
                    Credential::KeyClient {
                        alg: SigningAlgorithm::RS256,
                        ..
                    },
                    Scenario::AssertionRs256
                )
                | (Credential::Federated { .. }, Scenario::Federated)
        )
    }
}

/// Load goes to this machine only.
fn loopback(base: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(base).context("--base")?;
    let local = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    ensure!(local, "refusing {base}: loopback addresses only");
    Ok(base.trim_end_matches('/').to_owned())
}

fn http_client(connections: usize) -> reqwest::Client {
    keyward::tls::client_builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

/// Runs `job(i)` for every i in 0..count, in order, on `workers` tasks that
/// share the next index. The first error stops every worker and is returned.
async fn in_parallel<T, F, Fut>(count: usize, workers: usize, job: F) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<T>> + Send,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let (job, next) = (job.clone(), next.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return Ok(done);
                    }
                    match job(i).await {
                        Ok(value) => done.push(value),
                        Err(e) => {
                            next.store(count, Ordering::Relaxed);
                            return Err(e);
                        }
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::with_capacity(count);
    for handle in handles {
        all.extend(handle.await??);
    }
    Ok(all)
}

struct Admin {
    http: reqwest::Client,
    setup: Setup,
    base: String,
    created: AtomicUsize,
    /// The trusted issuer's private key, for the federated clients.
    issuer_pkcs8: Vec<u8>,
    /// The RS256 key clients' private key.
    rsa_client_pkcs8: Vec<u8>,
}

impl Admin {
    /// POSTs to the organisation's `what`; anything but 2xx is an error.
    async fn create(&self, what: &str, body: Value) -> anyhow::Result<Value> {
        let url = format!("{}/admin/v1/orgs/{}/{what}", self.base, self.setup.org);
        let created = self.post(&url, body).await?;
        self.progress();
        Ok(created)
    }

    async fn post(&self, url: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.setup.root_token)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!(
                "POST {url}: {status} {}",
                text.chars().take(300).collect::<String>()
            );
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// Trusts the bench's issuer, its key set given statically.
    async fn trust_issuer(&self) -> anyhow::Result<()> {
        let jwk = SigningKey::from_pkcs8(BENCH_ISSUER_KID, &self.issuer_pkcs8)?
            .public_jwk()
            .clone();
        let url = format!("{}/admin/v1/trusted-issuers", self.base);
        self.post(
            &url,
            json!({"issuer": BENCH_ISSUER, "jwks": {"keys": [jwk]}}),
        )
        .await?;
        Ok(())
    }

    fn progress(&self) {
        let total = self.setup.total();
        let done = self.created.fetch_add(1, Ordering::Relaxed) + 1;
        if done.is_multiple_of((total / 5).max(1)) {
            println!("cold setup: {done}/{total} created");
        }
    }

    /// The i-th credential: clients first, then keys, then clients with
    /// keys of their own (ES256, then RS256), then federated clients.
    async fn credential(&self, i: usize) -> anyhow::Result<Credential> {
        let s = &self.setup;
        let name = format!("cold {i}");
        if i >= s.total() - s.federated_clients {
            return self.federated_client(name, i).await;
        }
        if i >= s.clients + s.keys + s.key_clients {
            let rsa = (self.rsa_client_pkcs8.as_slice(), "bench-rs256");
            return self.key_client(name, SigningAlgorithm::RS256, rsa).await;
        }
        if i >= s.clients + s.keys {
            let own = generate_pkcs8(SigningAlgorithm::ES256)?;
            return self
                .key_client(name, SigningAlgorithm::ES256, (&own, "bench"))
                .await;
        }
        if i < s.clients {
            let body = json!({"name": name, "scopes": ["payouts:read"], "audiences": [s.audience]});
            let created = self.create("clients", body).await?;
            Ok(Credential::Client {
                id: field(&created, "client_id")?,
                secret: field(&created, "client_secret")?,
            })
        } else {
            let body = json!({"name": name, "scopes": ["payouts:read"],
                              "rate_limit_per_minute": s.key_rate_limit});
            let created = self.create("api-keys", body).await?;
            Ok(Credential::Key {
                key: field(&created, "key")?,
            })
        }
    }
}

impl Admin {
    async fn key_client(
        &self,
        name: String,
        alg: SigningAlgorithm,
        (pkcs8, kid): (&[u8], &str),
    ) -> anyhow::Result<Credential> {
        use base64::Engine;
        let jwk = SigningKey::from_pkcs8(kid, pkcs8)?.public_jwk().clone();
        let body = json!({"name": name, "scopes": ["payouts:read"],
                          "audiences": [self.setup.audience],
                          "token_endpoint_auth_method": "private_key_jwt",
                          "public_keys": [{"jwk": jwk}]});
        let created = self.create("clients", body).await?;
        Ok(Credential::KeyClient {
            id: field(&created, "client_id")?,
            kid: kid.to_owned(),
            alg,
            pkcs8: base64::engine::general_purpose::STANDARD.encode(pkcs8),
        })
    }
}

impl Admin {
    async fn federated_client(&self, name: String, i: usize) -> anyhow::Result<Credential> {
        use base64::Engine;
        let body = json!({"name": name, "scopes": ["payouts:read"],
                          "audiences": [self.setup.audience]});
        let created = self.create("clients", body).await?;
        let id = field(&created, "client_id")?;
        let subject = format!("bench:{i}");
        let binding = json!({"issuer": BENCH_ISSUER, "subject": subject});
        self.create(&format!("clients/{id}/federated-subjects"), binding)
            .await?;
        Ok(Credential::Federated {
            id,
            subject,
            pkcs8: base64::engine::general_purpose::STANDARD.encode(&self.issuer_pkcs8),
        })
    }
}

fn field(value: &Value, name: &str) -> anyhow::Result<String> {
    value[name]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("the answer has no {name}"))
}

async fn setup(setup: Setup) -> anyhow::Result<()> {
    let total = setup.total();
    let (workers, out) = (setup.concurrency, setup.out.clone());
    let federated = setup.federated_clients > 0;
    let admin = Arc::new(Admin {
        http: http_client(workers),
        base: loopback(&setup.base)?,
        setup,
        created: AtomicUsize::new(0),
        issuer_pkcs8: generate_pkcs8(SigningAlgorithm::RS256)?,
        rsa_client_pkcs8: generate_pkcs8(SigningAlgorithm::RS256)?,
    });
    if federated {
        admin.trust_issuer().await?;
    }
    let started = Instant::now();
    let credentials = in_parallel(total, workers, move |i| {
        let admin = admin.clone();
        async move { admin.credential(i).await }
    })
    .await?;
    let mut file = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(&out)
        .with_context(|| format!("{}", out.display()))?;
    for credential in &credentials {
        writeln!(file, "{}", serde_json::to_string(credential)?)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "cold setup: {total} credentials in {seconds:.1} s ({:.0}/s), written to {}",
        total as f64 / seconds,
        out.display()
    );
    Ok(())
}

/// The credentials of the file that `scenario` uses, in file order.
fn load(file: &Path, scenario: Scenario) -> anyhow::Result<Vec<Credential>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("{}", file.display()))?;
    let mut wanted = Vec::new();
    for line in text.lines() {
        let credential: Credential = serde_json::from_str(line)?;
        if credential.serves(scenario) {
            wanted.push(credential);
        }
    }
    ensure!(
        !wanted.is_empty(),
        "no credentials for this scenario in {}",
        file.display()
    );
    Ok(wanted)
}

/// One request's outcome: when it started (since the run's start), how long
/// it took, and what went wrong, if anything.
struct Sample {
    started: Duration,
    latency: Duration,
    failure: Option<String>,
}

/// One request, encoded before the clock starts, as wrk encodes its own:
/// the measured loop only sends it.
struct Prepared {
    authorization: Option<HeaderValue>,
    dpop: Option<HeaderValue>,
    body: Bytes,
}

fn basic(id: &str, secret: &str) -> anyhow::Result<HeaderValue> {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    Ok(HeaderValue::try_from(format!("Basic {encoded}"))?)
}

fn token_form(run: &Run) -> url::form_urlencoded::Serializer<'static, String> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials")
        .append_pair("scope", &run.scope)
        .append_pair("resource", &run.audience);
    form
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A new assertion of `id`, for the token endpoint of `base`.
fn assertion(key: &SigningKey, id: &str, audience: &str) -> String {
    let now = unix_now();
    let claims = json!({"iss": id, "sub": id, "aud": audience, "iat": now, "exp": now + 240,
                        "jti": uuid::Uuid::new_v4().to_string()});
    key.sign_compact(claims.to_string().as_bytes())
}

/// A new DPoP proof of a new ES256 key for a token request to `endpoint`.
fn dpop_proof(endpoint: &str) -> anyhow::Result<HeaderValue> {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)?;
    let point = pair.public_key().as_ref();
    let jwk = json!({"kty": "EC", "crv": "P-256",
                     "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                     "y": URL_SAFE_NO_PAD.encode(&point[33..])});
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
    let claims = json!({"htm": "POST", "htu": endpoint, "iat": unix_now(),
                        "jti": uuid::Uuid::new_v4().to_string()});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = pair.sign(&SystemRandom::new(), input.as_bytes())?;
    Ok(HeaderValue::try_from(format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    ))?)
}

fn prepare(run: &Run, credential: &Credential, rs: &(String, String)) -> anyhow::Result<Prepared> {
    Ok(match credential {
        Credential::KeyClient { id, kid, pkcs8, .. } => {
            use base64::Engine;
            let der = base64::engine::general_purpose::STANDARD.decode(pkcs8)?;
            let key = SigningKey::from_pkcs8(kid, &der)?;
            let audience = format!("{}/oauth/token", loopback(&run.base)?);
            Prepared {
                authorization: None,
                dpop: None,
                body: token_form(run)
                    .append_pair(
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    )
                    .append_pair("client_assertion", &assertion(&key, id, &audience))
                    .finish()
                    .into(),
            }
        }
        Credential::Federated { id, subject, pkcs8 } => {
            use base64::Engine;
            let der = base64::engine::general_purpose::STANDARD.decode(pkcs8)?;
            let key = SigningKey::from_pkcs8(BENCH_ISSUER_KID, &der)?;
            let now = unix_now();
            let claims = json!({"iss": BENCH_ISSUER, "sub": subject, "aud": loopback(&run.base)?,
                                "iat": now, "exp": now + 240,
                                "jti": uuid::Uuid::new_v4().to_string()});
            Prepared {
                authorization: None,
                dpop: None,
                body: token_form(run)
                    .append_pair("client_id", id)
                    .append_pair(
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    )
                    .append_pair(
                        "client_assertion",
                        &key.sign_compact(claims.to_string().as_bytes()),
                    )
                    .finish()
                    .into(),
            }
        }
        Credential::Client { id, secret } => Prepared {
            authorization: Some(basic(id, secret)?),
            dpop: match run.scenario {
                Scenario::Dpop => Some(dpop_proof(&format!(
                    "{}/oauth/token",
                    loopback(&run.base)?
                ))?),
                _ => None,
            },
            body: token_form(run).finish().into(),
        },
        Credential::Key { key } => Prepared {
            authorization: Some(basic(&rs.0, &rs.1)?),
            dpop: None,
            body: serde_json::to_vec(&json!({"key": key, "required_scope": run.scope}))?.into(),
        },
    })
}

/// The load: `connections` keep-alive HTTP/1.1 connections (hyper's own
/// client connection, no pool or per-request timer), each sending the next
/// unsent request as soon as its answer is in, on one thread.
struct Load {
    path: String,
    host: HeaderValue,
    content_type: HeaderValue,
    expect: &'static [u8],
    requests: Vec<Prepared>,
}

impl Load {
    async fn connect(&self, address: &str) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::task::spawn_local(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    async fn send(
        &self,
        sender: &mut SendRequest<Full<Bytes>>,
        i: usize,
        start: Instant,
    ) -> Sample {
        let prepared = &self.requests[i % self.requests.len()];
        let mut request = Request::post(self.path.as_str())
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, self.content_type.clone());
        if let Some(authorization) = &prepared.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        if let Some(proof) = &prepared.dpop {
            request = request.header("DPoP", proof.clone());
        }
        let request = request
            .body(Full::new(prepared.body.clone()))
            .expect("a valid request");
        let sent = Instant::now();
        let answer = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body))
        }
        .await;
        let failure = match answer {
            Ok((status, body)) if status == 200 && contains(&body, self.expect) => None,
            Ok((status, body)) => Some(format!(
                "{status} {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )),
            Err(e) => Some(e.to_string()),
        };
        Sample {
            started: sent - start,
            latency: sent.elapsed(),
            failure,
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Milliseconds at quantile `q` of sorted latencies (nearest rank).
fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    let at = sorted[(q * last as f64).round() as usize];
    (at.as_secs_f64() * 1e6).round() / 1e3
}

fn sorted_latencies<'a>(samples: impl Iterator<Item = &'a Sample>) -> Vec<Duration> {
    let mut latencies: Vec<Duration> = samples.map(|s| s.latency).collect();
    latencies.sort_unstable();
    latencies
}

fn result_line(
    run: &Run,
    path: &str,
    credentials: usize,
    samples: &[Sample],
    elapsed: f64,
) -> Value {
    let all = sorted_latencies(samples.iter());
    let first_minute = sorted_latencies(
        samples
            .iter()
            .filter(|s| s.started < Duration::from_secs(60)),
    );
    let failures = samples.iter().filter(|s| s.failure.is_some()).count();
    json!({
        "label": run.label,
        "scenario": run.name,
        "method": "POST",
        "path": path,
        "requests": samples.len(),
        "duration_s": (elapsed * 1000.0).round() / 1000.0,
        "rps": (samples.len() as f64 / elapsed * 10.0).round() / 10.0,
        "lat_p50_ms": quantile_ms(&all, 0.50),
        "lat_p90_ms": quantile_ms(&all, 0.90),
        "lat_p99_ms": quantile_ms(&all, 0.99),
        "lat_max_ms": quantile_ms(&all, 1.0),
        "lat_p99_first_minute_ms": quantile_ms(&first_minute, 0.99),
        "non2xx": failures,
        "ok": !samples.is_empty() && failures == 0,
        "passes": run.passes,
        "credentials": credentials,
        "connections": run.connections,
    })
}

async fn run(run: Run) -> anyhow::Result<bool> {
    let (path, content_type, expect) = match run.scenario {
        Scenario::Token
        | Scenario::Assertion
        | Scenario::AssertionRs256
        | Scenario::Dpop
        | Scenario::Federated => (
            "/oauth/token",
            "application/x-www-form-urlencoded",
            &br#""access_token""#[..],
        ),
        Scenario::VerifyKey => (
            "/v1/keys/verify",
            "application/json",
            &br#""code":"VALID""#[..],
        ),
    };
    let rs = match (run.scenario, &run.rs_id, &run.rs_secret) {
        (
            Scenario::Token
            | Scenario::Assertion
            | Scenario::AssertionRs256
            | Scenario::Dpop
            | Scenario::Federated,
            ..,
        ) => Default::default(),
        (_, Some(id), Some(secret)) => (id.clone(), secret.clone()),
        _ => bail!("verify_key needs --rs-id and COLD_RS_SECRET"),
    };
    let base = url::Url::parse(&loopback(&run.base)?)?;
    let address = format!(
        "{}:{}",
        base.host_str().context("--base has no host")?,
        base.port_or_known_default().context("--base has no port")?
    );
    let credentials = load(&run.file, run.scenario)?;
    // An assertion or a proof is good once: each pass gets new ones.
    let fresh_each_pass = matches!(
        run.scenario,
        Scenario::Assertion | Scenario::AssertionRs256 | Scenario::Dpop | Scenario::Federated
    );
    let rounds = if fresh_each_pass { run.passes } else { 1 };
    let requests = (0..rounds)
        .flat_map(|_| credentials.iter())
        .map(|c| prepare(&run, c, &rs))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let load = Rc::new(Load {
        path: path.to_owned(),
        host: HeaderValue::try_from(address.as_str())?,
        content_type: HeaderValue::from_static(content_type),
        expect,
        requests,
    });
    let mut senders = Vec::with_capacity(run.connections);
    for _ in 0..run.connections.max(1) {
        senders.push(load.connect(&address).await?);
    }
    let count = load.requests.len() * (run.passes / rounds);
    let next = Rc::new(Cell::new(0usize));
    let cpu_before = CpuTimes::read(run.server_pid);
    let start = Instant::now();
    let workers: Vec<_> = senders
        .into_iter()
        .map(|mut sender| {
            let (load, next) = (load.clone(), next.clone());
            tokio::task::spawn_local(async move {
                let mut samples = Vec::new();
                loop {
                    let i = next.get();
                    if i >= count {
                        return samples;
                    }
                    next.set(i + 1);
                    samples.push(load.send(&mut sender, i, start).await);
                }
            })
        })
        .collect();
    let mut samples = Vec::with_capacity(count);
    for worker in workers {
        samples.extend(worker.await?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = CpuTimes::read(run.server_pid).since(&cpu_before);
    let mut line = result_line(&run, path, credentials.len(), &samples, elapsed);
    cpu.add_per_request(&mut line, samples.len());
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&run.out)?;
    writeln!(out, "{line}")?;
    println!(
        "  {}: {} req/s  p50 {} ms  p99 {} ms  max {} ms  ({} requests: {} pass(es) over {} credentials, {} failed)  CPU µs/req: machine {}, server {}, driver {}",
        line["scenario"].as_str().unwrap_or_default(),
        line["rps"], line["lat_p50_ms"], line["lat_p99_ms"], line["lat_max_ms"],
        line["requests"], line["passes"], line["credentials"], line["non2xx"],
        line["machine_cpu_us_per_req"], line["cpu_us_per_req"], line["driver_cpu_us_per_req"]
    );
    for failure in samples.iter().filter_map(|s| s.failure.as_ref()).take(3) {
        eprintln!("!! {}: {failure}", run.name);
    }
    Ok(line["ok"] == true)
}

/// CPU time in clock ticks (USER_HZ, 100 a second on Linux): the whole
/// machine's busy time, this driver's, and the server's when its pid is
/// known. Unlike req/s, CPU per request says where a scenario's cost goes
/// (the server, the driver, or the rest: PostgreSQL).
struct CpuTimes {
    machine: u64,
    driver: u64,
    server: Option<u64>,
}

const TICKS_PER_SECOND: f64 = 100.0;

impl CpuTimes {
    fn read(server_pid: Option<u32>) -> Self {
        Self {
            machine: machine_busy_ticks().unwrap_or(0),
            driver: process_ticks("self").unwrap_or(0),
            server: server_pid.and_then(|pid| process_ticks(&pid.to_string())),
        }
    }

    fn since(&self, before: &Self) -> Self {
        Self {
            machine: self.machine.saturating_sub(before.machine),
            driver: self.driver.saturating_sub(before.driver),
            server: self
                .server
                .zip(before.server)
                .map(|(now, then)| now.saturating_sub(then)),
        }
    }

    fn add_per_request(&self, line: &mut Value, requests: usize) {
        let per_request = |ticks: u64| {
            (requests > 0).then(|| {
                let us = ticks as f64 / TICKS_PER_SECOND * 1e6 / requests as f64;
                (us * 10.0).round() / 10.0
            })
        };
        line["machine_cpu_us_per_req"] = json!(per_request(self.machine));
        line["driver_cpu_us_per_req"] = json!(per_request(self.driver));
        line["cpu_us_per_req"] = json!(self.server.and_then(per_request));
    }
}

/// All CPUs' user, nice, system, irq and softirq time, from /proc/stat's
/// first line: neither idle nor iowait, nor steal (the hypervisor's).
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    [0, 1, 2, 5, 6]
        .iter()
        .map(|&i| fields.get(i).copied())
        .sum()
}

/// A process's user and system time, from /proc/<pid>/stat.
fn process_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces: state is the
    // first, utime and stime the 12th and 13th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn main() -> anyhow::Result<()> {
    match Cli::parse() {
        Cli::Setup(args) => tokio::runtime::Runtime::new()?.block_on(setup(args)),
        // The load runs on one thread, so that it takes as little of the
        // machine from the server as wrk does.
        Cli::Run(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let ok = tokio::task::LocalSet::new().block_on(&runtime, run(args))?;
            if !ok {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
