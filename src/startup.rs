//! Builds the running application from settings: storage, keys, caches,
//! services and the HTTP server on a bound `TcpListener`.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use arc_swap::ArcSwap;
use tracing_actix_web::TracingLogger;

use crate::configuration::Settings;
use crate::crypto::keyring::KeySet;
use crate::crypto::webhook_signing::WebhookSigner;
use crate::crypto::{Keyring, PasswordHasher, SecretDigests, SecretHasher, ServerSecret};
use crate::domain::RetryPolicy;
use crate::drain::Drain;
use crate::management::Management;
use crate::metrics::{Metrics, Snapshot};
use crate::routes;
use crate::routes::idempotency::Idempotency;
use crate::services::auth_failure_tally::AuthFailureTally;
use crate::services::change_feed::{
    spawn_change_listener, Backstop, CacheInvalidator, ChangeLogPoller,
};
use crate::services::expiry_warnings::ExpiryWarnings;
use crate::services::metering::Metering;
use crate::services::rate_limit::RateLimits;
use crate::services::root_token::RootToken;
use crate::services::webhooks::WebhookDispatcher;
use crate::services::{
    AccessTokenVerifier, ApiKeyVerifier, ClientAuthenticator, Introspector, RevocationList,
    Revoker, TokenIssuer,
};
use crate::stats::Counters;
use crate::storage::{self, Store};
use crate::time::SystemClock;

/// Leeway for clock skew between us and resource servers.
pub const CLOCK_LEEWAY_SECONDS: u64 = 60;
const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(10);

fn backstop(settings: &Settings) -> Backstop {
    Backstop {
        reload_every: Duration::from_secs(5),
        purge_every: Duration::from_secs(60),
        keep_log_for: Duration::from_secs(3600),
        keep_audit_for: Duration::from_secs(u64::from(settings.audit_retention_days) * 86_400),
    }
}

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub keys: Arc<ArcSwap<KeySet>>,
    pub authenticator: Arc<ClientAuthenticator>,
    pub api_keys: Arc<ApiKeyVerifier>,
    /// Appends audit events, holding them while the database is away.
    pub audit: Arc<crate::services::audit_writer::AuditWriter>,
    /// Failed management authentications, audited once per source and minute.
    pub auth_failures: Arc<AuthFailureTally>,
    /// Per-credential rate limits.
    pub limiter: Arc<RateLimits>,
    pub issuer: web::Data<TokenIssuer>,
    pub introspector: Introspector,
    pub revoker: Revoker,
    pub root_token: RootToken,
    /// `aud` that access tokens for the management API carry: the issuer.
    pub management_audience: String,
    /// Management calls a minute, per caller.
    pub admin_rate_limit_per_minute: u32,
    /// Per-credential rate limits and usage counts.
    pub metering: web::Data<Metering>,
    /// Whose `X-Forwarded-For` names the client's address.
    pub trusted_proxies: crate::domain::TrustedProxies,
    pub counters: Arc<Counters>,
    pub metrics: web::Data<Metrics>,
    /// Wraps the management API's mutating routes.
    pub idempotency: Idempotency,
}

/// What handlers and middleware that do not take the whole `AppState`
/// take, each as its own `web::Data`.
#[derive(Clone)]
struct Services {
    metadata: web::Data<routes::metadata::MetadataDocument>,
    body_deadline: web::Data<routes::body_deadline::BodyDeadline>,
    store: web::Data<dyn Store>,
    keys: web::Data<ArcSwap<KeySet>>,
    drain: web::Data<Drain>,
    limiter: web::Data<RateLimits>,
    trusted_proxies: web::Data<crate::domain::TrustedProxies>,
    authenticator: web::Data<ClientAuthenticator>,
    issuer: web::Data<TokenIssuer>,
    metering: web::Data<Metering>,
    metrics: web::Data<Metrics>,
    management: web::Data<Management>,
}

impl Services {
    fn register(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(self.metadata.clone())
            .app_data(self.body_deadline.clone())
            .app_data(self.store.clone())
            .app_data(self.keys.clone())
            .app_data(self.drain.clone())
            .app_data(self.limiter.clone())
            .app_data(self.trusted_proxies.clone())
            .app_data(self.authenticator.clone())
            .app_data(self.issuer.clone())
            .app_data(self.metering.clone())
            .app_data(self.metrics.clone())
            .app_data(self.management.clone());
    }
}

