//! A resource server's side of Keyward: check a Bearer token for one scope,
//! offline against a cached JWKS or by introspection with a short cache, and
//! answer in RFC 6750 §3 shape. A DPoP-bound token is good only with its
//! proof (see `dpop`). Nothing here logs or echoes a token.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use anyhow::Context;
use arc_swap::ArcSwap;
use jsonwebtoken::jwk::{JwkSet, KeyAlgorithm};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::dpop::{Expected, ProofChecker};

const REALM: &str = "example";

pub struct Config {
    /// Keyward's base URL, such as `http://127.0.0.1:8080`.
    pub keyward_url: String,
    /// The resource identifier this API serves; tokens must name it in `aud`.
    pub audience: String,
    /// Space-separated scopes every call needs.
    pub required_scope: String,
    pub mode: Mode,
    /// The URL clients call this API at, such as `https://api.example.test`:
    /// a DPoP proof's `htu` must be it followed by the request's path.
    pub public_url: String,
}

pub enum Mode {
    /// Verify offline; on an unknown `kid`, refetch the JWKS at most once per interval.
    Jwks { refetch_interval: Duration },
    /// Ask Keyward as a resource-server client; remember each answer for `cache_ttl`.
    Introspect {
        client_id: String,
        client_secret: SecretString,
        cache_ttl: Duration,
    },
}

/// Why a request is refused; each maps to one RFC 6750 answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Denial {
    #[error("no Bearer token")]
    MissingToken,
    #[error("{0}")]
    InvalidToken(&'static str),
    #[error("{0}")]
    InvalidDpopProof(&'static str),
    #[error("the token lacks the required scope")]
    InsufficientScope { required: String, actual: String },
    /// Keyward could not be asked; the cause is logged where it happened.
    #[error("the authorization server could not be reached")]
    Unavailable,
}

pub struct Guard {
    required: Vec<String>,
    http: reqwest::Client,
    verifier: Verifier,
    public_url: String,
    proofs: ProofChecker,
}

/// What a token's check found: the key it is bound to, if any, and
/// whether its scope is enough.
#[derive(Clone)]
struct Checked {
    jkt: Option<String>,
    scope: Result<(), Denial>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    Dpop,
}

enum Verifier {
    Jwks(Jwks),
    Introspect(Introspector),
}

impl Guard {
    /// Validates the configuration and, in JWKS mode, discovers the issuer and fetches the keys.
    pub async fn connect(config: Config) -> anyhow::Result<Self> {
        let required = parse_scope(&config.required_scope)?;
        let base = config.keyward_url.trim_end_matches('/').to_owned();
        // This build of reqwest has no TLS provider of its own: it takes
        // the process's (aws-lc-rs here; any rustls provider would do).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        let verifier = match config.mode {
            Mode::Jwks { refetch_interval } => {
                let jwks = Jwks::discover(&http, &base, config.audience, refetch_interval).await?;
                Verifier::Jwks(jwks)
            }
            Mode::Introspect {
                client_id,
                client_secret,
                cache_ttl,
            } => Verifier::Introspect(Introspector {
                endpoint: format!("{base}/oauth/introspect"),
                client_id,
                client_secret,
                cache: moka::sync::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(cache_ttl)
                    .build(),
            }),
        };
        Ok(Self {
            required,
            http,
            verifier,
            public_url: config.public_url.trim_end_matches('/').to_owned(),
            proofs: ProofChecker::default(),
        })
    }

    pub async fn authorize(&self, req: &HttpRequest) -> Result<(), Denial> {
        let (scheme, token) = presented_token(req).ok_or(Denial::MissingToken)?;
        let checked = match &self.verifier {
            Verifier::Jwks(jwks) => {
                let claims = jwks.verify(&self.http, token).await?;
                Checked {
                    jkt: claims.cnf.map(|cnf| cnf.jkt),
                    scope: require_scope(&claims.scope, &self.required),
                }
            }
            Verifier::Introspect(introspector) => {
                introspector
                    .check(&self.http, token, &self.required)
                    .await?
            }
        };
        self.check_binding(req, scheme, token, checked.jkt.as_deref())?;
        checked.scope
    }

    /// A bound token only as DPoP with its proof; an unbound one only as
    /// Bearer.
    fn check_binding(
        &self,
        req: &HttpRequest,
        scheme: Scheme,
        token: &str,
        jkt: Option<&str>,
    ) -> Result<(), Denial> {
        let jkt = match (scheme, jkt) {
            (Scheme::Bearer, None) => return Ok(()),
            (Scheme::Bearer, Some(_)) => {
                return Err(Denial::InvalidToken(
                    "the token is DPoP-bound: send it with the DPoP scheme and a proof",
                ))
            }
            (Scheme::Dpop, None) => {
                return Err(Denial::InvalidToken(
                    "the token is not DPoP-bound: send it as a Bearer token",
                ))
            }
            (Scheme::Dpop, Some(jkt)) => jkt,
        };
        let mut proofs = req.headers().get_all("DPoP");
        let proof = match (proofs.next(), proofs.next()) {
            (Some(proof), None) => proof.to_str().unwrap_or_default(),
            _ => return Err(Denial::InvalidDpopProof("send exactly one DPoP proof")),
        };
        let url = format!("{}{}", self.public_url, req.path());
        let expected = Expected {
            method: req.method().as_str(),
            url: &url,
            token,
            jkt,
        };
        let now = chrono::Utc::now().timestamp();
        self.proofs
            .check(proof, &expected, now)
            .map_err(Denial::InvalidDpopProof)
    }
}

