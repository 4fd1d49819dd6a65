//! The short positive cache: `VALID` verdicts by a digest of the key, the
//! required scope and the client's address, each usable until its TTL or
//! the rate budget Keyward reported with it runs out.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::{Claims, RequiredScope};

/// The most verdicts held; past it the least used go first.
const MAX_ENTRIES: u64 = 100_000;

/// SHA-256 of an API key: what the guard keeps in place of the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct KeyDigest([u8; 32]);

impl KeyDigest {
    pub(crate) fn of(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }
}

impl std::fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyDigest(..)")
    }
}

/// What a verdict was for: the key, the scope asked and the address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct CacheKey(KeyDigest);

impl CacheKey {
    pub(crate) fn of(key: &str, required: &RequiredScope, client_ip: Option<IpAddr>) -> Self {
        let mut hash = Sha256::new();
        // Lengths first, so that no two triples hash the same bytes.
        for part in [
            key.as_bytes(),
            required.to_string().as_bytes(),
            client_ip
                .map(|ip| ip.to_string())
                .unwrap_or_default()
                .as_bytes(),
        ] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        Self(KeyDigest(hash.finalize().into()))
    }
}

struct Cached {
    claims: Claims,
    /// Requests this verdict may still let through.
    budget: AtomicU32,
}

pub(crate) struct VerdictCache {
    /// `None` when the TTL is zero: every request asks Keyward.
    verdicts: Option<moka::sync::Cache<CacheKey, Arc<Cached>>>,
}

impl VerdictCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        let verdicts = (!ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(ttl)
                .build()
        });
        Self { verdicts }
    }

    /// The claims of a held verdict with budget left, taking one use of it.
    pub(crate) fn serve(&self, key: &CacheKey) -> Option<Claims> {
        let cached = self.verdicts.as_ref()?.get(key)?;
        cached
            .budget
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(1)
            })
            .ok()?;
        Some(cached.claims.clone())
    }

    /// Holds a `VALID` verdict that may serve `budget` more requests.
    pub(crate) fn insert(&self, key: CacheKey, claims: Claims, budget: u32) {
        if let Some(verdicts) = &self.verdicts {
            if budget > 0 {
                let budget = AtomicU32::new(budget);
                verdicts.insert(key, Arc::new(Cached { claims, budget }));
            }
        }
    }

    pub(crate) fn forget(&self, key: &CacheKey) {
        if let Some(verdicts) = &self.verdicts {
            verdicts.invalidate(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims::of_api_key(
            "ak_1".into(),
            "org_1".into(),
            "payouts:read".into(),
            "i",
            None,
        )
    }

    fn scope(raw: &str) -> RequiredScope {
        RequiredScope::parse(raw).unwrap()
    }

    #[test]
    fn a_verdict_serves_at_most_its_budget() {
        let cache = VerdictCache::new(Duration::from_secs(60));
        let key = CacheKey::of("kw_a", &scope("payouts:read"), None);
        assert!(cache.serve(&key).is_none());
        cache.insert(key, claims(), 2);
        assert_eq!(cache.serve(&key), Some(claims()));
        assert!(cache.serve(&key).is_some());
        assert!(cache.serve(&key).is_none());
    }

    #[test]
    fn a_verdict_is_only_for_its_key_scope_and_address() {
        let cache = VerdictCache::new(Duration::from_secs(60));
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let key = CacheKey::of("kw_a", &scope("payouts:read"), Some(ip));
        cache.insert(key, claims(), 10);
        assert!(cache.serve(&key).is_some());
        for other in [
            CacheKey::of("kw_b", &scope("payouts:read"), Some(ip)),
            CacheKey::of("kw_a", &scope("payouts:write"), Some(ip)),
            CacheKey::of("kw_a", &scope("payouts:read"), None),
        ] {
            assert!(cache.serve(&other).is_none());
        }
    }

    #[test]
    fn verdicts_expire_and_can_be_forgotten() {
        let cache = VerdictCache::new(Duration::from_millis(50));
        let key = CacheKey::of("kw_a", &scope("payouts:read"), None);
        cache.insert(key, claims(), 10);
        std::thread::sleep(Duration::from_millis(80));
        assert!(cache.serve(&key).is_none());
        cache.insert(key, claims(), 10);
        cache.forget(&key);
        assert!(cache.serve(&key).is_none());
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = VerdictCache::new(Duration::ZERO);
        let key = CacheKey::of("kw_a", &scope("payouts:read"), None);
        cache.insert(key, claims(), 10);
        assert!(cache.serve(&key).is_none());
    }

    #[test]
    fn debug_shows_no_key() {
        let shown = format!("{:?}", CacheKey::of("kw_secret", &scope("a"), None));
        assert!(!shown.contains("secret"), "{shown}");
    }
}