pub struct Application {
    port: u16,
    server: Server,
    counters: Arc<Counters>,
    usage: Arc<crate::services::usage::UsageRecorder>,
    audit: Arc<crate::services::audit_writer::AuditWriter>,
    auth_failures: Arc<AuthFailureTally>,
}

/// The keyring a configuration describes.
pub fn keyring(settings: &Settings) -> Keyring {
    let retire_after = Duration::from_secs(settings.token_ttl_seconds + CLOCK_LEEWAY_SECONDS);
    Keyring::new(&settings.keys_dir, settings.signing_alg, retire_after)
}

/// The `server_secret` setting, or else the secret in the keys directory,
/// generated there on the first start.
pub fn server_secret(settings: &Settings) -> anyhow::Result<ServerSecret> {
    match &settings.server_secret {
        Some(secret) => Ok(secret.clone()),
        None => Ok(ServerSecret::load_or_init(&settings.keys_dir)?),
    }
}

/// What stores and checks secrets: digests under the server secret (and
/// the previous one, while it is set), and argon2id within the
/// `argon2_concurrency` bound.
pub fn secret_hasher(settings: &Settings, counters: Arc<Counters>) -> anyhow::Result<SecretHasher> {
    let current = server_secret(settings)?;
    let digests = SecretDigests::new(&current, settings.server_secret_previous.as_ref());
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let argon2 = PasswordHasher::new(
        settings.argon2_concurrency.unwrap_or(cpus),
        counters.clone(),
    );
    Ok(SecretHasher::new(Arc::new(digests), argon2, counters))
}

/// Refuses to start when stored digests were made under a server secret
/// this server does not hold: every client and key they belong to would
/// fail to authenticate.
pub async fn check_digest_keys(store: &dyn Store, digests: &SecretDigests) -> anyhow::Result<()> {
    let known: Vec<&str> = digests.key_ids().collect();
    let unknown: Vec<(String, i64)> = store
        .digest_key_ids()
        .await?
        .into_iter()
        .filter(|(id, _)| !known.contains(&id.as_str()))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let count: i64 = unknown.iter().map(|(_, n)| n).sum();
    let ids: Vec<&str> = unknown.iter().map(|(id, _)| id.as_str()).collect();
    anyhow::bail!(
        "{count} stored client secrets and API keys were digested under another server secret \
         (key id {}; this server's is {}). The server secret has changed: restore it, or set \
         the old one as server_secret_previous (KEYWARD_SERVER_SECRET_PREVIOUS) so that they \
         keep working and move to the new one on their next use",
        ids.join(", "),
        known[0]
    )
}