/// The example's API: `GET /payouts`, with a `web::Data<Guard>` in the app data.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/payouts", web::get().to(payouts));
}

async fn payouts(req: HttpRequest, guard: web::Data<Guard>) -> Result<HttpResponse, Denial> {
    guard.authorize(&req).await?;
    Ok(HttpResponse::Ok().json(json!({
        "payouts": [{"id": "po_1", "amount": "120.00", "currency": "EUR"}]
    })))
}

fn parse_scope(raw: &str) -> anyhow::Result<Vec<String>> {
    // RFC 6749 §3.3 scope-token; it also keeps the WWW-Authenticate quoting safe.
    let valid = |c: char| matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
    let mut scopes: Vec<String> = raw.split_whitespace().map(str::to_owned).collect();
    anyhow::ensure!(!scopes.is_empty(), "the required scope is empty");
    if let Some(bad) = scopes.iter().find(|s| !s.chars().all(valid)) {
        anyhow::bail!("{bad:?} is not a valid scope");
    }
    scopes.sort();
    scopes.dedup();
    Ok(scopes)
}

fn presented_token(req: &HttpRequest) -> Option<(Scheme, &str)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return None;
    };
    (!token.is_empty()).then_some((scheme, token))
}

/// Keyward's scopes arrive expanded, so membership (or `*`) is the whole check.
fn require_scope(granted: &str, required: &[String]) -> Result<(), Denial> {
    let granted: Vec<&str> = granted.split_whitespace().collect();
    if granted.contains(&"*") || required.iter().all(|r| granted.contains(&r.as_str())) {
        return Ok(());
    }
    Err(Denial::InsufficientScope {
        required: required.join(" "),
        actual: granted.join(" "),
    })
}

struct Jwks {
    jwks_uri: String,
    issuer: String,
    audience: String,
    keys: ArcSwap<HashMap<String, (Algorithm, DecodingKey)>>,
    /// When the keys were last fetched; held while refetching, so one request fetches.
    fetched_at: tokio::sync::Mutex<Instant>,
    refetch_interval: Duration,
}

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct AccessClaims {
    #[serde(default)]
    scope: String,
    cnf: Option<Confirmation>,
}

/// `cnf` of a DPoP-bound token (RFC 9449 §6).
#[derive(Clone, Deserialize)]
struct Confirmation {
    jkt: String,
}

impl Jwks {
    async fn discover(
        http: &reqwest::Client,
        base: &str,
        audience: String,
        refetch_interval: Duration,
    ) -> anyhow::Result<Self> {
        let url = format!("{base}/.well-known/oauth-authorization-server");
        let metadata: Metadata = get_json(http, &url).await.context("discovery")?;
        let keys = fetch_keys(http, &metadata.jwks_uri).await?;
        Ok(Self {
            jwks_uri: metadata.jwks_uri,
            issuer: metadata.issuer,
            audience,
            keys: ArcSwap::from_pointee(keys),
            fetched_at: tokio::sync::Mutex::new(Instant::now()),
            refetch_interval,
        })
    }

    /// RFC 9068 §4: the checks of an access token; returns its claims.
    async fn verify(&self, http: &reqwest::Client, token: &str) -> Result<AccessClaims, Denial> {
        let header =
            decode_header(token).map_err(|_| Denial::InvalidToken("the token is malformed"))?;
        let typ = header
            .typ
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if typ != "at+jwt" && typ != "application/at+jwt" {
            return Err(Denial::InvalidToken("the token is not an access token"));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or(Denial::InvalidToken("the token names no key"))?;
        let (alg, key) = self.key(http, kid).await?;
        if header.alg != alg {
            return Err(Denial::InvalidToken(
                "the token's algorithm is not its key's",
            ));
        }
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        let data = decode::<AccessClaims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            Denial::InvalidToken(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidAudience => "the token is not for this audience",
                ErrorKind::InvalidIssuer => "the token has another issuer",
                _ => "the token is not valid",
            })
        })?;
        Ok(data.claims)
    }

    async fn key(
        &self,
        http: &reqwest::Client,
        kid: &str,
    ) -> Result<(Algorithm, DecodingKey), Denial> {
        if let Some(found) = self.keys.load().get(kid) {
            return Ok(found.clone());
        }
        let mut fetched_at = self.fetched_at.lock().await;
        // Another request may have refetched while this one waited.
        if let Some(found) = self.keys.load().get(kid) {
            return Ok(found.clone());
        }
        let unknown = Denial::InvalidToken("the token's key is unknown");
        if fetched_at.elapsed() < self.refetch_interval {
            return Err(unknown);
        }
        *fetched_at = Instant::now();
        let keys = fetch_keys(http, &self.jwks_uri).await.map_err(|e| {
            tracing::warn!(error = format!("{e:#}"), "JWKS refetch failed");
            Denial::Unavailable
        })?;
        let found = keys.get(kid).cloned();
        self.keys.store(Arc::new(keys));
        found.ok_or(unknown)
    }
}

