//! A resource server's side of Keyward with `keyward-guard`: a token (Bearer,
//! or DPoP-bound with its proof) checked for one scope, offline or by
//! introspection with a short cache, and refusals in RFC 6750 §3 shape.
//! Nothing here logs or echoes a token.

use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use keyward_guard::{
    Credential, Denial as GuardDenial, Introspection, RequestParts, RequiredScope,
};
use secrecy::SecretString;
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
    /// Ask Keyward as a resource-server client; reuse each active answer for `cache_ttl`.
    Introspect {
        client_id: String,
        client_secret: SecretString,
        cache_ttl: Duration,
    },
}

/// A refusal, answered as the guard crate renders it.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Denial(#[from] GuardDenial);

pub struct Guard {
    required: RequiredScope,
    guard: keyward_guard::Guard,
}

impl Guard {
    /// Discovers Keyward and fetches its keys (JWKS mode), or gets ready to ask it.
    pub async fn connect(config: Config) -> anyhow::Result<Self> {
        let required = RequiredScope::parse(&config.required_scope)?;
        let builder = keyward_guard::Guard::builder(&config.keyward_url, config.audience)
            .public_url(&config.public_url)
            .realm(REALM);
        let guard = match config.mode {
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
        Ok(Self { required, guard })
    }

    pub async fn authorize(&self, req: &HttpRequest) -> Result<(), Denial> {
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let proofs = keyward_guard::actix::dpop_proofs(req.headers());
        let request = RequestParts {
            method: req.method().as_str(),
            path: req.path(),
            proofs: &proofs,
            client_ip: None,
        };
        let credential = Credential::find(authorization, None);
        self.guard
            .authorize_request(credential, &request, &self.required)
            .await?;
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

impl ResponseError for Denial {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::UNAUTHORIZED)
    }

    fn error_response(&self) -> HttpResponse {
        keyward_guard::actix::answer(&self.0, Some(REALM))
    }
}