/// Opens the configured database and brings its schema up to date.
pub async fn open_store(
    settings: &Settings,
    counters: Arc<Counters>,
) -> anyhow::Result<Arc<dyn Store>> {
    let store = storage::connect(settings.database_url.expose(), counters)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "database {:?}: {}",
                settings.database_url,
                crate::error::error_chain(&e)
            )
        })?;
    store.migrate().await?;
    Ok(store)
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
        Self::build_on(settings, listener).await
    }

    pub async fn build_on(settings: Settings, listener: TcpListener) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        let drain = Arc::new(Drain::default());
        let stop = stop_signal(
            drain.clone(),
            listener.try_clone()?,
            Duration::from_secs(settings.shutdown_drain_seconds),
            Duration::from_secs(settings.shutdown_timeout_seconds),
        )?;
        let issuer = match &settings.issuer {
            Some(_) => settings.issuer(),
            None => format!("http://{}", listener.local_addr()?),
        };
        let counters = Arc::new(Counters::default());
        let store = open_store(&settings, counters.clone()).await?;

        let server_secret = server_secret(&settings)?;
        let secrets = secret_hasher(&settings, counters.clone())?;
        check_digest_keys(&*store, secrets.digests()).await?;
        let keyring = keyring(&settings);
        let keys = Arc::new(ArcSwap::from_pointee(keyring.load_or_init()?));
        spawn_key_reloader(keyring, keys.clone());

        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let policy = Arc::new(settings.scope_implications.clone());
        let default_audience = match &settings.default_audience {
            Some(audience) => audience.clone(),
            None => crate::domain::Audience::parse(&issuer)?,
        };
        let record_ttl = Duration::from_secs(settings.status_cache_ttl_seconds);
        let max_staleness = Duration::from_secs(settings.max_staleness_seconds);
        let authenticator = Arc::new(ClientAuthenticator::new(
            store.clone(),
            secrets.clone(),
            policy.clone(),
            counters.clone(),
            record_ttl,
            max_staleness,
        ));
        let root_token = RootToken::init(settings.root_token.as_ref(), &store).await?;
        let api_keys = Arc::new(ApiKeyVerifier::new(
            store.clone(),
            secrets.clone(),
            policy.clone(),
            settings.plans,
            counters.clone(),
            record_ttl,
            max_staleness,
        ));
        let revocations = Arc::new(RevocationList::default());
        let caches = Arc::new(CacheInvalidator {
            clients: authenticator.clone(),
            keys: api_keys.clone(),
            revocations: revocations.clone(),
            store: store.clone(),
            counters: counters.clone(),
        });
        let poll_interval = Duration::from_millis(settings.change_poll_interval_ms);
        let feed = Box::new(ChangeLogPoller::new(store.clone(), poll_interval));
        spawn_change_listener(feed, caches.clone(), backstop(&settings));
        let token_verifier = Arc::new(AccessTokenVerifier::new(
            keys.clone(),
            issuer.clone(),
            Duration::from_secs(settings.token_ttl_seconds),
            Duration::from_secs(CLOCK_LEEWAY_SECONDS),
            counters.clone(),
        ));
        let usage = crate::services::usage::UsageRecorder::new(store.clone(), counters.clone());
        usage.spawn_flusher();
        let audit =
            crate::services::audit_writer::AuditWriter::new(store.clone(), counters.clone());
        audit.spawn_drainer();
        let auth_failures = Arc::new(AuthFailureTally::default());
        auth_failures.spawn_writer(audit.clone());
        let webhook_signer = Arc::new(WebhookSigner::new(&server_secret));
        spawn_notifications(&settings, &store, &webhook_signer)?;
        let limiter = Arc::new(
            RateLimits::new(settings.redis_url.as_deref(), counters.clone())
                .map_err(|e| anyhow::anyhow!("setting redis_url (KEYWARD_REDIS_URL): {e}"))?,
        );
        let metrics = web::Data::new(Metrics::new(Snapshot {
            counters: counters.clone(),
            store: store.clone(),
            limiter: limiter.clone(),
            usage: usage.clone(),
            audit: audit.clone(),
        }));
        let metering = web::Data::new(Metering::new(
            settings.metering,
            limiter.clone(),
            usage.clone(),
        ));
        let management = web::Data::new(Management {
            store: store.clone(),
            secrets: secrets.clone(),
            plans: settings.plans,
            max_rate_limit_per_minute: settings.max_rate_limit_per_minute,
            webhook_urls: settings.webhook_url_rules(),
            webhook_signer: webhook_signer.clone(),
            audit: audit.clone(),
            caches: Some(caches.clone()),
            clock: Arc::new(SystemClock),
        });
        let state = web::Data::new(AppState {
            audit: audit.clone(),
            auth_failures: auth_failures.clone(),
            introspector: Introspector::new(
                token_verifier.clone(),
                authenticator.clone(),
                api_keys.clone(),
                revocations,
                policy.clone(),
                settings.plans,
                settings.introspection_restrict_audience,
            ),
            revoker: Revoker::new(
                token_verifier,
                caches,
                settings.max_live_revocations_per_client,
            ),
            root_token,
            management_audience: issuer.clone(),
            admin_rate_limit_per_minute: settings.admin_rate_limit_per_minute,
            metering,
            authenticator,
            api_keys,
            limiter,
            issuer: web::Data::new(TokenIssuer::new(
                keys.clone(),
                issuer.clone(),
                settings.token_ttl_seconds as i64,
                default_audience,
                policy,
                settings.plans,
                counters.clone(),
            )),
            trusted_proxies: settings.trusted_proxies.clone(),
            idempotency: Idempotency::new(store.clone(), &server_secret),
            store,
            keys,
            counters: counters.clone(),
            metrics,
        });

        let services = Services {
            metadata: web::Data::new(routes::metadata::MetadataDocument(routes::build_metadata(
                &issuer,
                settings.scopes_supported.as_deref(),
            ))),
            body_deadline: web::Data::new(routes::body_deadline::BodyDeadline(
                Duration::from_millis(settings.client_request_timeout_ms),
            )),
            store: web::Data::from(state.store.clone()),
            keys: web::Data::from(state.keys.clone()),
            drain: web::Data::from(drain.clone()),
            limiter: web::Data::from(state.limiter.clone()),
            trusted_proxies: web::Data::new(state.trusted_proxies.clone()),
            authenticator: web::Data::from(state.authenticator.clone()),
            issuer: state.issuer.clone(),
            metering: state.metering.clone(),
            metrics: state.metrics.clone(),
            management,
        };
        let server = HttpServer::new(move || {
            // Runs on each worker's thread before it serves.
            crate::crypto::signing_key::seed_thread_rng();
            App::new()
                .wrap(actix_web::middleware::from_fn(
                    crate::metrics::record_request,
                ))
                .wrap(actix_web::middleware::from_fn(routes::log_request))
                .wrap(TracingLogger::<routes::RequestSpan>::new())
                .wrap(actix_web::middleware::from_fn(
                    routes::stopping::close_connections_while_stopping,
                ))
                .wrap(actix_web::middleware::from_fn(
                    routes::body_deadline::bound_body_time,
                ))
                .wrap(actix_web::middleware::from_fn(
                    routes::request_id::assign_request_id,
                ))
                .app_data(state.clone())
                .configure(|cfg| services.register(cfg))
                .configure(|cfg| routes::configure(cfg, &state.idempotency))
                .default_service(web::to(routes::not_found))
        })
        .on_connect(move |_, extensions| {
            extensions.insert(drain.connection_opened());
        })
        .client_request_timeout(Duration::from_millis(settings.client_request_timeout_ms))
        .workers(settings.workers.unwrap_or(cpus))
        .shutdown_timeout(settings.shutdown_timeout_seconds)
        .shutdown_signal(stop)
        .listen(listener)?
        .run();
        tracing::info!(%issuer, port, "keyward is listening");
        Ok(Self {
            port,
            server,
            counters,
            usage,
            audit,
            auth_failures,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Counters that tests read to see what a request did.
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Stops the server from outside, as a signal would.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGTERM or SIGINT finish in-flight requests
    /// first), then writes the usage still tallied.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.usage.flush().await;
        self.auth_failures.write_all(&self.audit).await;
        served
    }
}

