//! A resource server's side of Keyward: check a Bearer token for one scope,
//! offline with `keyward-guard` or by introspection with a short cache, and
//! answer in RFC 6750 §3 shape. A DPoP-bound token is good only with its
//! proof, which the guard crate checks. Introspection is the example's own
//! until the guard crate covers it. Nothing here logs or echoes a token.

use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use keyward_guard::{Credential, Denial as TokenDenial, DpopBinding, DpopRequest, RequiredScope};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

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

/// Why a request is refused, answered with the example's realm.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct Denial(#[from] TokenDenial);

pub struct Guard {
    required: RequiredScope,
    verifier: Verifier,
    /// DPoP-bound tokens in introspection mode; the JWKS mode's guard has its own.
    binding: DpopBinding,
}

/// What a token's check found: the key it is bound to, if any, and
/// whether its scope is enough.
#[derive(Clone)]
struct Checked {
    jkt: Option<String>,
    scope: Result<(), TokenDenial>,
}

enum Verifier {
    Jwks(keyward_guard::Guard),
    Introspect(Introspector),
}

impl Guard {
    /// Validates the configuration and, in JWKS mode, discovers the issuer and fetches the keys.
    pub async fn connect(config: Config) -> anyhow::Result<Self> {
        let required = RequiredScope::parse(&config.required_scope)?;
        let base = config.keyward_url.trim_end_matches('/').to_owned();
        let verifier = match config.mode {
            Mode::Jwks { refetch_interval } => Verifier::Jwks(
                keyward_guard::Guard::builder(&base, config.audience)
                    .refetch_interval(refetch_interval)
                    .public_url(&config.public_url)
                    .realm(REALM)
                    .connect()
                    .await?,
            ),
            Mode::Introspect {
                client_id,
                client_secret,
                cache_ttl,
            } => {
                // This build of reqwest has no TLS provider of its own: it
                // takes the process's (aws-lc-rs here; any rustls provider would do).
                let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
                Verifier::Introspect(Introspector {
                    http: reqwest::Client::builder()
                        .timeout(Duration::from_secs(5))
                        .build()?,
                    endpoint: format!("{base}/oauth/introspect"),
                    client_id,
                    client_secret,
                    cache: moka::sync::Cache::builder()
                        .max_capacity(10_000)
                        .time_to_live(cache_ttl)
                        .build(),
                })
            }
        };
        Ok(Self {
            required,
            verifier,
            binding: DpopBinding::new(&config.public_url),
        })
    }

    pub async fn authorize(&self, req: &HttpRequest) -> Result<(), Denial> {
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let credential = Credential::find(authorization, None);
        let proofs: Vec<&str> = req
            .headers()
            .get_all("DPoP")
            .map(|v| v.to_str().unwrap_or_default())
            .collect();
        let request = DpopRequest {
            method: req.method().as_str(),
            path: req.path(),
            proofs: &proofs,
        };
        match &self.verifier {
            Verifier::Jwks(guard) => {
                guard
                    .authorize_request(credential, &request, &self.required)
                    .await?;
            }
            Verifier::Introspect(introspector) => {
                let presented = credential.ok_or(TokenDenial::MissingCredential)?;
                let (Credential::AccessToken(token)
                | Credential::DpopToken(token)
                | Credential::ApiKey(token)) = presented;
                // Under the DPoP scheme, every refusal is answered under it.
                let scheme = |denial| match presented {
                    Credential::DpopToken(_) => TokenDenial::under_dpop(denial),
                    _ => denial,
                };
                let checked = introspector
                    .check(token, &self.required)
                    .await
                    .map_err(scheme)?;
                self.binding
                    .check(presented, checked.jkt.as_deref(), &request)?;
                checked.scope.map_err(scheme)?;
            }
        }
        Ok(())
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

struct Introspector {
    http: reqwest::Client,
    endpoint: String,
    client_id: String,
    client_secret: SecretString,
    /// Keyed by the token's SHA-256, so no token sits in memory longer than its request.
    cache: moka::sync::Cache<[u8; 32], Result<Checked, TokenDenial>>,
}

/// `cnf` of a DPoP-bound token (RFC 9449 §6).
#[derive(Deserialize)]
struct Confirmation {
    jkt: String,
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
    async fn check(&self, token: &str, required: &RequiredScope) -> Result<Checked, TokenDenial> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let key: [u8; 32] = digest.as_ref().try_into().expect("SHA-256 is 32 bytes");
        if let Some(verdict) = self.cache.get(&key) {
            return verdict;
        }
        let answer = self.ask(token, required).await.map_err(|e| {
            tracing::warn!(error = format!("{e:#}"), "introspection failed");
            TokenDenial::Unavailable
        })?;
        let verdict = if !answer.active {
            Err(TokenDenial::InvalidToken("the token is not active"))
        } else {
            let scope = match answer.scope_sufficient {
                Some(true) => Ok(()),
                Some(false) => Err(TokenDenial::InsufficientScope {
                    required: answer.required.unwrap_or_else(|| required.to_string()),
                    actual: answer.actual.unwrap_or(answer.scope),
                }),
                // A Keyward without the extension: membership, as offline.
                None => required.check(&answer.scope),
            };
            Ok(Checked {
                jkt: answer.cnf.map(|cnf| cnf.jkt),
                scope,
            })
        };
        self.cache.insert(key, verdict.clone());
        verdict
    }

    async fn ask(&self, token: &str, required: &RequiredScope) -> anyhow::Result<Introspection> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("required_scope", &required.to_string())
            .finish();
        let response = self
            .http
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
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        keyward_guard::actix::answer(&self.0, Some(REALM))
    }
}
