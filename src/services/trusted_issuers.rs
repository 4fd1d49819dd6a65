//! The issuers the operator trusts, held in memory and read again from the
//! database every few seconds (and at once after a change on this node),
//! so a token naming an unknown issuer costs a map lookup. Their keys come
//! from a static set, their `jwks_uri`, or their OIDC discovery document,
//! fetched and cached as clients' key sets are (`remote_jwks`). The
//! operator registers these issuers, so private networks (an in-cluster
//! issuer) may be reached.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use moka::sync::Cache;
use serde::Deserialize;
use serde_json::Value;

use super::outbound_http::{read_bounded, OutboundHttp};
use super::remote_jwks::RemoteJwks;
use crate::domain::{IssuerKeys, PublicJwk, TrustedIssuer};
use crate::storage::Store;

/// How long a discovered `jwks_uri` is used, and how long a failed
/// discovery waits before it is tried again.
const DISCOVERY_FRESH: Duration = Duration::from_secs(3600);
const DISCOVERY_RETRY: Duration = Duration::from_secs(30);
const MAX_DISCOVERY_BYTES: usize = 64 * 1024;

/// A trusted issuer with its static keys parsed.
pub struct Issuer {
    pub record: TrustedIssuer,
    static_keys: Option<Arc<Vec<PublicJwk>>>,
}

pub struct TrustedIssuers {
    store: Arc<dyn Store>,
    known: ArcSwap<HashMap<String, Arc<Issuer>>>,
    remote: RemoteJwks,
    http: OutboundHttp,
    /// Issuer to its discovered `jwks_uri`.
    discovered: Cache<String, String>,
    failed_discovery: Cache<String, ()>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl TrustedIssuers {
    pub async fn load(store: Arc<dyn Store>, timeout: Duration) -> anyhow::Result<Arc<Self>> {
        let issuers = Arc::new(Self {
            store,
            known: ArcSwap::from_pointee(HashMap::new()),
            remote: RemoteJwks::new(true, timeout)?,
            http: OutboundHttp::new(true, timeout)?,
            discovered: Cache::builder().time_to_live(DISCOVERY_FRESH).build(),
            failed_discovery: Cache::builder().time_to_live(DISCOVERY_RETRY).build(),
        });
        issuers.reload().await;
        Ok(issuers)
    }

    /// Reads the issuers again every `every`.
    pub fn spawn_reloader(self: &Arc<Self>, every: Duration) {
        let issuers = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            loop {
                ticks.tick().await;
                issuers.reload().await;
            }
        });
    }

    /// Reads the issuers; on failure the ones known stay.
    pub async fn reload(&self) {
        match self.store.trusted_issuers().await {
            Ok(records) => {
                let known = records
                    .into_iter()
                    .map(|record| {
                        let static_keys = match &record.keys {
                            IssuerKeys::Static(set) => Some(Arc::new(parse_set(set))),
                            _ => None,
                        };
                        let issuer = Issuer {
                            record,
                            static_keys,
                        };
                        (issuer.record.issuer.clone(), Arc::new(issuer))
                    })
                    .collect();
                self.known.store(Arc::new(known));
            }
            Err(e) => tracing::warn!(
                error = %crate::error::error_chain(&e),
                "could not read the trusted issuers; the ones known stay"
            ),
        }
    }

    pub fn get(&self, iss: &str) -> Option<Arc<Issuer>> {
        self.known.load().get(iss).cloned()
    }

    /// The issuer's keys; with `kid` unknown, its key set is fetched
    /// again (at most once per 30 s), so a rotated key is picked up.
    pub async fn keys(
        &self,
        issuer: &Issuer,
        kid: Option<&str>,
        now: i64,
    ) -> Option<Arc<Vec<PublicJwk>>> {
        let uri = match &issuer.record.keys {
            IssuerKeys::Static(_) => return issuer.static_keys.clone(),
            IssuerKeys::JwksUri(uri) => uri.clone(),
            IssuerKeys::Discovery => self.discovered_jwks_uri(&issuer.record.issuer).await?,
        };
        self.remote.keys(&uri, kid, now).await
    }

    async fn discovered_jwks_uri(&self, issuer: &str) -> Option<String> {
        if let Some(found) = self.discovered.get(issuer) {
            return Some(found);
        }
        if self.failed_discovery.contains_key(issuer) {
            return None;
        }
        match self.discover(issuer).await {
            Ok(uri) => {
                self.discovered.insert(issuer.to_owned(), uri.clone());
                Some(uri)
            }
            Err(why) => {
                tracing::warn!(
                    issuer,
                    error = why,
                    "OIDC discovery of a trusted issuer failed"
                );
                self.failed_discovery.insert(issuer.to_owned(), ());
                None
            }
        }
    }

    async fn discover(&self, issuer: &str) -> Result<String, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let response = self
            .http
            .get(&url)
            .map_err(|e| e.to_string())?
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        let body = read_bounded(response, MAX_DISCOVERY_BYTES)
            .await
            .map_err(|why| format!("{url} {why}"))?;
        let document: Discovery = serde_json::from_slice(&body)
            .map_err(|e| format!("{url} is not a discovery document: {e}"))?;
        // OpenID Connect Discovery §4.3: the document is the issuer's own.
        if document.issuer != issuer {
            return Err(format!("{url} names another issuer, {}", document.issuer));
        }
        Ok(document.jwks_uri)
    }
}

fn parse_set(set: &Value) -> Vec<PublicJwk> {
    set.get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|key| PublicJwk::from_json(key).ok())
                .collect()
        })
        .unwrap_or_default()
}
