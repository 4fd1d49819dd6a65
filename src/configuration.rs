//! Settings: defaults < keyward.toml < `KEYWARD_*` environment variables,
//! where `KEYWARD_<NAME>_FILE` reads the value of `<NAME>` from a file.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

use crate::crypto::{ServerSecret, SigningAlgorithm};
use crate::domain::{
    Audience, PlanLimits, RateTiers, Scope, ScopePolicy, ScopeRateLimits, SmtpTls, TrustedProxies,
};
use crate::telemetry::LogFormat;

mod smtp;

pub const ENV_PREFIX: &str = "KEYWARD_";
pub const DEFAULT_CONFIG_FILE: &str = "keyward.toml";

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// host:port the HTTP server binds.
    pub listen: SocketAddr,
    /// Public issuer URL; derived from `listen` when unset.
    pub issuer: Option<String>,
    pub database_url: DatabaseUrl,
    pub keys_dir: PathBuf,
    /// Keys the digests of generated client secrets and API keys, the
    /// idempotency store's hashes and encryption, and derives webhook
    /// signing secrets; at least 32 characters. When unset,
    /// `keys_dir/server-secret`, generated on the first start. Replicas must
    /// share it.
    pub server_secret: Option<ServerSecret>,
    /// The server secret before a change of it: digests made under it still
    /// verify, and each is rewritten under the new one on its next check.
    pub server_secret_previous: Option<ServerSecret>,
    pub signing_alg: SigningAlgorithm,
    pub token_ttl_seconds: u64,
    /// `aud` of a token whose request names no resource; the issuer when unset.
    pub default_audience: Option<Audience>,
    /// Tier implications, such as `admin = ["deployment"]`.
    pub scope_implications: ScopePolicy,
    /// Per-minute limits by scope, such as `free = 10`: a key or client
    /// without its own limit gets the highest among its expanded scopes.
    pub scope_rate_limits: ScopeRateLimits,
    /// Advertised as `scopes_supported` in the metadata document when set.
    pub scopes_supported: Option<Vec<Scope>>,
    /// CIDRs of the proxies whose `X-Forwarded-For` names the client's
    /// address; none by default, so the peer address counts.
    pub trusted_proxies: TrustedProxies,
    /// A request's head must arrive within this long of the connection (or
    /// of the previous answer), and its body within this long of its head;
    /// else the answer is 408 and the connection is closed.
    pub client_request_timeout_ms: u64,
    /// HTTP worker threads; the number of CPUs when unset.
    pub workers: Option<usize>,
    /// Concurrent argon2 verifications; the number of CPUs when unset.
    pub argon2_concurrency: Option<usize>,
    /// A resource server sees `active: true` only for tokens of its audiences.
    pub introspection_restrict_audience: bool,
    /// DPoP proofs at the token endpoint must carry a nonce of ours (RFC
    /// 9449 §8), sent in `DPoP-Nonce`: the server, not the client's clock,
    /// then bounds how long a proof made in advance is good.
    pub dpop_nonce: bool,
    /// How long a node trusts a cached client record without hearing of a
    /// change: the backstop for a missed change notification.
    pub status_cache_ttl_seconds: u64,
    /// While the database is unavailable, cached client and key records
    /// still answer for this long after they were read; then requests fail
    /// closed with 503.
    pub max_staleness_seconds: u64,
    /// How often a node reads the change log that other nodes and the CLI write.
    pub change_poll_interval_ms: u64,
    /// How often the usage tallied in memory (request counts, last use, the
    /// per-minute series) is written: a credential used many times in
    /// that while costs one row.
    pub usage_flush_seconds: u64,
    /// The management API's root token; generated and stored (hashed) on
    /// first start when unset.
    pub root_token: Option<secrecy::SecretString>,
    /// Management API calls a minute, per caller (root, client or key).
    pub admin_rate_limit_per_minute: u32,
    /// Per-credential rate limits and usage counting. Off only where
    /// something upstream meters, or to measure their cost.
    pub metering: bool,
    /// The highest `rate_limit_per_minute` an API key or client may get.
    pub max_rate_limit_per_minute: u32,
    /// Access tokens a client may hold revoked at once (each entry lasts
    /// until its token would have expired); past it, revoke answers 429.
    pub max_live_revocations_per_client: u32,
    /// Redis for rate budgets shared by every replica; in-process when unset.
    pub redis_url: Option<String>,
    /// API access and API key count of each plan.
    pub plans: PlanLimits,
    /// How long the management API's audit events are kept (1 to 3650).
    pub audit_retention_days: u32,
    /// Every API key check, key introspection and token request of a known
    /// credential on record, written behind the requests.
    pub request_log: bool,
    /// How long request log entries are kept (1 to 3650).
    pub request_log_retention_days: u32,
    /// Warn about API keys and clients this many days before they expire.
    pub expiry_warning_days: u32,
    /// How often a node looks for credentials to warn about.
    pub expiry_scan_interval_seconds: u64,
    /// The first retry of a failed webhook waits this long; each next one
    /// waits twice as long as the one before.
    pub webhook_retry_base_seconds: u64,
    /// How long after its event a webhook is still retried (24 h).
    pub webhook_retry_window_seconds: u64,
    /// Accept `http:` webhook URLs as well as `https:`; for development.
    pub webhook_allow_http: bool,
    /// Let webhooks go to loopback, private, link-local and other
    /// non-public addresses; for receivers inside the operator's network.
    pub webhook_allow_private_networks: bool,
    /// The mail server of expiry warnings and invitations (see smtp.rs);
    /// email is off while unset.
    pub smtp_host: Option<String>,
    /// 587 for `starttls`, 465 for `tls`, 25 for `none` when unset.
    pub smtp_port: Option<u16>,
    pub smtp_tls: SmtpTls,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<secrecy::SecretString>,
    /// The `From` of every email, such as `Keyward <keyward@example.com>`.
    pub smtp_from: Option<String>,
    /// PEM certificates of a private CA that signs the mail server's
    /// certificate, trusted besides the public roots.
    pub smtp_ca_file: Option<PathBuf>,
    /// Emails about one organisation in an hour; past it they are not
    /// sent (an organisation's admins choose its addresses and the
    /// credentials' expiry dates, so they could make Keyward mail anyone).
    pub email_max_per_org_per_hour: u32,
    /// Serve the developer console under `/console`.
    pub console_enabled: bool,
    /// How long a stop (SIGTERM or SIGINT) waits for open connections to
    /// be answered and closed (0 to 3600).
    pub shutdown_timeout_seconds: u64,
    /// How long a stopping server still takes new connections, answering
    /// not ready, so a load balancer can move traffic away (0 to 3600).
    pub shutdown_drain_seconds: u64,
    /// Tracing filter, such as `info` or `keyward=debug`.
    pub log: String,
    /// `pretty` or `json` log lines.
    pub log_format: LogFormat,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".parse().expect("a valid default address"),
            issuer: None,
            database_url: DatabaseUrl("sqlite://data/keyward.db".into()),
            keys_dir: PathBuf::from("keys"),
            server_secret: None,
            server_secret_previous: None,
            signing_alg: SigningAlgorithm::ES256,
            token_ttl_seconds: 900,
            default_audience: None,
            scope_implications: ScopePolicy::default(),
            scope_rate_limits: ScopeRateLimits::default(),
            scopes_supported: None,
            trusted_proxies: TrustedProxies::default(),
            client_request_timeout_ms: 10_000,
            workers: None,
            argon2_concurrency: None,
            introspection_restrict_audience: true,
            dpop_nonce: false,
            status_cache_ttl_seconds: 5,
            max_staleness_seconds: 60,
            change_poll_interval_ms: 250,
            usage_flush_seconds: 5,
            root_token: None,
            redis_url: None,
            admin_rate_limit_per_minute: 600,
            metering: true,
            max_rate_limit_per_minute: 10_000,
            max_live_revocations_per_client: 1_000,
            plans: PlanLimits::default(),
            audit_retention_days: 90,
            request_log: false,
            request_log_retention_days: 30,
            expiry_warning_days: 7,
            expiry_scan_interval_seconds: 60,
            webhook_retry_base_seconds: 30,
            webhook_retry_window_seconds: 86_400,
            webhook_allow_http: false,
            webhook_allow_private_networks: false,
            smtp_host: None,
            smtp_port: None,
            smtp_tls: SmtpTls::default(),
            smtp_username: None,
            smtp_password: None,
            smtp_from: None,
            smtp_ca_file: None,
            email_max_per_org_per_hour: 100,
            console_enabled: true,
            shutdown_timeout_seconds: 30,
            shutdown_drain_seconds: 0,
            log: "info".into(),
            log_format: LogFormat::Pretty,
        }
    }
}

