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
use crate::crypto::console_tokens::ConsoleKeys;
use crate::crypto::dpop_nonce::DpopNonces;
use crate::crypto::keyring::KeySet;
use crate::crypto::webhook_signing::WebhookSigner;
use crate::crypto::{Keyring, SecretHasher, ServerSecret};
use crate::domain::RetryPolicy;
use crate::drain::Drain;
use crate::management::console_sessions::{ConsoleSessions, IDLE_TIMEOUT_SECONDS};
use crate::management::Management;
use crate::metrics::{Counters, Metrics, ReadAtScrape, Snapshot};
use crate::routes;
use crate::routes::admin::auth::AdminAuth;
use crate::routes::idempotency::Idempotency;
use crate::routes::resource_server::ResourceServers;
use crate::services::audit_writer::AuditWriter;
use crate::services::auth_failure_tally::AuthFailureTally;
use crate::services::change_feed::{
    spawn_change_listener, Backstop, CacheInvalidator, ChangeLogPoller,
};
use crate::services::client_assertion::AssertionRules;
use crate::services::dpop::DpopProofs;
use crate::services::email::{EmailDispatcher, EmailOutbox};
use crate::services::expiry_warnings::ExpiryWarnings;
use crate::services::federated_assertion::FederationRules;
use crate::services::metering::Metering;
use crate::services::one_time_values::OneTimeValues;
use crate::services::rate_limit::RateLimits;
use crate::services::record_cache::Freshness;
use crate::services::remote_jwks::RemoteJwks;
use crate::services::request_records::RequestRecorder;
use crate::services::root_token::RootToken;
use crate::services::trusted_issuers::TrustedIssuers;
use crate::services::usage::UsageRecorder;
use crate::services::webhooks::WebhookDispatcher;
use crate::services::AssertionChecks;
use crate::services::{
    AccessTokenVerifier, ApiKeyVerifier, ClientAuthenticator, Introspector, RevocationList,
    Revoker, TokenIssuer,
};
use crate::storage::Store;
use crate::time::{Clock, SystemClock};

pub use crate::parts::CLOCK_LEEWAY_SECONDS;
use crate::parts::{check_digest_keys, keyring, open_store, secret_hasher, server_secret};
const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(10);
/// How long fetching a client's key set (`jwks_uri`) may take.
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

fn backstop(settings: &Settings) -> Backstop {
    Backstop {
        reload_every: Duration::from_secs(5),
        purge_every: Duration::from_secs(60),
        keep_log_for: Duration::from_secs(3600),
        keep_audit_for: Duration::from_secs(u64::from(settings.audit_retention_days) * 86_400),
        keep_requests_for: Duration::from_secs(
            u64::from(settings.request_log_retention_days) * 86_400,
        ),
        console_idle: Duration::from_secs(IDLE_TIMEOUT_SECONDS as u64),
    }
}

/// What handlers and middleware take, each as its own `web::Data`, so a
/// handler's signature shows what it uses.
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
    api_keys: web::Data<ApiKeyVerifier>,
    issuer: web::Data<TokenIssuer>,
    dpop: web::Data<DpopProofs>,
    checkers: web::Data<ResourceServers>,
    revoker: web::Data<Revoker>,
    audit: web::Data<AuditWriter>,
    admin_auth: web::Data<AdminAuth>,
    metering: web::Data<Metering>,
    requests: web::Data<RequestRecorder>,
    metrics: web::Data<Metrics>,
    management: web::Data<Management>,
    clock: web::Data<dyn Clock>,
    console_sessions: web::Data<ConsoleSessions>,
    console_keys: web::Data<ConsoleKeys>,
    console_site: web::Data<routes::ConsoleSite>,
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
            .app_data(self.api_keys.clone())
            .app_data(self.issuer.clone())
            .app_data(self.dpop.clone())
            .app_data(self.checkers.clone())
            .app_data(self.revoker.clone())
            .app_data(self.audit.clone())
            .app_data(self.admin_auth.clone())
            .app_data(self.metering.clone())
            .app_data(self.requests.clone())
            .app_data(self.metrics.clone())
            .app_data(self.management.clone())
            .app_data(self.clock.clone())
            .app_data(self.console_sessions.clone())
            .app_data(self.console_keys.clone())
            .app_data(self.console_site.clone());
    }
}

