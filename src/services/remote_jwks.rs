//! Key sets that clients publish at a `jwks_uri`, fetched through the
//! outbound client (the webhooks' address rules: no loopback or private
//! network unless the operator allows it, no redirects) and cached. An
//! assertion naming a kid that the cached set lacks fetches the set again,
//! at most once per `REFETCH_GAP_SECONDS` per URL: whoever knows a client
//! id can send such assertions, and they must not turn Keyward into a
//! stream of requests at the client's server.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use serde_json::Value;

use super::outbound_http::{read_bounded, OutboundHttp};
use crate::domain::PublicJwk;

/// How long a fetched set is used before it is fetched again.
pub const FRESH_SECONDS: i64 = 300;
/// The least time between two fetches of one URL.
pub const REFETCH_GAP_SECONDS: i64 = 30;
/// A larger answer is not a key set we take.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Keys taken from one set; the rest are ignored.
const MAX_KEYS: usize = 10;

#[derive(Clone)]
struct Fetched {
    /// `None` when the last fetch failed.
    keys: Option<Arc<Vec<PublicJwk>>>,
    at: i64,
}

pub struct RemoteJwks {
    http: OutboundHttp,
    sets: Cache<String, Fetched>,
}

impl RemoteJwks {
    pub fn new(allow_private_networks: bool, timeout: Duration) -> reqwest::Result<Self> {
        Ok(Self {
            http: OutboundHttp::new(allow_private_networks, timeout)?,
            sets: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(3600))
                .build(),
        })
    }

    /// The set at `uri`: cached while fresh, else fetched. With `kid`
    /// missing from a cached set, fetched again unless it was fetched in
    /// the last `REFETCH_GAP_SECONDS`.
    pub async fn keys(
        &self,
        uri: &str,
        kid: Option<&str>,
        now: i64,
    ) -> Option<Arc<Vec<PublicJwk>>> {
        let cached = self.sets.get(uri);
        let wanted = |f: &Fetched| match (&f.keys, kid) {
            (Some(keys), Some(kid)) => keys.iter().any(|k| k.kid() == kid),
            (Some(_), None) => true,
            (None, _) => false,
        };
        match &cached {
            Some(f) if now - f.at < FRESH_SECONDS && wanted(f) => return f.keys.clone(),
            Some(f) if now - f.at < REFETCH_GAP_SECONDS => return f.keys.clone(),
            _ => {}
        }
        let keys = self.fetch(uri).await.map(Arc::new);
        // A failed fetch keeps the keys known before: a brief outage of the
        // client's server does not lock it out.
        let kept = keys.or_else(|| cached.and_then(|f| f.keys));
        self.sets.insert(
            uri.to_owned(),
            Fetched {
                keys: kept.clone(),
                at: now,
            },
        );
        kept
    }

    async fn fetch(&self, uri: &str) -> Option<Vec<PublicJwk>> {
        let fetched = async {
            let response = self
                .http
                .get(uri)
                .map_err(|e| e.to_string())?
                .header(
                    reqwest::header::ACCEPT,
                    "application/jwk-set+json, application/json",
                )
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("answered {}", response.status()));
            }
            let body = read_bounded(response, MAX_BODY_BYTES).await?;
            parse_set(&body).ok_or_else(|| "answered no JSON Web Key Set".to_owned())
        };
        match fetched.await {
            Ok(keys) => Some(keys),
            Err(why) => {
                tracing::warn!(
                    jwks_uri = uri,
                    error = why,
                    "could not fetch a client's key set"
                );
                None
            }
        }
    }
}

/// The signing keys of a JWK Set (RFC 7517 §5) that we can use; keys of
/// other types, for encryption or with private parts are skipped.
fn parse_set(body: &[u8]) -> Option<Vec<PublicJwk>> {
    let set: Value = serde_json::from_slice(body).ok()?;
    let keys = set.get("keys")?.as_array()?;
    Some(
        keys.iter()
            .filter_map(|key| PublicJwk::from_json(key).ok())
            .take(MAX_KEYS)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_keeps_its_usable_keys_only() {
        let body = br#"{"keys":[
            {"kty":"oct","k":"c2VjcmV0"},
            {"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"OKP","crv":"Ed25519","kid":"enc","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        ]}"#;
        let keys = parse_set(body).unwrap();
        assert_eq!(keys.iter().map(PublicJwk::kid).collect::<Vec<_>>(), ["ed"]);
        assert!(parse_set(b"[]").is_none());
        assert!(parse_set(b"not json").is_none());
    }
}
