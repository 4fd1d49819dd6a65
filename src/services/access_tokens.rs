//! Verifies our own access tokens. A token's signature is checked once: the
//! verified claims are then cached under a keyed digest of the token until
//! the token expires, so a live token costs a hash, not a signature check.
//! What can change while a token lives (client status, revocation) is not
//! cached here; the introspector checks it on every call.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use moka::sync::Cache;

use crate::crypto::jwt::{decode_access_token, DecodedClaims, MAX_TOKEN_LEN};
use crate::crypto::keyring::KeySet;
use crate::crypto::CredentialDigest;
use crate::metrics::Counters;

const CACHE_CAPACITY: u64 = 200_000;

pub struct AccessTokenVerifier {
    keys: Arc<ArcSwap<KeySet>>,
    issuer: String,
    leeway: i64,
    digest: CredentialDigest,
    verified: Cache<[u8; 32], Arc<DecodedClaims>>,
    counters: Arc<Counters>,
}

impl AccessTokenVerifier {
    pub fn new(
        keys: Arc<ArcSwap<KeySet>>,
        issuer: String,
        token_ttl: Duration,
        leeway: Duration,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            keys,
            issuer,
            leeway: leeway.as_secs() as i64,
            digest: CredentialDigest::new(),
            verified: Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(token_ttl + leeway)
                .build(),
            counters,
        }
    }

    /// The claims of a token we signed that is within its lifetime now.
    pub fn verify(&self, token: &str, now: i64) -> Option<Arc<DecodedClaims>> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let key = self.digest.digest(token.as_bytes());
        let claims = match self.verified.get(&key) {
            Some(claims) => claims,
            None => {
                Counters::bump(&self.counters.signature_verifications);
                let claims = decode_access_token(&self.keys.load(), token).ok()?;
                if claims.iss != self.issuer {
                    return None;
                }
                let claims = Arc::new(claims);
                self.verified.insert(key, claims.clone());
                claims
            }
        };
        // No leeway on `exp`: this server set it by its own clock (RFC 7662
        // §2.2: an expired token is inactive). `nbf` keeps one for a replica
        // whose clock is a little behind the issuer's.
        let in_lifetime = claims.exp > now && claims.nbf - self.leeway <= now;
        in_lifetime.then_some(claims)
    }

    /// Until when a revocation of the token must be kept: past its `exp` by
    /// the leeway, so that a replica whose clock is behind still refuses it.
    pub fn revocation_lives_until(&self, claims: &DecodedClaims) -> i64 {
        claims.exp + self.leeway
    }
}
