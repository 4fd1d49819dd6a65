//! Verified tokens' claims, so that a token sent again (an integration
//! sends one for up to its whole lifetime) skips the signature check. The
//! key is the token's SHA-256, never the token. An entry lasts until the
//! token's `exp` plus the leeway, and holds only while the key set that
//! verified it is the one in use: each JWKS fetch is a new generation, and
//! an entry of an older one is verified again, so a withdrawn key's tokens
//! stop passing at the refetch that drops it.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use moka::sync::Cache;
use sha2::{Digest, Sha256};

use crate::Claims;

/// The SHA-256 of a token.
pub type TokenDigest = [u8; 32];

pub fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// What a verification found, and what it depended on.
pub struct Verified {
    pub claims: Claims,
    /// The generation of the key set whose key verified it.
    pub generation: u64,
}

pub struct VerifiedTokens {
    /// `None` when caching is off (a capacity of 0).
    cache: Option<Cache<TokenDigest, Arc<Verified>>>,
    leeway: Duration,
}

impl VerifiedTokens {
    pub fn new(capacity: u64, leeway: Duration) -> Self {
        let cache = (capacity > 0).then(|| {
            Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry { leeway })
                .build()
        });
        Self { cache, leeway }
    }

    /// The verification of the token with this digest, if still current.
    pub fn get(&self, digest: &TokenDigest) -> Option<Arc<Verified>> {
        let found = self.cache.as_ref()?.get(digest)?;
        // moka expires by the clock it read at insertion; `exp` is the rule.
        (remaining(&found.claims, self.leeway) > Duration::ZERO).then_some(found)
    }

    pub fn insert(&self, digest: TokenDigest, verified: Verified) {
        if let Some(cache) = &self.cache {
            cache.insert(digest, Arc::new(verified));
        }
    }
}

struct UntilExpiry {
    leeway: Duration,
}

impl moka::Expiry<TokenDigest, Arc<Verified>> for UntilExpiry {
    fn expire_after_create(
        &self,
        _: &TokenDigest,
        verified: &Arc<Verified>,
        _: Instant,
    ) -> Option<Duration> {
        Some(remaining(&verified.claims, self.leeway))
    }
}

/// How long the token passes from now: until `exp` plus the leeway.
fn remaining(claims: &Claims, leeway: Duration) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let until = u64::try_from(claims.exp).unwrap_or(0) + leeway.as_secs();
    Duration::from_secs(until.saturating_sub(now))
}