/// A database URL; it may hold a password, so its `Debug` is redacted.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("redacted"));
                write!(f, "{url}")
            }
            _ => f.write_str(&self.0),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Every problem figment found, each naming its setting and where it came from.
    #[error("{0}")]
    Source(String),
    #[error("setting {setting} ({env}{upper}): {message}", upper = setting.to_uppercase(), env = ENV_PREFIX)]
    Invalid {
        setting: &'static str,
        message: String,
    },
    #[error("setting {0}: set either {ENV_PREFIX}{upper} or {ENV_PREFIX}{upper}_FILE, not both", upper = .0.to_uppercase())]
    Ambiguous(String),
    #[error("setting {setting}: cannot read {path}: {source}")]
    SecretFile {
        setting: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<figment::Error> for ConfigError {
    fn from(err: figment::Error) -> Self {
        let lines: Vec<String> = err
            .into_iter()
            .map(|e| {
                let setting = match &e.kind {
                    figment::error::Kind::UnknownField(field, _) => field.to_lowercase(),
                    _ => e.path.join(".").to_lowercase(),
                };
                let origin = match &e.metadata {
                    Some(md) => match &md.source {
                        Some(source) => format!(", in {} {source}", md.name),
                        None => format!(", in {}", md.name),
                    },
                    None => String::new(),
                };
                let env = setting.to_uppercase();
                format!("setting {setting} ({ENV_PREFIX}{env}{origin}): {}", e.kind)
            })
            .collect();
        ConfigError::Source(lines.join("; "))
    }
}

fn invalid(setting: &'static str, message: impl fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        setting,
        message: message.to_string(),
    }
}

