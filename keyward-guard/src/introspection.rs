//! Introspection mode (RFC 7662): Keyward says whether a token is still
//! active, so a revoked token or a deactivated client is refused here
//! within the cache's time to live. Active answers are cached by the
//! token's SHA-256, never past the token's `exp`; inactive answers and
//! failures are not cached. Concurrent requests for a token that is not
//! cached share one call.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use moka::future::Cache;
use moka::Expiry;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::token_cache::{self, TokenDigest};
use crate::{Claims, Denial};

/// How the guard introspects: as which resource-server client, and for
/// how long it may reuse an active answer. See
/// [`GuardBuilder::introspection`](crate::GuardBuilder::introspection).
#[derive(Debug, Clone)]
pub struct Introspection {
    client_id: String,
    client_secret: SecretString,
    cache_ttl: Duration,
    cache_capacity: u64,
}

impl Introspection {
    /// The guard authenticates as this Keyward client (HTTP Basic); it must
    /// be a resource server (`--resource-server`) serving the guard's
    /// audience.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<SecretString>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            cache_ttl: Duration::from_secs(5),
            cache_capacity: 10_000,
        }
    }

    /// How long an active answer is reused: the bound on how late a
    /// revocation or deactivation is seen here. 5 seconds unless set;
    /// `Duration::ZERO` asks Keyward on every request.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How many active answers are kept at most; 10 000 unless set.
    pub fn cache_capacity(mut self, entries: u64) -> Self {
        self.cache_capacity = entries;
        self
    }
}

pub(crate) struct Introspector {
    http: reqwest::Client,
    endpoint: String,
    audience: String,
    client_id: String,
    client_secret: SecretString,
    active: Cache<TokenDigest, Claims>,
}

/// The part of every RFC 7662 answer the guard reads first.
#[derive(Deserialize)]
struct Answer {
    active: bool,
}

/// Keeps an answer for the time to live, but never past the token's `exp`.
struct UntilExpiry {
    ttl: Duration,
}

impl Expiry<[u8; 32], Claims> for UntilExpiry {
    fn expire_after_create(&self, _: &[u8; 32], claims: &Claims, _: Instant) -> Option<Duration> {
        let left = u64::try_from(claims.exp - unix_now()).unwrap_or(0);
        Some(self.ttl.min(Duration::from_secs(left)))
    }
}

impl Introspector {
    pub fn new(
        http: reqwest::Client,
        keyward_url: &str,
        audience: String,
        options: Introspection,
    ) -> Self {
        let active = Cache::builder()
            .max_capacity(options.cache_capacity)
            .expire_after(UntilExpiry {
                ttl: options.cache_ttl,
            })
            .build();
        Self {
            http,
            endpoint: format!("{keyward_url}/oauth/introspect"),
            audience,
            client_id: options.client_id,
            client_secret: options.client_secret,
            active,
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, Denial> {
        self.active
            .try_get_with(token_cache::digest(token), self.ask(token))
            .await
            .map_err(Arc::unwrap_or_clone)
    }

    async fn ask(&self, token: &str) -> Result<Claims, Denial> {
        let response = self
            .http
            .post(&self.endpoint)
            .basic_auth(&self.client_id, Some(self.client_secret.expose_secret()))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| {
                // Keyward down, or refusing this guard's own credentials:
                // not the caller's fault either way.
                tracing::warn!(error = %e, "introspection failed");
                Denial::Unavailable
            })?;
        let bytes = response.bytes().await.map_err(|e| {
            tracing::warn!(error = %e, "introspection answer unread");
            Denial::Unavailable
        })?;
        let answer: Answer = serde_json::from_slice(&bytes).map_err(|e| {
            tracing::warn!(error = %e, "introspection answer is not RFC 7662");
            Denial::Unavailable
        })?;
        if !answer.active {
            return Err(Denial::InvalidToken("the token is not active"));
        }
        // Active, but without an access token's claims (sub, aud, exp).
        let claims: Claims = serde_json::from_slice(&bytes)
            .map_err(|_| Denial::InvalidToken("the token is not an access token"))?;
        if !claims.aud.contains(&self.audience) {
            return Err(Denial::InvalidToken("the token is not for this audience"));
        }
        Ok(claims)
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