pub struct Application {
    port: u16,
    server: Server,
    counters: Arc<Counters>,
    usage: Arc<UsageRecorder>,
    requests: Arc<RequestRecorder>,
    audit: Arc<AuditWriter>,
    auth_failures: Arc<AuthFailureTally>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
        Self::build_on(settings, listener).await
    }

    pub async fn build_on(settings: Settings, listener: TcpListener) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, listener, Arc::new(SystemClock)).await
    }

    /// `build_on` with the clock the caches and the management core read;
    /// tests move a `ManualClock` instead of sleeping.
    pub async fn build_with_clock(
        settings: Settings,
        listener: TcpListener,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
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
        let core = Core::open(&settings, &issuer, clock).await?;
        let writers = Writers::start(&core, &settings);
        spawn_notifications(&settings, &core)?;
        let services = Services::build(&settings, &issuer, &core, &writers, drain.clone())?;
        let idempotency =
            Idempotency::new(core.store.clone(), &core.server_secret, core.clock.clone());
        let server = http_server(&settings, listener, services, idempotency, drain, stop)?;
        tracing::info!(%issuer, port, "keyward is listening");
        Ok(Self {
            port,
            server,
            counters: core.counters,
            usage: writers.usage,
            requests: writers.requests,
            audit: writers.audit,
            auth_failures: writers.auth_failures,
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
        self.requests.flush().await;
        self.auth_failures.write_all(&self.audit).await;
        self.audit.write_behind().await;
        served
    }
}

/// The store, the keys and the credential verifiers with their caches,
/// kept fresh by the change log.
struct Core {
    counters: Arc<Counters>,
    store: Arc<dyn Store>,
    server_secret: ServerSecret,
    secrets: SecretHasher,
    webhook_signer: Arc<WebhookSigner>,
    keys: Arc<ArcSwap<KeySet>>,
    policy: Arc<crate::domain::ScopePolicy>,
    tiers: Arc<crate::domain::RateTiers>,
    authenticator: Arc<ClientAuthenticator>,
    api_keys: Arc<ApiKeyVerifier>,
    revocations: Arc<RevocationList>,
    caches: Arc<CacheInvalidator>,
    token_verifier: Arc<AccessTokenVerifier>,
    dpop: Arc<DpopProofs>,
    issuers: Arc<TrustedIssuers>,
    root_token: RootToken,
    /// Queues emails; present when email is on.
    email: Option<Arc<EmailOutbox>>,
    /// The time the caches' ages and the management core read.
    clock: Arc<dyn Clock>,
}

impl Core {
    async fn open(
        settings: &Settings,
        issuer: &str,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let counters = Arc::new(Counters::default());
        let store = open_store(settings, counters.clone()).await?;
        if let Err(e) = store.warm_up().await {
            tracing::warn!(
                error = %crate::error::error_chain(&e),
                "could not get the database ready for the first requests; serving anyway"
            );
        }
        let server_secret = server_secret(settings)?;
        let secrets = secret_hasher(settings, counters.clone())?;
        check_digest_keys(&*store, secrets.digests()).await?;
        let keyring = keyring(settings, clock.clone());
        let keys = Arc::new(ArcSwap::from_pointee(keyring.load_or_init()?));
        spawn_key_reloader(keyring, keys.clone());

        let policy = Arc::new(settings.scope_implications.clone());
        let tiers = Arc::new(crate::domain::RateTiers::new(
            policy.clone(),
            settings.scope_rate_limits.clone(),
        ));
        let freshness = Freshness {
            fresh_for: Duration::from_secs(settings.status_cache_ttl_seconds),
            max_staleness: Duration::from_secs(settings.max_staleness_seconds),
            clock: clock.clone(),
            feed: Arc::default(),
        };
        let one_time = Arc::new(
            OneTimeValues::new(store.clone(), settings.redis_url.as_deref(), clock.clone())
                .map_err(|e| anyhow::anyhow!("setting redis_url (KEYWARD_REDIS_URL): {e}"))?,
        );
        let dpop = Arc::new(DpopProofs::new(
            issuer,
            settings.dpop_nonce.then(|| DpopNonces::new(&server_secret)),
            one_time.clone(),
        ));
        let issuers = TrustedIssuers::load(store.clone(), JWKS_FETCH_TIMEOUT).await?;
        issuers.spawn_reloader(Duration::from_secs(
            settings.status_cache_ttl_seconds.max(1),
        ));
        let authenticator = Arc::new(ClientAuthenticator::new(
            store.clone(),
            secrets.clone(),
            policy.clone(),
            tiers.clone(),
            counters.clone(),
            &freshness,
            AssertionChecks {
                rules: AssertionRules::new(issuer),
                one_time,
                remote_keys: Arc::new(RemoteJwks::new(
                    settings.webhook_allow_private_networks,
                    JWKS_FETCH_TIMEOUT,
                )?),
                issuers: issuers.clone(),
                federation: FederationRules::new(issuer),
            },
        ));
        let api_keys = Arc::new(ApiKeyVerifier::new(
            store.clone(),
            secrets.clone(),
            policy.clone(),
            tiers.clone(),
            settings.plans,
            counters.clone(),
            &freshness,
        ));
        let root_token =
            RootToken::init(settings.root_token.as_ref(), &store, clock.unix()).await?;
        let revocations = Arc::new(RevocationList::default());
        let caches = Arc::new(CacheInvalidator {
            clients: authenticator.clone(),
            keys: api_keys.clone(),
            revocations: revocations.clone(),
            store: store.clone(),
            counters: counters.clone(),
            feed: freshness.feed.clone(),
        });
        let poll_interval = Duration::from_millis(settings.change_poll_interval_ms);
        let feed = Box::new(ChangeLogPoller::new(
            store.clone(),
            poll_interval,
            clock.clone(),
        ));
        spawn_change_listener(feed, caches.clone(), backstop(settings), clock.clone());
        let token_verifier = Arc::new(AccessTokenVerifier::new(
            keys.clone(),
            issuer.to_owned(),
            Duration::from_secs(settings.token_ttl_seconds),
            Duration::from_secs(CLOCK_LEEWAY_SECONDS),
            counters.clone(),
        ));
        let email = settings.smtp()?.map(|_| {
            let links = crate::services::email::Links {
                issuer: issuer.to_owned(),
                console: settings.console_enabled,
            };
            Arc::new(EmailOutbox::new(
                &server_secret,
                links,
                crate::services::email::EmailPolicy {
                    warning_days: settings.expiry_warning_days,
                    max_per_org_per_hour: settings.email_max_per_org_per_hour,
                },
            ))
        });
        Ok(Self {
            email,
            webhook_signer: Arc::new(WebhookSigner::new(&server_secret)),
            counters,
            store,
            server_secret,
            secrets,
            keys,
            policy,
            tiers,
            authenticator,
            api_keys,
            revocations,
            caches,
            token_verifier,
            dpop,
            issuers,
            root_token,
            clock,
        })
    }
}

/// What is written behind the requests, each by a task of its own: usage
/// counts, the request log, audit events and the tallies of failed admin
/// authentications.
struct Writers {
    usage: Arc<UsageRecorder>,
    requests: Arc<RequestRecorder>,
    audit: Arc<AuditWriter>,
    auth_failures: Arc<AuthFailureTally>,
}

impl Writers {
    fn start(core: &Core, settings: &Settings) -> Self {
        let usage = UsageRecorder::new(core.store.clone(), core.counters.clone());
        usage.spawn_flusher(Duration::from_secs(settings.usage_flush_seconds));
        let requests = RequestRecorder::new(
            settings.request_log,
            core.store.clone(),
            core.counters.clone(),
            core.clock.clone(),
        );
        requests.spawn_flusher();
        let audit = AuditWriter::new(core.store.clone(), core.counters.clone());
        audit.spawn_drainer();
        let auth_failures = Arc::new(AuthFailureTally::default());
        auth_failures.spawn_writer(audit.clone(), core.clock.clone());
        Self {
            usage,
            requests,
            audit,
            auth_failures,
        }
    }
}

impl Services {
    fn build(
        settings: &Settings,
        issuer: &str,
        core: &Core,
        writers: &Writers,
        drain: Arc<Drain>,
    ) -> anyhow::Result<Self> {
        let limiter = Arc::new(
            RateLimits::new(
                settings.redis_url.as_deref(),
                core.counters.clone(),
                core.clock.clone(),
            )
            .map_err(|e| anyhow::anyhow!("setting redis_url (KEYWARD_REDIS_URL): {e}"))?,
        );
        let default_audience = match &settings.default_audience {
            Some(audience) => audience.clone(),
            None => crate::domain::Audience::parse(issuer)?,
        };
        let introspector = Arc::new(Introspector::new(
            core.token_verifier.clone(),
            core.authenticator.clone(),
            core.api_keys.clone(),
            core.revocations.clone(),
            core.policy.clone(),
            settings.plans,
            settings.introspection_restrict_audience,
        ));
        Ok(Self {
            metadata: web::Data::new(routes::metadata::MetadataDocument(routes::build_metadata(
                issuer,
                settings.scopes_supported.as_deref(),
            ))),
            body_deadline: web::Data::new(routes::body_deadline::BodyDeadline(
                Duration::from_millis(settings.client_request_timeout_ms),
            )),
            store: web::Data::from(core.store.clone()),
            keys: web::Data::from(core.keys.clone()),
            drain: web::Data::from(drain),
            limiter: web::Data::from(limiter.clone()),
            trusted_proxies: web::Data::new(settings.trusted_proxies.clone()),
            authenticator: web::Data::from(core.authenticator.clone()),
            api_keys: web::Data::from(core.api_keys.clone()),
            issuer: web::Data::new(TokenIssuer::new(
                core.keys.clone(),
                issuer.to_owned(),
                settings.token_ttl_seconds as i64,
                default_audience,
                core.policy.clone(),
                settings.plans,
                core.counters.clone(),
            )),
            dpop: web::Data::from(core.dpop.clone()),
            checkers: web::Data::new(ResourceServers {
                authenticator: core.authenticator.clone(),
                introspector: introspector.clone(),
            }),
            revoker: web::Data::new(Revoker::new(
                core.token_verifier.clone(),
                core.caches.clone(),
                settings.max_live_revocations_per_client,
            )),
            audit: web::Data::from(writers.audit.clone()),
            admin_auth: web::Data::new(AdminAuth {
                root_token: core.root_token.clone(),
                api_keys: core.api_keys.clone(),
                introspector,
                audience: issuer.to_owned(),
                failures: writers.auth_failures.clone(),
                audit: writers.audit.clone(),
                limiter: limiter.clone(),
                rate_limit_per_minute: settings.admin_rate_limit_per_minute,
                clock: core.clock.clone(),
            }),
            metering: web::Data::new(Metering::new(
                settings.metering,
                limiter.clone(),
                writers.usage.clone(),
            )),
            requests: web::Data::from(writers.requests.clone()),
            metrics: web::Data::new(Metrics::new(Snapshot {
                counters: core.counters.clone(),
                gauges: gauges(&core.store, &limiter, writers),
            })),
            management: web::Data::new(Management {
                store: core.store.clone(),
                secrets: core.secrets.clone(),
                plans: settings.plans,
                max_rate_limit_per_minute: settings.max_rate_limit_per_minute,
                rate_tiers: core.tiers.clone(),
                webhook_urls: settings.webhook_url_rules(),
                webhook_signer: core.webhook_signer.clone(),
                audit: writers.audit.clone(),
                caches: Some(core.caches.clone()),
                issuers: Some(core.issuers.clone()),
                email: core.email.clone(),
                clock: core.clock.clone(),
            }),
            clock: web::Data::from(core.clock.clone()),
            console_sessions: web::Data::new(ConsoleSessions::new(
                core.store.clone(),
                core.secrets.argon2().clone(),
                core.root_token.clone(),
                core.clock.clone(),
            )),
            console_keys: web::Data::new(ConsoleKeys::new(&core.server_secret)),
            console_site: web::Data::new(routes::ConsoleSite::for_issuer(issuer)),
        })
    }
}

/// What `/metrics` reads of the assembled parts at each scrape.
fn gauges(
    store: &Arc<dyn Store>,
    limiter: &Arc<RateLimits>,
    writers: &Writers,
) -> Vec<ReadAtScrape> {
    let pool = |read: fn(crate::storage::PoolUsage) -> u32| {
        let store = store.clone();
        move || i64::from(read(store.pool_usage()))
    };
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let (limiter, usage, requests, audit) = (
        limiter.clone(),
        writers.usage.clone(),
        writers.requests.clone(),
        writers.audit.clone(),
    );
    vec![
        ReadAtScrape::new(
            "db_pool_connections",
            "Open database connections",
            pool(|p| p.size),
        ),
        ReadAtScrape::new(
            "db_pool_idle_connections",
            "Idle database connections",
            pool(|p| p.idle),
        ),
        ReadAtScrape::new(
            "db_pool_max_connections",
            "The database pool's maximum size",
            pool(|p| p.max),
        ),
        ReadAtScrape::new(
            "rate_limiter_redis",
            "1 while rate budgets are shared through Redis; 0 when local or fallen back",
            move || i64::from(limiter.shared_in_redis()),
        ),
        ReadAtScrape::new(
            "usage_queue_depth",
            "Usage entries waiting to be written",
            move || count(usage.pending()),
        ),
        ReadAtScrape::new(
            "request_log_queue_depth",
            "Request log entries waiting to be written",
            move || count(requests.waiting()),
        ),
        ReadAtScrape::new(
            "audit_queue_depth",
            "Audit events waiting for the database",
            move || count(audit.waiting()),
        ),
    ]
}

/// The HTTP server: the middleware, every service and the routes, on
/// `listener`, stopping on `stop`.
fn http_server(
    settings: &Settings,
    listener: TcpListener,
    services: Services,
    idempotency: Idempotency,
    drain: Arc<Drain>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<Server> {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let console = settings.console_enabled;
    Ok(HttpServer::new(move || {
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
            .configure(|cfg| services.register(cfg))
            .configure(|cfg| routes::configure(cfg, &idempotency))
            .configure(|cfg| {
                if console {
                    routes::configure_console(cfg)
                }
            })
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
    .run())
}

/// Starts the expiry warnings and the webhook and email deliveries that
/// carry them.
fn spawn_notifications(settings: &Settings, core: &Core) -> anyhow::Result<()> {
    let store = &core.store;
    ExpiryWarnings {
        store: store.clone(),
        warn_within: i64::from(settings.expiry_warning_days) * 86_400,
        scan_every: Duration::from_secs(settings.expiry_scan_interval_seconds),
        counters: core.counters.clone(),
        clock: core.clock.clone(),
        email: core.email.clone(),
    }
    .spawn();
    let retry = RetryPolicy {
        base_seconds: settings.webhook_retry_base_seconds as i64,
        window_seconds: settings.webhook_retry_window_seconds as i64,
    };
    WebhookDispatcher::new(
        store.clone(),
        core.webhook_signer.clone(),
        retry,
        settings.webhook_allow_private_networks,
        core.clock.clone(),
        core.counters.clone(),
    )?
    .spawn();
    if let (Some(smtp), Some(outbox)) = (settings.smtp()?, &core.email) {
        tracing::info!(host = %smtp.host, port = smtp.port, tls = ?smtp.tls, "email is on");
        EmailDispatcher::new(
            &smtp,
            store.clone(),
            outbox.clone(),
            retry,
            core.clock.clone(),
            core.counters.clone(),
        )?
        .spawn();
    }
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
