//! Client authentication, on the hot path (tests/api/hot_path.rs). A client's first
//! request on a node costs one indexed read and a digest check; a warm one
//! finds its record cached and reads nothing. Only an imported secret (or
//! a hash stored before digests) costs argon2, once per node: a verified
//! one is remembered as an in-memory digest.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use super::batch_loader::{BatchLoader, Batching};
use super::client_assertion::{AssertionClaims, AssertionRefusal, AssertionRules};
use super::credential_reads::CredentialReads;
use super::failure_gate::FailureGate;
use super::federated_assertion::{FederationRefusal, FederationRules};
use super::one_time_values::OneTimeValues;
use super::record_cache::{Freshness, RecordCache};
use super::remote_jwks::RemoteJwks;
use super::trusted_issuers::{Issuer, TrustedIssuers};
use crate::crypto::credential_digest::DigestTag;
use crate::crypto::foreign_jws::ForeignJws;
use crate::crypto::secret_hasher::Stored;
use crate::crypto::{CredentialDigest, SecretHasher};
use crate::domain::{
    AuthMethod, ClientCredentials, ClientId, ClientSecret, EffectiveRateLimit, PublicJwk,
    RateTiers, ScopePolicy, ScopeSet, SecretHash,
};
use crate::metrics::Counters;
use crate::storage::{StorageError, Store};
use crate::time::Clock;

/// A client as the token endpoint sees it: its record plus the expanded set
/// of scopes it may be granted, and the rate limit these give it.
#[derive(Debug)]
pub struct AuthenticatedClient {
    pub credentials: ClientCredentials,
    pub grantable: ScopeSet,
    pub rate_limit: EffectiveRateLimit,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    #[error("unknown client or wrong secret")]
    BadCredentials,
    #[error("too many failed attempts; retry after {retry_after} s")]
    TooManyFailures { retry_after: u64 },
    /// A client assertion signed by the client's key that is refused, or
    /// one not even well-formed; the text says why.
    #[error("{0}")]
    BadAssertion(String),
    /// The right credential, presented by a method the client may not use.
    #[error("this client may not authenticate with {used}; it is registered for {registered}")]
    MethodNotAllowed {
        used: AuthMethod,
        registered: AuthMethod,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<FederationRefusal> for ClientAuthError {
    fn from(refusal: FederationRefusal) -> Self {
        Self::BadAssertion(refusal.to_string())
    }
}

/// An argon2-checked secret remembered as a digest under a per-process key,
/// valid while the hash it matched is still one of the client's live
/// secrets, and until that secret's own expiry.
#[derive(Clone)]
struct VerifiedSecret {
    tag: DigestTag,
    phc: Arc<str>,
    expires_at: Option<i64>,
}

pub struct ClientAuthenticator {
    store: Arc<dyn Store>,
    secrets: SecretHasher,
    digest: CredentialDigest,
    policy: Arc<ScopePolicy>,
    tiers: Arc<RateTiers>,
    clients: RecordCache<String, Arc<AuthenticatedClient>>,
    reads: CredentialReads<ClientId, ClientCredentials>,
    verified: Cache<String, Arc<Vec<VerifiedSecret>>>,
    failures: FailureGate,
    assertions: AssertionRules,
    one_time: Arc<OneTimeValues>,
    remote_keys: Arc<RemoteJwks>,
    issuers: Arc<TrustedIssuers>,
    federation: FederationRules,
    counters: Arc<Counters>,
}

/// A client that proved who it is; through a platform token, with what
/// its sign-in is audited with.
pub struct Authenticated {
    pub client: Arc<AuthenticatedClient>,
    pub federated: Option<FederatedSignIn>,
}

/// A sign-in by workload identity federation.
#[derive(Debug, Clone)]
pub struct FederatedSignIn {
    pub issuer: String,
    pub subject: String,
    /// The id of the client's federated subject that matched.
    pub binding: String,
}

/// What checks a client's assertions: the rules of their claims, the
/// record of used `jti`s, and the key sets clients publish.
pub struct AssertionChecks {
    pub rules: AssertionRules,
    pub one_time: Arc<OneTimeValues>,
    pub remote_keys: Arc<RemoteJwks>,
    /// Platform tokens: the issuers they may come from, and their rules.
    pub issuers: Arc<TrustedIssuers>,
    pub federation: FederationRules,
}

/// How a client proves who it is.
pub enum ClientProof<'a> {
    Secret {
        id: &'a str,
        secret: &'a ClientSecret,
        method: AuthMethod,
    },
    /// A `private_key_jwt` assertion, with the `client_id` sent beside it.
    Assertion {
        id: Option<&'a str>,
        assertion: &'a str,
    },
}

const CACHE_CAPACITY: u64 = 100_000;
const VERIFIED_TTL: Duration = Duration::from_secs(600);
const MAX_SECRETS_REMEMBERED: usize = 4;

impl ClientAuthenticator {
    pub fn new(
        store: Arc<dyn Store>,
        secrets: SecretHasher,
        policy: Arc<ScopePolicy>,
        tiers: Arc<RateTiers>,
        counters: Arc<Counters>,
        freshness: &Freshness,
        assertions: AssertionChecks,
    ) -> Self {
        Self {
            reads: read_together(store.clone(), freshness.clock.clone()),
            store,
            secrets,
            digest: CredentialDigest::new(),
            policy,
            tiers,
            clients: RecordCache::new(freshness),
            verified: Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(VERIFIED_TTL)
                .build(),
            failures: FailureGate::new(freshness.clock.clone()),
            assertions: assertions.rules,
            one_time: assertions.one_time,
            remote_keys: assertions.remote_keys,
            issuers: assertions.issuers,
            federation: assertions.federation,
            counters,
        }
    }

