//! The issuer's published keys, cached by `kid`. A token naming a `kid` we
//! do not hold (after a rotation) makes us refetch, but at most once per
//! interval, so tokens with made-up `kid`s cannot make us fetch on every
//! request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::Denial;

/// The algorithms Keyward signs with; a key for any other is ignored.
pub const ALGORITHMS: [Algorithm; 3] = [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256];

type Keys = HashMap<String, (Algorithm, DecodingKey)>;

pub struct KeySet {
    http: reqwest::Client,
    jwks_uri: String,
    keys: RwLock<Arc<Keys>>,
    /// When the keys were last fetched; held while refetching, so that one
    /// request fetches and the others wait for its answer.
    fetched_at: tokio::sync::Mutex<Instant>,
    refetch_interval: Duration,
}

impl KeySet {
    pub async fn fetch(
        http: reqwest::Client,
        jwks_uri: String,
        refetch_interval: Duration,
    ) -> Result<Self, reqwest::Error> {
        let keys = fetch_keys(&http, &jwks_uri).await?;
        Ok(Self {
            http,
            jwks_uri,
            keys: RwLock::new(Arc::new(keys)),
            fetched_at: tokio::sync::Mutex::new(Instant::now()),
            refetch_interval,
        })
    }

    /// The key named `kid` and the one algorithm it verifies.
    pub async fn key(&self, kid: &str) -> Result<(Algorithm, DecodingKey), Denial> {
        if let Some(found) = self.cached(kid) {
            return Ok(found);
        }
        let mut fetched_at = self.fetched_at.lock().await;
        // Another request may have refetched while this one waited.
        if let Some(found) = self.cached(kid) {
            return Ok(found);
        }
        let unknown = Denial::InvalidToken("the token's key is unknown");
        if fetched_at.elapsed() < self.refetch_interval {
            return Err(unknown);
        }
        *fetched_at = Instant::now();
        let keys = fetch_keys(&self.http, &self.jwks_uri).await.map_err(|e| {
            tracing::warn!(error = %e, "JWKS refetch failed");
            Denial::Unavailable
        })?;
        *self
            .keys
            .write()
            .expect("the key set lock is never poisoned") = Arc::new(keys);
        self.cached(kid).ok_or(unknown)
    }

    fn cached(&self, kid: &str) -> Option<(Algorithm, DecodingKey)> {
        let keys = self
            .keys
            .read()
            .expect("the key set lock is never poisoned");
        keys.get(kid).cloned()
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
