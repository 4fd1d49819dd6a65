//! API keys, checked by asking Keyward's `POST /v1/keys/verify` as a
//! resource server. A `VALID` verdict is reused for a short time (the
//! bound on how late a deactivation is followed) and for at most the rate
//! budget it reported; requests served from it are reported to
//! `POST /v1/keys/usage` in batches, so each counts once in Keyward.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::{Claims, Denial, RequiredScope};

mod cache;
mod keyward;
mod tally;
mod verdict;

use cache::{CacheKey, KeyDigest, VerdictCache};
use keyward::KeywardApi;
use tally::UsageTally;

/// A resource-server client of Keyward (`keyward client create
/// --resource-server`): what the guard authenticates with to check keys.
#[derive(Debug, Clone)]
pub struct ResourceServerCredentials {
    pub client_id: String,
    /// Redacted in `Debug`.
    pub client_secret: SecretString,
}

impl ResourceServerCredentials {
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
        }
    }
}

pub(crate) struct ApiKeys {
    keyward: Arc<KeywardApi>,
    issuer: String,
    cache: VerdictCache,
    tally: Arc<UsageTally>,
}

impl ApiKeys {
    pub(crate) fn new(
        http: reqwest::Client,
        keyward_url: &str,
        issuer: String,
        credentials: ResourceServerCredentials,
        cache_ttl: Duration,
    ) -> Self {
        let keyward = Arc::new(KeywardApi::new(http, keyward_url, credentials));
        Self {
            tally: Arc::new(UsageTally::new(keyward.clone())),
            keyward,
            issuer,
            cache: VerdictCache::new(cache_ttl),
        }
    }

    pub(crate) async fn authorize(
        &self,
        key: &str,
        required: &RequiredScope,
        client_ip: Option<IpAddr>,
    ) -> Result<Claims, Denial> {
        let digest = KeyDigest::of(key);
        let cache_key = CacheKey::of(key, required, client_ip);
        if let Some(claims) = self.cache.serve(&cache_key) {
            self.tally.add(digest, key);
            return Ok(claims);
        }
        // Keyward's budget must hold what was served before it is asked again.
        self.tally.flush(&digest).await;
        let (answer, rate_headers) = self.keyward.verify(key, required, client_ip).await?;
        match answer.judge(&self.issuer, rate_headers) {
            Ok((claims, budget)) => {
                self.cache.insert(cache_key, claims.clone(), budget);
                Ok(claims)
            }
            Err(denial) => {
                self.cache.forget(&cache_key);
                Err(denial)
            }
        }
    }

    /// Reports every use served from the cache and not reported yet.
    pub(crate) async fn flush_usage(&self) {
        self.tally.flush_all().await;
    }
}
