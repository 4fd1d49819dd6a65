//! Checking API keys, on the hot path (tests/api/hot_path.rs): a key's first check on a
//! node costs one indexed read and a digest check; a warm one reads
//! nothing. A key stored before digests (argon2id) is checked with argon2
//! once, and its hash is then rewritten as a digest.

use std::net::IpAddr;
use std::sync::Arc;

use super::batch_loader::{BatchLoader, Batching};
use super::credential_reads::CredentialReads;
use super::record_cache::{Freshness, RecordCache};
use crate::crypto::secret_hasher::Stored;
use crate::crypto::SecretHasher;
use crate::domain::SecretOrigin;
use crate::domain::{ApiKeyCredentials, ApiKeyId, ApiKeySecret, ApiKeyStatus, PlanLimits};
use crate::domain::{EffectiveRateLimit, RateTiers, ScopePolicy, ScopeSet};
use crate::metrics::Counters;
use crate::storage::{StorageError, Store};

/// Why a key is not valid, in the order the checks run. Every reason but
/// `NotFound` is told only after the whole key was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRejection {
    NotFound,
    Deactivated,
    Expired,
    ApiAccessNotAvailable,
    IpNotAllowed,
}

/// The answer to a key check, as `/v1/keys/verify` and the metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyVerdict {
    Valid,
    RateLimited,
    InsufficientScope,
    Rejected(KeyRejection),
}

impl KeyVerdict {
    pub fn code(self) -> &'static str {
        match self {
            KeyVerdict::Valid => "VALID",
            KeyVerdict::RateLimited => "RATE_LIMITED",
            KeyVerdict::InsufficientScope => "INSUFFICIENT_SCOPE",
            KeyVerdict::Rejected(KeyRejection::NotFound) => "NOT_FOUND",
            KeyVerdict::Rejected(KeyRejection::Deactivated) => "DEACTIVATED",
            KeyVerdict::Rejected(KeyRejection::Expired) => "EXPIRED",
            KeyVerdict::Rejected(KeyRejection::ApiAccessNotAvailable) => "API_ACCESS_NOT_AVAILABLE",
            KeyVerdict::Rejected(KeyRejection::IpNotAllowed) => "IP_NOT_ALLOWED",
        }
    }
}

/// A key that checked out: its record, plan, expanded scope, and the rate
/// limit these give it (worked out once, when the record is read).
#[derive(Debug)]
pub struct CheckedKey {
    pub credentials: ApiKeyCredentials,
    pub granted: ScopeSet,
    pub rate_limit: EffectiveRateLimit,
}

pub struct ApiKeyVerifier {
    store: Arc<dyn Store>,
    secrets: SecretHasher,
    policy: Arc<ScopePolicy>,
    tiers: Arc<RateTiers>,
    plans: PlanLimits,
    keys: RecordCache<ApiKeyId, Arc<CheckedKey>>,
    reads: CredentialReads<ApiKeyId, ApiKeyCredentials>,
    counters: Arc<Counters>,
}

impl ApiKeyVerifier {
    pub fn new(
        store: Arc<dyn Store>,
        secrets: SecretHasher,
        policy: Arc<ScopePolicy>,
        tiers: Arc<RateTiers>,
        plans: PlanLimits,
        counters: Arc<Counters>,
        freshness: &Freshness,
    ) -> Self {
        Self {
            reads: read_together(store.clone()),
            store,
            secrets,
            policy,
            tiers,
            plans,
            keys: RecordCache::new(freshness),
            counters,
        }
    }

