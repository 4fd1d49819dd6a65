//! A resource server's side of Keyward: check a Bearer token for one scope
//! with `keyward-guard`, offline or by introspection with a short cache,
//! and answer in RFC 6750 §3 shape. A DPoP-bound token is good only with
//! its proof (see `dpop`, the example's own until the guard crate covers
//! it). Nothing here logs or echoes a token.

use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use keyward_guard::{Denial as TokenDenial, Introspection, RequiredScope};
use secrecy::SecretString;
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
    /// Ask Keyward as a resource-server client; reuse each active answer for `cache_ttl`.
    Introspect {
        client_id: String,
        client_secret: SecretString,
        cache_ttl: Duration,
    },
}

/// Why a request is refused: a token the guard crate refused, or a DPoP
/// proof that does not hold (RFC 9449 §7.1, the DPoP scheme's challenge).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Denial {
    #[error(transparent)]
    Token(#[from] TokenDenial),
    #[error("{0}")]
    InvalidDpopProof(&'static str),
}

pub struct Guard {
    required: RequiredScope,
    tokens: keyward_guard::Guard,
    public_url: String,
    proofs: ProofChecker,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    Dpop,
}

impl Guard {
    /// Validates the configuration and, in JWKS mode, discovers the issuer and fetches the keys.
    pub async fn connect(config: Config) -> anyhow::Result<Self> {
        let required = RequiredScope::parse(&config.required_scope)?;
        let base = config.keyward_url.trim_end_matches('/').to_owned();
        let builder = keyward_guard::Guard::builder(&base, config.audience).realm(REALM);
        let tokens = match config.mode {
            Mode::Jwks { refetch_interval } => builder.refetch_interval(refetch_interval),
            Mode::Introspect {
                client_id,
                client_secret,
                cache_ttl,
            } => builder
                .introspection(Introspection::new(client_id, client_secret).cache_ttl(cache_ttl)),
        }
        .connect()
        .await?;
        Ok(Self {
            required,
            tokens,
            public_url: config.public_url.trim_end_matches('/').to_owned(),
            proofs: ProofChecker::default(),
        })
    }

    pub async fn authorize(&self, req: &HttpRequest) -> Result<(), Denial> {
        let (scheme, token) = presented_token(req).ok_or(TokenDenial::MissingCredential)?;
        let claims = self.tokens.verify_token(token).await?;
        let jkt = claims.cnf.as_ref().map(|cnf| cnf.jkt.as_str());
        self.check_binding(req, scheme, token, jkt)?;
        Ok(self.required.check(&claims.scope)?)
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
                return Err(TokenDenial::InvalidToken(
                    "the token is DPoP-bound: send it with the DPoP scheme and a proof",
                )
                .into())
            }
            (Scheme::Dpop, None) => {
                return Err(TokenDenial::InvalidToken(
                    "the token is not DPoP-bound: send it as a Bearer token",
                )
                .into())
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

/// The token under the Bearer or the DPoP scheme. (`keyward_guard::Credential`
/// reads Bearer tokens and API keys; the DPoP scheme is the example's own.)
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

impl ResponseError for Denial {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Token(denial) => denial.status_code(),
            Self::InvalidDpopProof(_) => StatusCode::UNAUTHORIZED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Token(denial) => keyward_guard::actix::answer(denial, Some(REALM)),
            Self::InvalidDpopProof(description) => HttpResponse::Unauthorized()
                .insert_header((
                    header::WWW_AUTHENTICATE,
                    format!(
                        r#"DPoP realm="{REALM}", error="invalid_dpop_proof", error_description="{description}", algs="ES256 EdDSA RS256 PS256""#
                    ),
                ))
                .json(json!({"error": "invalid_dpop_proof", "error_description": description})),
        }
    }
}
