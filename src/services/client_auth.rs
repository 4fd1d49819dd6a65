//! Client authentication with the two hot-path caches of DESIGN.md: client
//! records, and digests of credentials that argon2 already accepted. A warm
//! request runs neither SQL nor argon2.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use super::failure_gate::FailureGate;
use super::record_cache::RecordCache;
use crate::crypto::credential_digest::DigestTag;
use crate::crypto::{CredentialDigest, PasswordHasher};
use crate::domain::{ClientCredentials, ClientId, ClientSecret, ScopePolicy, ScopeSet, SecretHash};
use crate::stats::Counters;
use crate::storage::{StorageError, Store};

/// A client as the token endpoint sees it: its record plus the expanded set
/// of scopes it may be granted.
#[derive(Debug)]
pub struct AuthenticatedClient {
    pub credentials: ClientCredentials,
    pub grantable: ScopeSet,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    #[error("unknown client or wrong secret")]
    BadCredentials,
    #[error("too many failed attempts; retry after {retry_after} s")]
    TooManyFailures { retry_after: u64 },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A digest of a verified secret, valid while the hash it matched is still
/// one of the client's live secrets, and until that secret's own expiry.
#[derive(Clone)]
struct VerifiedSecret {
    tag: DigestTag,
    phc: Arc<str>,
    expires_at: Option<i64>,
}

pub struct ClientAuthenticator {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    digest: CredentialDigest,
    policy: Arc<ScopePolicy>,
    clients: RecordCache<String, Arc<AuthenticatedClient>>,
    verified: Cache<String, Arc<Vec<VerifiedSecret>>>,
    failures: FailureGate,
    counters: Arc<Counters>,
}

const CACHE_CAPACITY: u64 = 100_000;
const VERIFIED_TTL: Duration = Duration::from_secs(600);
const MAX_SECRETS_REMEMBERED: usize = 4;

impl ClientAuthenticator {
    pub fn new(
        store: Arc<dyn Store>,
        hasher: PasswordHasher,
        policy: Arc<ScopePolicy>,
        counters: Arc<Counters>,
        client_ttl: Duration,
        max_staleness: Duration,
    ) -> Self {
        Self {
            store,
            hasher,
            digest: CredentialDigest::new(),
            policy,
            clients: RecordCache::new(client_ttl, max_staleness),
            verified: Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(VERIFIED_TTL)
                .build(),
            failures: FailureGate::default(),
            counters,
        }
    }

    /// Checks a client id and secret presented from `source`. Unknown ids
    /// and wrong secrets fail alike, after the same argon2 work, and count
    /// against the failure budgets of the id and the address.
    #[tracing::instrument(skip_all, fields(client_id = %id))]
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
        let client = self.client(&client_id, now).await?;
        if let Some(client) = &client {
            if self.seen_before(client, secret, now) {
                Counters::bump(&self.counters.credential_cache_hits);
                return Ok(client.clone());
            }
        }
        // Only a check that needs argon2 is gated.
        if let Some(retry_after) = self.failures.refused(id, source, now) {
            return Err(ClientAuthError::TooManyFailures { retry_after });
        }
        let Some(client) = client else {
            self.hasher.verify_any(secret.expose(), Vec::new()).await;
            self.failures.failed(id, source, now);
            return Err(ClientAuthError::BadCredentials);
        };
        Counters::bump(&self.counters.credential_cache_misses);
        let live: Vec<_> = client
            .credentials
            .secret_hashes
            .iter()
            .filter(|h| h.expires_at.is_none_or(|at| at > now))
            .collect();
        let phcs = live.iter().map(|h| h.phc.clone()).collect();
        let Some(matched) = self.hasher.verify_any(secret.expose(), phcs).await else {
            self.failures.failed(id, source, now);
            return Err(ClientAuthError::BadCredentials);
        };
        self.remember(id, secret, live[matched]);
        Ok(client)
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
        now: i64,
    ) -> Result<Option<Arc<AuthenticatedClient>>, StorageError> {
        let load = || async {
            let credentials = self.store.client_credentials(id, now).await?;
            Ok(credentials.map(|credentials| {
                let grantable = self.policy.expand(&credentials.client.scopes);
                Arc::new(AuthenticatedClient {
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