/// Starts the expiry warnings and the webhook deliveries that carry them.
fn spawn_notifications(
    settings: &Settings,
    store: &Arc<dyn Store>,
    signer: &Arc<WebhookSigner>,
) -> anyhow::Result<()> {
    ExpiryWarnings {
        store: store.clone(),
        warn_within: i64::from(settings.expiry_warning_days) * 86_400,
        scan_every: Duration::from_secs(settings.expiry_scan_interval_seconds),
    }
    .spawn();
    let retry = RetryPolicy {
        base_seconds: settings.webhook_retry_base_seconds as i64,
        window_seconds: settings.webhook_retry_window_seconds as i64,
    };
    WebhookDispatcher::new(
        store.clone(),
        signer.clone(),
        retry,
        settings.webhook_allow_private_networks,
    )?
    .spawn();
    Ok(())
}

/// Resolves on SIGTERM or SIGINT once the connections are drained
/// (src/drain.rs); actix-web then stops what is left gracefully. actix-web's
/// own handling would treat SIGINT as a forced stop.
fn stop_signal(
    drain: Arc<Drain>,
    listener: TcpListener,
    serve_for: Duration,
    timeout: Duration,
) -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(
            signal = name,
            drain_seconds = serve_for.as_secs(),
            "stopping: answering with Connection: close, then refusing new connections"
        );
        drain.run(&listener, serve_for, timeout).await;
        tracing::info!("stopping: connections drained");
    })
}

/// Picks up keys that `keyward keys rotate` (here or on another replica
/// sharing keys/) added, and retires expired ones, without a restart.
fn spawn_key_reloader(keyring: Keyring, keys: Arc<ArcSwap<KeySet>>) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(KEY_RELOAD_INTERVAL);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            match keyring.load() {
                Ok(set) => {
                    if set.signing_key().kid() != keys.load().signing_key().kid() {
                        tracing::info!(
                            kid = set.signing_key().kid(),
                            "a new signing key is in use"
                        );
                    }
                    keys.store(Arc::new(set));
                }
                Err(e) => {
                    tracing::error!(error = %crate::error::error_chain(&e), "reloading keys failed; keeping the loaded keys")
                }
            }
        }
    });
}
