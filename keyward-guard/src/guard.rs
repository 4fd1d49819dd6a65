//! The guard: where the keys come from, and the one call that checks a
//! request's credential for a scope.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::api_keys::{ApiKeys, ResourceServerCredentials};
use crate::dpop::{bound_key, DpopBinding};
use crate::introspection::{Introspection, Introspector};
use crate::jwks::KeySet;
use crate::token_cache::VerifiedTokens;
use crate::token_check::TokenCheck;
use crate::verifier::Verifier;
use crate::{Claims, Credential, Denial, RequestParts, RequiredScope};

/// Checks Keyward credentials. Cheap to clone: clones share the caches.
#[derive(Clone)]
pub struct Guard {
    tokens: Arc<TokenCheck>,
    realm: Option<Arc<str>>,
    /// `None` without resource-server credentials: keys are refused.
    api_keys: Option<Arc<ApiKeys>>,
    dpop: Arc<DpopBinding>,
}

/// How to reach the issuer; see [`Guard::builder`].
pub struct GuardBuilder {
    keyward_url: String,
    audience: String,
    jwks_uri: Option<String>,
    leeway: Duration,
    refetch_interval: Duration,
    max_key_age: Duration,
    realm: Option<String>,
    http: Option<reqwest::Client>,
    key_checks: Option<ResourceServerCredentials>,
    key_cache_ttl: Duration,
    introspection: Option<Introspection>,
    public_url: Option<String>,
    token_cache_capacity: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("discovery at {url}")]
    Discovery {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("JWKS at {url}")]
    Jwks {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("HTTP client")]
    Client(#[source] reqwest::Error),
}

/// RFC 8414 metadata: the two fields the guard needs.
#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
}

impl Guard {
    /// A guard for tokens Keyward at `keyward_url` issues for `audience`
    /// (this API's resource identifier, which tokens must name in `aud`).
    pub fn builder(keyward_url: impl Into<String>, audience: impl Into<String>) -> GuardBuilder {
        GuardBuilder {
            keyward_url: keyward_url.into().trim_end_matches('/').to_owned(),
            audience: audience.into(),
            jwks_uri: None,
            leeway: Duration::from_secs(30),
            refetch_interval: Duration::from_secs(10),
            max_key_age: Duration::from_secs(300),
            realm: None,
            http: None,
            key_checks: None,
            key_cache_ttl: Duration::from_secs(2),
            introspection: None,
            public_url: None,
            token_cache_capacity: 10_000,
        }
    }

    /// Checks the request's credential and that it grants `required`;
    /// returns the token's claims. A DPoP-bound token needs its request
    /// ([`Guard::authorize_request`]).
    pub async fn authorize(
        &self,
        credential: Option<Credential<'_>>,
        required: &RequiredScope,
    ) -> Result<Claims, Denial> {
        self.authorize_request(credential, &RequestParts::default(), required)
            .await
    }

    /// [`Guard::authorize`] for an HTTP request: a DPoP-bound token under
    /// the DPoP scheme is checked with the request's proof, and an API key
    /// with the caller's address (for keys with an IP allowlist).
    pub async fn authorize_request(
        &self,
        credential: Option<Credential<'_>>,
        request: &RequestParts<'_>,
        required: &RequiredScope,
    ) -> Result<Claims, Denial> {
        let presented = credential.ok_or(Denial::MissingCredential)?;
        match presented {
            Credential::AccessToken(token) => {
                let claims = self.verify_token(token).await?;
                self.dpop.check(presented, bound_key(&claims), request)?;
                required.check(&claims.scope)?;
                Ok(claims)
            }
            Credential::DpopToken(token) => {
                let claims = self.verify_token(token).await.map_err(Denial::under_dpop)?;
                self.dpop.check(presented, bound_key(&claims), request)?;
                required.check(&claims.scope).map_err(Denial::under_dpop)?;
                Ok(claims)
            }
            Credential::ApiKey(key) => match &self.api_keys {
                Some(api_keys) => api_keys.authorize(key, required, request.client_ip).await,
                None => Err(Denial::InvalidToken("API keys are not accepted here")),
            },
        }
    }

    /// Reports to Keyward the API key uses served from the cache and not
    /// reported yet (they are, within a second, while the process runs):
    /// call it on a clean stop.
    pub async fn flush_usage(&self) {
        if let Some(api_keys) = &self.api_keys {
            api_keys.flush_usage().await;
        }
    }

    /// The checks of an access token (offline, or by introspection),
    /// without a scope.
    pub async fn verify_token(&self, token: &str) -> Result<Claims, Denial> {
        self.tokens.verify(token).await
    }

    /// The `realm` of the challenges, if one was set.
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }
}

