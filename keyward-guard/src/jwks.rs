//! The issuer's published keys, cached by `kid`. A token naming a `kid` we
//! do not hold (after a rotation), or keys past their maximum age, make us
//! refetch, but at most once per interval, so tokens with made-up `kid`s
//! cannot make us fetch on every request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::Denial;

/// The algorithms Keyward signs with; a key for any other is ignored.
pub const ALGORITHMS: [Algorithm; 3] = [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256];

type Keys = HashMap<String, (Algorithm, DecodingKey)>;

/// A key held, the one algorithm it verifies, and the fetch it came from:
/// every fetch is a new generation, so what a key verified can be tied to
/// the fetch that still held it.
#[derive(Clone)]
pub struct HeldKey {
    pub alg: Algorithm,
    pub key: DecodingKey,
    pub generation: u64,
}

pub struct KeySet {
    http: reqwest::Client,
    jwks_uri: String,
    keys: RwLock<Arc<Fetched>>,
    /// When a fetch was last tried; held while refetching, so that one
    /// request fetches and the others wait for its answer.
    tried_at: tokio::sync::Mutex<Instant>,
    refetch_interval: Duration,
    max_age: Duration,
}

struct Fetched {
    at: Instant,
    keys: Keys,
    generation: u64,
}

impl KeySet {
    pub async fn fetch(
        http: reqwest::Client,
        jwks_uri: String,
        refetch_interval: Duration,
        max_age: Duration,
    ) -> Result<Self, reqwest::Error> {
        let keys = fetch_keys(&http, &jwks_uri).await?;
        let now = Instant::now();
        Ok(Self {
            http,
            jwks_uri,
            keys: RwLock::new(Arc::new(Fetched {
                at: now,
                keys,
                generation: 0,
            })),
            tried_at: tokio::sync::Mutex::new(now),
            refetch_interval,
            max_age,
        })
    }

    /// The key named `kid` and the one algorithm it verifies. Keys older
    /// than the maximum age are refetched, so a key Keyward stops
    /// publishing stops verifying here too; if Keyward cannot be reached
    /// meanwhile, the keys held go on verifying.
    pub async fn key(&self, kid: &str) -> Result<HeldKey, Denial> {
        if let Some(found) = self.cached(kid, true) {
            return Ok(found);
        }
        let mut tried_at = self.tried_at.lock().await;
        // Another request may have refetched while this one waited.
        if let Some(found) = self.cached(kid, true) {
            return Ok(found);
        }
        let unknown = Denial::InvalidToken("the token's key is unknown");
        if tried_at.elapsed() < self.refetch_interval {
            return self.cached(kid, false).ok_or(unknown);
        }
        *tried_at = Instant::now();
        match fetch_keys(&self.http, &self.jwks_uri).await {
            Ok(keys) => {
                let mut held = self
                    .keys
                    .write()
                    .expect("the key set lock is never poisoned");
                *held = Arc::new(Fetched {
                    at: Instant::now(),
                    keys,
                    generation: held.generation + 1,
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "JWKS refetch failed");
                return self.cached(kid, false).ok_or(Denial::Unavailable);
            }
        }
        self.cached(kid, false).ok_or(unknown)
    }

    /// Whether the keys of fetch `generation` are still the ones in use,
    /// and not past their age: what they verified still stands without
    /// asking for a key.
    pub fn is_current(&self, generation: u64) -> bool {
        let fetched = self
            .keys
            .read()
            .expect("the key set lock is never poisoned");
        fetched.generation == generation && fetched.at.elapsed() < self.max_age
    }

    /// The key named `kid`, if held (and, if `fresh`, not past its age).
    fn cached(&self, kid: &str, fresh: bool) -> Option<HeldKey> {
        let fetched = self
            .keys
            .read()
            .expect("the key set lock is never poisoned");
        if fresh && fetched.at.elapsed() >= self.max_age {
            return None;
        }
        let (alg, key) = fetched.keys.get(kid)?;
        Some(HeldKey {
            alg: *alg,
            key: key.clone(),
            generation: fetched.generation,
        })
    }
}

async fn fetch_keys(http: &reqwest::Client, url: &str) -> Result<Keys, reqwest::Error> {
    let set: JwkSet = http
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(set.keys.iter().filter_map(usable).collect())
}

/// A key with a `kid` and an allowed algorithm, named by its `alg` or, if
/// it has none, by its type and curve.
fn usable(jwk: &Jwk) -> Option<(String, (Algorithm, DecodingKey))> {
    let alg = match (jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(KeyAlgorithm::ES256), _) => Algorithm::ES256,
        (Some(KeyAlgorithm::EdDSA), _) => Algorithm::EdDSA,
        (Some(KeyAlgorithm::RS256), _) => Algorithm::RS256,
        (Some(_), _) => return None,
        (None, AlgorithmParameters::EllipticCurve(p)) if p.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        (None, AlgorithmParameters::OctetKeyPair(p)) if p.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        (None, AlgorithmParameters::RSA(_)) => Algorithm::RS256,
        (None, _) => return None,
    };
    let kid = jwk.common.key_id.clone()?;
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((kid, (alg, key)))
}