    /// Checks a client's proof presented from `source`.
    pub async fn authenticate_proof(
        &self,
        proof: ClientProof<'_>,
        source: Option<IpAddr>,
        now: i64,
    ) -> Result<Authenticated, ClientAuthError> {
        let (client, federated, method) = match proof {
            ClientProof::Secret { id, secret, method } => (
                self.authenticate(id, secret, source, now).await?,
                None,
                method,
            ),
            // A platform token travels as a client assertion, as a
            // private_key_jwt assertion does.
            ClientProof::Assertion { id, assertion } => {
                let (client, federated) = self.authenticate_assertion(id, assertion, now).await?;
                (client, federated, AuthMethod::PrivateKeyJwt)
            }
        };
        Ok(Authenticated {
            client: allowed(client, method)?,
            federated,
        })
    }

    /// Checks a client assertion: a platform token when a trusted issuer
    /// other than the client made it, else `private_key_jwt`.
    async fn authenticate_assertion(
        &self,
        id: Option<&str>,
        assertion: &str,
        now: i64,
    ) -> Result<(Arc<AuthenticatedClient>, Option<FederatedSignIn>), ClientAuthError> {
        let bad = |why: &dyn std::fmt::Display| ClientAuthError::BadAssertion(why.to_string());
        let jws = ForeignJws::parse(assertion)
            .map_err(|e| bad(&format_args!("the client assertion is refused: {e}")))?;
        let claims: AssertionClaims = jws
            .claims()
            .map_err(|e| bad(&format_args!("the client assertion is refused: {e}")))?;
        let foreign = claims
            .iss
            .as_deref()
            .filter(|iss| claims.sub.as_deref() != Some(*iss));
        if let Some(iss) = foreign {
            let Some(issuer) = self.issuers.get(iss) else {
                return Err(bad(&"the client assertion needs iss and sub, both the client_id, unless a trusted issuer made it (a platform token)"));
            };
            let (client, sign_in) = self
                .authenticate_platform_token(id, &jws, assertion, &issuer, now)
                .await?;
            return Ok((client, Some(sign_in)));
        }
        let client = self.authenticate_key(id, &jws, claims, now).await?;
        Ok((client, None))
    }