/// The usable keys of the JWKS: those with a `kid` and an allowed `alg`.
async fn fetch_keys(
    http: &reqwest::Client,
    url: &str,
) -> anyhow::Result<HashMap<String, (Algorithm, DecodingKey)>> {
    let set: JwkSet = get_json(http, url).await.context("JWKS")?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let alg = match jwk.common.key_algorithm {
            Some(KeyAlgorithm::ES256) => Algorithm::ES256,
            Some(KeyAlgorithm::EdDSA) => Algorithm::EdDSA,
            Some(KeyAlgorithm::RS256) => Algorithm::RS256,
            _ => continue,
        };
        if let (Some(kid), Ok(key)) = (&jwk.common.key_id, DecodingKey::from_jwk(jwk)) {
            keys.insert(kid.clone(), (alg, key));
        }
    }
    Ok(keys)
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> anyhow::Result<T> {
    let response = http.get(url).send().await?.error_for_status()?;
    Ok(response.json().await?)
}

struct Introspector {
    endpoint: String,
    client_id: String,
    client_secret: SecretString,
    /// Keyed by the token's SHA-256, so no token sits in memory longer than its request.
    cache: moka::sync::Cache<[u8; 32], Result<Checked, Denial>>,
}

#[derive(Deserialize)]
struct Introspection {
    active: bool,
    #[serde(default)]
    scope: String,
    scope_sufficient: Option<bool>,
    required: Option<String>,
    actual: Option<String>,
    cnf: Option<Confirmation>,
}

impl Introspector {
    async fn check(
        &self,
        http: &reqwest::Client,
        token: &str,
        required: &[String],
    ) -> Result<Checked, Denial> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let key: [u8; 32] = digest.as_ref().try_into().expect("SHA-256 is 32 bytes");
        if let Some(verdict) = self.cache.get(&key) {
            return verdict;
        }
        let answer = self.ask(http, token, required).await.map_err(|e| {
            tracing::warn!(error = format!("{e:#}"), "introspection failed");
            Denial::Unavailable
        })?;
        let verdict = if !answer.active {
            Err(Denial::InvalidToken("the token is not active"))
        } else {
            let scope = match answer.scope_sufficient {
                Some(true) => Ok(()),
                Some(false) => Err(Denial::InsufficientScope {
                    required: answer.required.unwrap_or_else(|| required.join(" ")),
                    actual: answer.actual.unwrap_or(answer.scope),
                }),
                // A Keyward without the extension: membership, as offline.
                None => require_scope(&answer.scope, required),
            };
            Ok(Checked {
                jkt: answer.cnf.map(|cnf| cnf.jkt),
                scope,
            })
        };
        self.cache.insert(key, verdict.clone());
        verdict
    }

    async fn ask(
        &self,
        http: &reqwest::Client,
        token: &str,
        required: &[String],
    ) -> anyhow::Result<Introspection> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("required_scope", &required.join(" "))
            .finish();
        let response = http
            .post(&self.endpoint)
            .basic_auth(&self.client_id, Some(self.client_secret.expose_secret()))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)
            .send()
            .await?
            .error_for_status()?;
        Ok(response.json().await?)
    }
}

impl ResponseError for Denial {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken(_) | Self::InvalidDpopProof(_) => {
                StatusCode::UNAUTHORIZED
            }
            Self::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let description = self.to_string();
        let (params, body) = match self {
            // RFC 6750 §3.1: no error code when the request carried no token.
            Self::MissingToken => (String::new(), None),
            Self::InvalidToken(_) => (
                format!(r#", error="invalid_token", error_description="{description}""#),
                Some(json!({"error": "invalid_token", "error_description": description})),
            ),
            // RFC 9449 §7.1: the DPoP scheme's challenge, with the algorithms.
            Self::InvalidDpopProof(_) => {
                return HttpResponse::Unauthorized()
                    .insert_header((
                        header::WWW_AUTHENTICATE,
                        format!(
                            r#"DPoP realm="{REALM}", error="invalid_dpop_proof", error_description="{description}", algs="ES256 EdDSA RS256 PS256""#
                        ),
                    ))
                    .json(json!({"error": "invalid_dpop_proof", "error_description": description}))
            }
            Self::InsufficientScope { required, actual } => (
                format!(r#", error="insufficient_scope", scope="{required}""#),
                Some(json!({
                    "error": "insufficient_scope",
                    "error_description": description,
                    "required": required,
                    "actual": actual,
                })),
            ),
            Self::Unavailable => {
                return HttpResponse::ServiceUnavailable().json(json!({
                    "error": "temporarily_unavailable",
                    "error_description": description,
                }))
            }
        };
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((
            header::WWW_AUTHENTICATE,
            format!(r#"Bearer realm="{REALM}"{params}"#),
        ));
        match body {
            Some(body) => response.json(body),
            None => response.finish(),
        }
    }
}
