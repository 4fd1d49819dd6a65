//! Checking API keys, with the same two hot-path caches as clients: key
//! records, and digests of keys that argon2 already accepted.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use super::record_cache::RecordCache;
use crate::crypto::credential_digest::DigestTag;
use crate::crypto::{CredentialDigest, PasswordHasher};
use crate::domain::{ApiKeyCredentials, ApiKeyId, ApiKeySecret, ApiKeyStatus, PlanLimits};
use crate::domain::{ScopePolicy, ScopeSet};
use crate::stats::Counters;
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

impl KeyRejection {
    pub fn code(self) -> &'static str {
        match self {
            KeyRejection::NotFound => "NOT_FOUND",
            KeyRejection::Deactivated => "DEACTIVATED",
            KeyRejection::Expired => "EXPIRED",
            KeyRejection::ApiAccessNotAvailable => "API_ACCESS_NOT_AVAILABLE",
            KeyRejection::IpNotAllowed => "IP_NOT_ALLOWED",
        }
    }
}

/// A key that checked out: its record, plan, and expanded scope.
#[derive(Debug)]
pub struct CheckedKey {
    pub credentials: ApiKeyCredentials,
    pub granted: ScopeSet,
}

#[derive(Clone)]
struct VerifiedKey {
    tag: DigestTag,
    phc: Arc<str>,
}

pub struct ApiKeyVerifier {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    digest: CredentialDigest,
    policy: Arc<ScopePolicy>,
    plans: PlanLimits,
    keys: RecordCache<ApiKeyId, Arc<CheckedKey>>,
    verified: Cache<ApiKeyId, VerifiedKey>,
    counters: Arc<Counters>,
}

const CACHE_CAPACITY: u64 = 100_000;
const VERIFIED_TTL: Duration = Duration::from_secs(600);

impl ApiKeyVerifier {
    pub fn new(
        store: Arc<dyn Store>,
        hasher: PasswordHasher,
        policy: Arc<ScopePolicy>,
        plans: PlanLimits,
        counters: Arc<Counters>,
        record_ttl: Duration,
        max_staleness: Duration,
    ) -> Self {
        Self {
            store,
            hasher,
            digest: CredentialDigest::new(),
            policy,
            plans,
            keys: RecordCache::new(record_ttl, max_staleness),
            verified: Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(VERIFIED_TTL)
                .build(),
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
        self.verified.invalidate(id);
        Counters::bump(&self.counters.key_cache_evictions);
    }

    /// Forgets every cached key, after changes may have been missed.
    pub fn evict_all(&self) {
        self.keys.invalidate_all();
        self.verified.invalidate_all();
        Counters::bump(&self.counters.key_cache_evictions);
    }

    /// The stored key if the presented one is it; argon2 runs only the
    /// first time a node sees the key.
    async fn verified_key(
        &self,
        presented: &ApiKeySecret,
    ) -> Result<Option<Arc<CheckedKey>>, StorageError> {
        let id = presented.id();
        let Some(key) = self.record(id).await? else {
            self.hasher.verify_any(presented.expose(), Vec::new()).await;
            return Ok(None);
        };
        let seen = self.verified.get(id).is_some_and(|v| {
            *v.phc == *key.credentials.phc
                && self.digest.matches(id.as_str(), presented.expose(), &v.tag)
        });
        if seen {
            Counters::bump(&self.counters.credential_cache_hits);
            return Ok(Some(key));
        }
        Counters::bump(&self.counters.credential_cache_misses);
        let phc = key.credentials.phc.clone();
        if self
            .hasher
            .verify_any(presented.expose(), vec![phc.clone()])
            .await
            .is_none()
        {
            return Ok(None);
        }
        let verified = VerifiedKey {
            tag: self.digest.tag(id.as_str(), presented.expose()),
            phc: phc.into(),
        };
        self.verified.insert(id.clone(), verified);
        Ok(Some(key))
    }

    /// Unknown ids are not cached, so a key created a moment ago is found.
    async fn record(&self, id: &ApiKeyId) -> Result<Option<Arc<CheckedKey>>, StorageError> {
        let load = || async {
            let credentials = self.store.api_key_credentials(id).await?;
            Ok(credentials.map(|credentials| {
                let granted = self.policy.expand(&credentials.key.scopes);
                Arc::new(CheckedKey {
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