    /// Checks a `private_key_jwt` assertion (RFC 7523 §2.2): signed by a
    /// key registered for the client it names, then its claims, then its
    /// `jti` once. Before the signature verifies, every refusal reads the
    /// same; an unknown client costs one read and no signature check.
    async fn authenticate_key(
        &self,
        id: Option<&str>,
        jws: &ForeignJws<'_>,
        claims: AssertionClaims,
        now: i64,
    ) -> Result<Arc<AuthenticatedClient>, ClientAuthError> {
        let bad = |why: &dyn std::fmt::Display| ClientAuthError::BadAssertion(why.to_string());
        let Some(subject) = claims.sub.clone() else {
            return Err(bad(&AssertionRefusal::IssuerNotSubject));
        };
        if id.is_some_and(|id| id != subject) {
            return Err(bad(&"client_id must be the client assertion's sub"));
        }
        let Ok(client_id) = ClientId::parse(&subject) else {
            return Err(ClientAuthError::BadCredentials);
        };
        let Some(client) = self.client(&client_id).await? else {
            return Err(ClientAuthError::BadCredentials);
        };
        if !self.signed_by(&client, jws, now).await {
            return Err(ClientAuthError::BadCredentials);
        }
        let once = self
            .assertions
            .check(claims, client_id.as_str(), now)
            .map_err(|refusal| bad(&refusal))?;
        if !self
            .one_time
            .first_use(client_id.as_str(), &once.jti, once.expires_at)
            .await?
        {
            return Err(bad(&AssertionRefusal::Replayed));
        }
        Ok(client)
    }

    /// Checks a platform token (workload identity federation): the client
    /// named by `client_id`, the issuer's signature, the token's claims,
    /// one of the client's federated subjects, then the token once. An
    /// unknown client reads the same as a wrong secret; no refusal names
    /// a binding.
    async fn authenticate_platform_token(
        &self,
        id: Option<&str>,
        jws: &ForeignJws<'_>,
        token: &str,
        issuer: &Issuer,
        now: i64,
    ) -> Result<(Arc<AuthenticatedClient>, FederatedSignIn), ClientAuthError> {
        let id = id.ok_or(FederationRefusal::NoClientId)?;
        let Ok(client_id) = ClientId::parse(id) else {
            return Err(ClientAuthError::BadCredentials);
        };
        let Some(client) = self.client(&client_id).await? else {
            return Err(ClientAuthError::BadCredentials);
        };
        let kid = jws.header.kid.as_deref();
        let keys = self
            .issuers
            .keys(issuer, kid, now)
            .await
            .unwrap_or_default();
        if let Some(kid) = kid.filter(|kid| !keys.iter().any(|k| k.kid() == *kid)) {
            return Err(FederationRefusal::UnknownKey(kid.to_owned()).into());
        }
        if !verified_by(keys.iter(), kid, jws) {
            return Err(FederationRefusal::BadSignature.into());
        }
        let claims: serde_json::Value = jws.claims().map_err(|_| {
            ClientAuthError::BadAssertion(
                "the platform token's claims are not a JSON object".into(),
            )
        })?;
        let record = &issuer.record;
        let checked = self.federation.check(record, token, &claims, now)?;
        let binding = client
            .credentials
            .client
            .federated_subjects
            .matching(&record.issuer, &checked.subject, &claims)
            .ok_or(FederationRefusal::NoMatch)?
            .id
            .clone();
        let scope = format!("federated:{}", record.issuer);
        if !self
            .one_time
            .first_use(&scope, &checked.once, checked.remember_until)
            .await?
        {
            return Err(FederationRefusal::Replayed.into());
        }
        let sign_in = FederatedSignIn {
            issuer: record.issuer.clone(),
            subject: checked.subject,
            binding,
        };
        Ok((client, sign_in))
    }