impl Settings {
    /// Which webhook URLs organisations may give.
    pub fn webhook_url_rules(&self) -> crate::domain::WebhookUrlRules {
        crate::domain::WebhookUrlRules {
            allow_http: self.webhook_allow_http,
            allow_private_networks: self.webhook_allow_private_networks,
        }
    }

    /// The tier rules of credentials' rate limits.
    pub fn rate_tiers(&self) -> RateTiers {
        RateTiers::new(
            std::sync::Arc::new(self.scope_implications.clone()),
            self.scope_rate_limits.clone(),
        )
    }

    /// Reads the layered settings; `config` names the TOML file (default
    /// `keyward.toml` in the working directory, optional).
    pub fn load(config: Option<&Path>) -> Result<Self, ConfigError> {
        let file = config.unwrap_or(Path::new(DEFAULT_CONFIG_FILE));
        let mut figment =
            Figment::new()
                .merge(Toml::file(file))
                .merge(Env::prefixed(ENV_PREFIX).filter(|key| {
                    !key.as_str().to_ascii_lowercase().ends_with("_file") && key != "config"
                }));
        for (key, path) in std::env::vars() {
            let Some(name) = key
                .strip_prefix(ENV_PREFIX)
                .and_then(|k| k.strip_suffix("_FILE"))
                .map(str::to_lowercase)
            else {
                continue;
            };
            if std::env::var_os(format!("{ENV_PREFIX}{}", name.to_uppercase())).is_some() {
                return Err(ConfigError::Ambiguous(name));
            }
            let value =
                std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
                    setting: name.clone(),
                    path: path.clone(),
                    source,
                })?;
            figment = figment.merge((name, value.trim_end_matches(['\n', '\r']).to_owned()));
        }
        let settings: Settings = figment.extract()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what the types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(60..=86_400).contains(&self.token_ttl_seconds) {
            return Err(invalid("token_ttl_seconds", "must be between 60 and 86400"));
        }
        let url = self.database_url.expose();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite: or postgres:",
            ));
        }
        if let Some(issuer) = &self.issuer {
            let parsed = url::Url::parse(issuer).map_err(|e| invalid("issuer", e))?;
            if !matches!(parsed.scheme(), "http" | "https")
                || parsed.query().is_some()
                || parsed.fragment().is_some()
            {
                return Err(invalid(
                    "issuer",
                    "must be an http(s) URL without query or fragment",
                ));
            }
        }
        if !(1..=100_000).contains(&self.admin_rate_limit_per_minute) {
            return Err(invalid(
                "admin_rate_limit_per_minute",
                "must be between 1 and 100000",
            ));
        }
        if let Some(token) = &self.root_token {
            if secrecy::ExposeSecret::expose_secret(token).len() < 32 {
                return Err(invalid("root_token", "must be at least 32 characters"));
            }
        }
        if self.workers == Some(0) || self.argon2_concurrency == Some(0) {
            return Err(invalid(
                "workers",
                "workers and argon2_concurrency must be at least 1",
            ));
        }
        if !(1..=300).contains(&self.status_cache_ttl_seconds) {
            return Err(invalid(
                "status_cache_ttl_seconds",
                "must be between 1 and 300",
            ));
        }
        if !(10..=5_000).contains(&self.change_poll_interval_ms) {
            return Err(invalid(
                "change_poll_interval_ms",
                "must be between 10 and 5000",
            ));
        }
        for (name, days) in [
            ("audit_retention_days", self.audit_retention_days),
            (
                "request_log_retention_days",
                self.request_log_retention_days,
            ),
        ] {
            if !(1..=3650).contains(&days) {
                return Err(invalid(name, "must be between 1 and 3650"));
            }
        }
        let ranges: [(&'static str, u64, std::ops::RangeInclusive<u64>); 11] = [
            ("usage_flush_seconds", self.usage_flush_seconds, 1..=60),
            (
                "client_request_timeout_ms",
                self.client_request_timeout_ms,
                100..=300_000,
            ),
            (
                "shutdown_timeout_seconds",
                self.shutdown_timeout_seconds,
                0..=3600,
            ),
            (
                "shutdown_drain_seconds",
                self.shutdown_drain_seconds,
                0..=3600,
            ),
            (
                "max_staleness_seconds",
                self.max_staleness_seconds,
                0..=3600,
            ),
            (
                "max_rate_limit_per_minute",
                self.max_rate_limit_per_minute.into(),
                1..=1_000_000_000,
            ),
            (
                "max_live_revocations_per_client",
                self.max_live_revocations_per_client.into(),
                1..=1_000_000,
            ),
            (
                "expiry_warning_days",
                self.expiry_warning_days.into(),
                1..=365,
            ),
            (
                "expiry_scan_interval_seconds",
                self.expiry_scan_interval_seconds,
                1..=86_400,
            ),
            (
                "webhook_retry_base_seconds",
                self.webhook_retry_base_seconds,
                1..=86_400,
            ),
            (
                "webhook_retry_window_seconds",
                self.webhook_retry_window_seconds,
                1..=604_800,
            ),
        ];
        for (setting, value, range) in ranges {
            if !range.contains(&value) {
                return Err(invalid(
                    setting,
                    format!("must be between {} and {}", range.start(), range.end()),
                ));
            }
        }
        let max = self.max_rate_limit_per_minute;
        if let Some((scope, limit)) = self.scope_rate_limits.out_of_range(max) {
            return Err(invalid(
                "scope_rate_limits",
                format!(
                    "{scope} = {limit}: each limit must be between 1 and {max} (max_rate_limit_per_minute)"
                ),
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log).map_err(|e| invalid("log", e))?;
        self.smtp()?;
        Ok(())
    }

    /// The issuer URL without a trailing slash.
    pub fn issuer(&self) -> String {
        match &self.issuer {
            Some(issuer) => issuer.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("issuer", &self.issuer())
            .field("database_url", &self.database_url)
            .field("keys_dir", &self.keys_dir)
            .field("server_secret", &self.server_secret)
            .field("server_secret_previous", &self.server_secret_previous)
            .field("signing_alg", &self.signing_alg)
            .field("token_ttl_seconds", &self.token_ttl_seconds)
            .finish_non_exhaustive()
    }
}