impl GuardBuilder {
    /// Skip discovery: fetch keys from `jwks_uri` and take the Keyward URL
    /// given to [`Guard::builder`] as the exact `iss`.
    pub fn jwks_uri(mut self, jwks_uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(jwks_uri.into());
        self
    }

    /// How far past `exp` (or before `nbf`) a token still passes, for
    /// clocks that differ; 30 seconds unless set.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The least time between two fetches of the JWKS for unknown `kid`s;
    /// 10 seconds unless set.
    pub fn refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// How long fetched keys are used before the next request refetches
    /// them (so a key Keyward withdrew stops verifying); 5 minutes unless
    /// set.
    pub fn max_key_age(mut self, age: Duration) -> Self {
        self.max_key_age = age;
        self
    }

    /// The `realm` named in every `WWW-Authenticate` challenge.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Check API keys with Keyward's `/v1/keys/verify`, authenticating as
    /// this resource-server client. Without it, API keys are refused
    /// (`invalid_token`).
    pub fn api_keys(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.key_checks = Some(ResourceServerCredentials::new(client_id, client_secret));
        self
    }

    /// How long a `VALID` verdict on an API key is reused: the most time
    /// a deactivated key may still pass. 2 seconds unless set; zero asks
    /// Keyward on every request.
    pub fn api_key_cache_ttl(mut self, ttl: Duration) -> Self {
        self.key_cache_ttl = ttl;
        self
    }

    /// Check tokens by asking Keyward (`{keyward_url}/oauth/introspect`)
    /// instead of offline: a revoked token or a deactivated client is then
    /// refused within the cache's time to live. `connect` then neither
    /// discovers the issuer nor fetches keys.
    pub fn introspection(mut self, introspection: Introspection) -> Self {
        self.introspection = Some(introspection);
        self
    }

    /// The URL clients call this API at, such as `https://api.example.test`:
    /// a DPoP proof's `htu` must be it followed by the request's path. The
    /// audience unless set.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// How many verified tokens are remembered (until each expires), so
    /// that a token sent again skips its signature check; 10,000 unless
    /// set, 0 for none.
    pub fn token_cache_capacity(mut self, capacity: u64) -> Self {
        self.token_cache_capacity = capacity;
        self
    }

    /// The client for discovery, the JWKS, introspection and key checks;
    /// by default one with a
    /// 5-second timeout and rustls on aws-lc-rs.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Discovers the issuer (`{keyward_url}/.well-known/oauth-authorization-server`)
    /// unless a JWKS URL was given, and fetches the keys.
    pub async fn connect(self) -> Result<Guard, ConnectError> {
        let http = match self.http {
            Some(http) => http,
            None => default_client().map_err(ConnectError::Client)?,
        };
        let dpop = DpopBinding::new(self.public_url.as_deref().unwrap_or(&self.audience));
        let (tokens, issuer) = match self.introspection {
            Some(options) => {
                let introspector =
                    Introspector::new(http.clone(), &self.keyward_url, self.audience, options);
                (
                    TokenCheck::Introspection(introspector),
                    self.keyward_url.clone(),
                )
            }
            None => {
                let (issuer, jwks_uri) = match self.jwks_uri {
                    Some(jwks_uri) => (self.keyward_url.clone(), jwks_uri),
                    None => {
                        let metadata = discover(&http, &self.keyward_url).await?;
                        (metadata.issuer, metadata.jwks_uri)
                    }
                };
                let keys = KeySet::fetch(
                    http.clone(),
                    jwks_uri.clone(),
                    self.refetch_interval,
                    self.max_key_age,
                )
                .await
                .map_err(|source| ConnectError::Jwks {
                    url: jwks_uri,
                    source,
                })?;
                let verifier = Verifier {
                    issuer: issuer.clone(),
                    audience: self.audience,
                    leeway: self.leeway,
                    keys,
                    verified: VerifiedTokens::new(self.token_cache_capacity, self.leeway),
                };
                (TokenCheck::Offline(verifier), issuer)
            }
        };
        let api_keys = self.key_checks.map(|credentials| {
            Arc::new(ApiKeys::new(
                http,
                &self.keyward_url,
                issuer,
                credentials,
                self.key_cache_ttl,
            ))
        });
        Ok(Guard {
            tokens: Arc::new(tokens),
            realm: self.realm.map(Arc::from),
            api_keys,
            dpop: Arc::new(dpop),
        })
    }
}

async fn discover(http: &reqwest::Client, base: &str) -> Result<Metadata, ConnectError> {
    let url = format!("{base}/.well-known/oauth-authorization-server");
    let fetched = async {
        http.get(&url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    };
    fetched
        .await
        .map_err(|source| ConnectError::Discovery { url, source })
}

fn default_client() -> Result<reqwest::Client, reqwest::Error> {
    // This reqwest build brings no TLS provider of its own; take the
    // process's, or install aws-lc-rs if it has none.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
}