    /// Checks a client id and secret presented from `source`. An unknown
    /// id and a wrong secret fail alike. Only argon2 work is gated, per
    /// address (see `failure_gate`).
    #[tracing::instrument(level = "debug", skip_all, fields(client_id = %id))]
    pub async fn authenticate(
        &self,
        id: &str,
        secret: &ClientSecret,
        source: Option<IpAddr>,
        now: i64,
    ) -> Result<Arc<AuthenticatedClient>, ClientAuthError> {
        let (Ok(client_id), true) = (
            ClientId::parse(id),
            secret.expose().len() <= ClientSecret::MAX_LEN,
        ) else {
            // Not of our id or secret format: no stored client can match.
            return Err(ClientAuthError::BadCredentials);
        };
        let Some(client) = self.client(&client_id).await? else {
            return Err(ClientAuthError::BadCredentials);
        };
        let mut live: Vec<&SecretHash> = client
            .credentials
            .secret_hashes
            .iter()
            .filter(|h| h.expires_at.is_none_or(|at| at > now))
            .collect();
        // The current secret (no end) first, then the latest to end: argon2
        // stops at the first match, so the current secret costs one run.
        live.sort_by_key(|h| std::cmp::Reverse(h.expires_at.unwrap_or(i64::MAX)));
        let stored: Vec<Stored> = live.iter().map(|h| Stored::from(*h)).collect();
        if let Some(matched) = self.secrets.check_digests(secret.expose(), &stored) {
            self.rewrite(&client_id, live[matched.index], matched.rewrite)
                .await;
            return Ok(client);
        }
        if !SecretHasher::needs_argon2(&stored) {
            return Err(ClientAuthError::BadCredentials);
        }
        if self.seen_before(&client, secret, now) {
            Counters::bump(&self.counters.credential_cache_hits);
            return Ok(client);
        }
        if let Some(retry_after) = self.failures.refused(source, now) {
            return Err(ClientAuthError::TooManyFailures { retry_after });
        }
        Counters::bump(&self.counters.credential_cache_misses);
        let Some(matched) = self.secrets.check_argon2(secret.expose(), &stored).await else {
            self.failures.failed(source, now);
            return Err(ClientAuthError::BadCredentials);
        };
        self.remember(id, secret, live[matched.index]);
        self.rewrite(&client_id, live[matched.index], matched.rewrite)
            .await;
        Ok(client)
    }

    /// Whether a key of the client made the assertion's signature: one it
    /// registered, else one of the set it publishes at its `jwks_uri`. The
    /// `kid` header picks the key; without one, each key is tried.
    async fn signed_by(
        &self,
        client: &AuthenticatedClient,
        jws: &ForeignJws<'_>,
        now: i64,
    ) -> bool {
        let record = &client.credentials.client;
        let kid = jws.header.kid.as_deref();
        if verified_by(record.public_keys.iter(), kid, jws) {
            return true;
        }
        let Some(uri) = &record.jwks_uri else {
            return false;
        };
        match self.remote_keys.keys(uri, kid, now).await {
            Some(keys) => verified_by(keys.iter(), kid, jws),
            None => false,
        }
    }

    /// Stores a matched hash that is not in the current scheme as a digest.
    /// A failure leaves the old hash, which still verifies.
    async fn rewrite(&self, id: &ClientId, old: &SecretHash, rewrite: Option<String>) {
        let Some(new) = rewrite else { return };
        match self
            .store
            .replace_client_secret_hash(id, &old.phc, &new)
            .await
        {
            Ok(true) => Counters::bump(&self.counters.secret_hashes_rewritten),
            Ok(false) => {} // another node did it first
            Err(e) => tracing::warn!(
                error = %crate::error::error_chain(&e),
                "could not store a client secret's hash as a digest; it stays as it was"
            ),
        }
        // The next request reads the new hash and checks it without argon2.
        self.clients.invalidate(id.as_str());
    }