    /// Checks a presented key from `client_ip` (when the checker knows it).
    /// A malformed key or a bad checksum is refused without any lookup.
    pub async fn check(
        &self,
        raw: &str,
        client_ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Result<Arc<CheckedKey>, KeyRejection>, StorageError> {
        let Some(key) = self.find(raw).await? else {
            return Ok(Err(KeyRejection::NotFound));
        };
        Ok(match self.rejection(&key, client_ip, now) {
            Some(reason) => Err(reason),
            None => Ok(key),
        })
    }

    /// Why a key that verified may not be used now from `client_ip`, if so.
    pub fn rejection(
        &self,
        key: &CheckedKey,
        client_ip: Option<IpAddr>,
        now: i64,
    ) -> Option<KeyRejection> {
        let record = &key.credentials.key;
        let allowlist = &record.ip_allowlist;
        if record.status == ApiKeyStatus::Deactivated {
            Some(KeyRejection::Deactivated)
        } else if record.is_expired(now) {
            Some(KeyRejection::Expired)
        } else if !self.plans.of(key.credentials.plan).api_access {
            Some(KeyRejection::ApiAccessNotAvailable)
        } else if !allowlist.is_empty() && !client_ip.is_some_and(|ip| allowlist.allows(ip)) {
            Some(KeyRejection::IpNotAllowed)
        } else {
            None
        }
    }

    /// The key `raw` is, whatever its status: `None` unless it is well formed
    /// and verifies against a stored key.
    pub async fn find(&self, raw: &str) -> Result<Option<Arc<CheckedKey>>, StorageError> {
        match ApiKeySecret::parse(raw) {
            Ok(presented) => self.verified_key(&presented).await,
            Err(_) => Ok(None),
        }
    }

    /// Forgets everything cached about a key; called on any change to it.
    pub fn evict(&self, id: &ApiKeyId) {
        self.keys.invalidate(id);
        Counters::bump(&self.counters.key_cache_evictions);
    }

    /// Forgets every cached key, after changes may have been missed.
    pub fn evict_all(&self) {
        self.keys.invalidate_all();
        Counters::bump(&self.counters.key_cache_evictions);
    }

    /// The stored key if the presented one is it. An unknown id costs one
    /// indexed read and nothing more.
    async fn verified_key(
        &self,
        presented: &ApiKeySecret,
    ) -> Result<Option<Arc<CheckedKey>>, StorageError> {
        let id = presented.id();
        let Some(key) = self.record(id).await? else {
            return Ok(None);
        };
        // Every API key was generated; an argon2id hash is one stored before digests.
        let stored = [Stored {
            hash: &key.credentials.phc,
            origin: SecretOrigin::Generated,
        }];
        let matched = match self.secrets.check_digests(presented.expose(), &stored) {
            Some(matched) => matched,
            None => match self.secrets.check_argon2(presented.expose(), &stored).await {
                Some(matched) => matched,
                None => return Ok(None),
            },
        };
        self.rewrite(id, &key.credentials.phc, matched.rewrite)
            .await;
        Ok(Some(key))
    }

    /// Stores a matched hash that is not in the current scheme as a digest.
    /// A failure leaves the old hash, which still verifies.
    async fn rewrite(&self, id: &ApiKeyId, old: &str, rewrite: Option<String>) {
        let Some(new) = rewrite else { return };
        match self.store.replace_api_key_hash(id, old, &new).await {
            Ok(true) => Counters::bump(&self.counters.secret_hashes_rewritten),
            Ok(false) => {} // another node did it first
            Err(e) => tracing::warn!(
                error = %crate::error::error_chain(&e),
                "could not store an API key's hash as a digest; it stays as it was"
            ),
        }
        // The next check reads the new hash and needs no argon2.
        self.keys.invalidate(id);
    }

    /// Unknown ids are not cached, so a key created a moment ago is found.
    async fn record(&self, id: &ApiKeyId) -> Result<Option<Arc<CheckedKey>>, StorageError> {
        let load = || async {
            let credentials = self.reads.load(id.clone()).await?;
            Ok(credentials.map(|credentials| {
                let granted = self.policy.expand(&credentials.key.scopes);
                let own = credentials.key.rate_limit_per_minute;
                Arc::new(CheckedKey {
                    rate_limit: self.tiers.for_key(own, &granted),
                    credentials,
                    granted,
                })
            }))
        };
        let found = self.keys.get_or_load(id, load).await?;
        Ok(found.map(|(key, stale)| {
            if stale {
                Counters::bump(&self.counters.stale_answers);
            }
            key
        }))
    }
}

/// Key records read at once or in batches (see `credential_reads`).
fn read_together(store: Arc<dyn Store>) -> CredentialReads<ApiKeyId, ApiKeyCredentials> {
    let instant = store
        .instant_reads()
        .map(|reads| Box::new(move |id: &ApiKeyId| reads.api_key_credentials(id)) as _);
    let batched = BatchLoader::spawn(Batching::READS, move |ids: Vec<ApiKeyId>| {
        let store = store.clone();
        async move {
            let found = store.api_keys_credentials(&ids).await?;
            Ok(found.into_iter().map(|k| (k.key.id.clone(), k)).collect())
        }
    });
    CredentialReads::new(instant, batched)
}