    /// Forgets everything cached about a client; called on any change to it.
    pub fn evict(&self, id: &str) {
        self.clients.invalidate(id);
        self.verified.invalidate(id);
        Counters::bump(&self.counters.client_cache_evictions);
    }

    /// Forgets every cached client, after changes may have been missed.
    pub fn evict_all(&self) {
        self.clients.invalidate_all();
        self.verified.invalidate_all();
        Counters::bump(&self.counters.client_cache_evictions);
    }

    /// The client record with its plan, from the cache while it is fresh
    /// (or, in a database outage, not too stale). Unknown ids are not
    /// cached, so a client created a moment ago is found.
    pub async fn client(
        &self,
        id: &ClientId,
    ) -> Result<Option<Arc<AuthenticatedClient>>, StorageError> {
        let load = || async {
            let credentials = self.reads.load(id.clone()).await?;
            Ok(credentials.map(|credentials| {
                let grantable = self.policy.expand(&credentials.client.scopes);
                let own = credentials.client.rate_limit_per_minute;
                Arc::new(AuthenticatedClient {
                    rate_limit: self.tiers.for_client(own, &grantable),
                    credentials,
                    grantable,
                })
            }))
        };
        let found = self.clients.get_or_load(id.as_str(), load).await?;
        Ok(found.map(|(client, stale)| {
            if stale {
                Counters::bump(&self.counters.stale_answers);
            }
            client
        }))
    }

    fn seen_before(&self, client: &AuthenticatedClient, secret: &ClientSecret, now: i64) -> bool {
        let id = client.credentials.client.id.as_str();
        let Some(known) = self.verified.get(id) else {
            return false;
        };
        let live = &client.credentials.secret_hashes;
        known.iter().any(|v| {
            v.expires_at.is_none_or(|at| at > now)
                && live.iter().any(|h| *h.phc == *v.phc)
                && self.digest.matches(id, secret.expose(), &v.tag)
        })
    }

    fn remember(&self, id: &str, secret: &ClientSecret, matched: &SecretHash) {
        let entry = VerifiedSecret {
            tag: self.digest.tag(id, secret.expose()),
            phc: matched.phc.as_str().into(),
            expires_at: matched.expires_at,
        };
        self.verified.entry_by_ref(id).and_upsert_with(|existing| {
            let mut list = existing
                .map(|e| e.into_value().as_ref().clone())
                .unwrap_or_default();
            // A client has at most a few live secrets; the bound covers races.
            if list.len() >= MAX_SECRETS_REMEMBERED {
                list.remove(0);
            }
            list.push(entry);
            Arc::new(list)
        });
    }
}

fn verified_by<'a>(
    keys: impl Iterator<Item = &'a PublicJwk>,
    kid: Option<&str>,
    jws: &ForeignJws<'_>,
) -> bool {
    keys.filter(|key| kid.is_none_or(|kid| key.kid() == kid))
        .any(|key| jws.verify(key))
}

/// The client, if it may use `method`.
fn allowed(
    client: Arc<AuthenticatedClient>,
    method: AuthMethod,
) -> Result<Arc<AuthenticatedClient>, ClientAuthError> {
    match client.credentials.client.auth_method {
        Some(registered) if registered != method => Err(ClientAuthError::MethodNotAllowed {
            used: method,
            registered,
        }),
        _ => Ok(client),
    }
}

/// Client records read at once or in batches (see `credential_reads`).
fn read_together(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> CredentialReads<ClientId, ClientCredentials> {
    let instant = store.instant_reads().map(|reads| {
        let clock = clock.clone();
        Box::new(move |id: &ClientId| reads.client_credentials(id, clock.unix())) as _
    });
    let batched = BatchLoader::spawn(Batching::READS, move |ids: Vec<ClientId>| {
        let (store, now) = (store.clone(), clock.unix());
        async move {
            let found = store.clients_credentials(&ids, now).await?;
            Ok(found
                .into_iter()
                .map(|c| (c.client.id.clone(), c))
                .collect())
        }
    });
    CredentialReads::new(instant, batched)
}
