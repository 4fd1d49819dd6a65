//! actix-web middleware: a scope per route or scope of routes; the
//! verified [`Claims`] go into the request's extensions. DPoP-bound
//! tokens pass with their proofs ([`Guard::authorize_request`]).
//!
//! ```no_run
//! use actix_web::{web, App, HttpResponse, HttpServer};
//! use keyward_guard::actix::RequireScope;
//! use keyward_guard::{Claims, Guard};
//!
//! async fn payouts(claims: web::ReqData<Claims>) -> HttpResponse {
//!     HttpResponse::Ok().json(serde_json::json!({"client": claims.sub}))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = Guard::builder("https://keyward.example.test", "https://api.example.test")
//!     .realm("payouts")
//!     .connect()
//!     .await?;
//! HttpServer::new(move || {
//!     App::new()
//!         .service(
//!             web::resource("/payouts")
//!                 .wrap(RequireScope::new(&guard, "payouts:read").unwrap())
//!                 .route(web::get().to(payouts)),
//!         )
//!         .service(
//!             web::scope("/admin")
//!                 .wrap(RequireScope::new(&guard, "payouts:admin").unwrap())
//!                 .route("/payouts", web::delete().to(HttpResponse::NoContent)),
//!         )
//! })
//! .bind("127.0.0.1:9090")?
//! .run()
//! .await?;
//! # Ok(())
//! # }
//! ```

use std::future::{ready, Ready};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use futures_util::future::LocalBoxFuture;

use crate::credential::header_text;
use crate::render::render;
use crate::{
    Claims, Credential, Denial, Guard, RequestParts, RequiredScope, ScopeError, X_API_KEY,
};

/// Lets a request through only with a credential that grants the scope.
#[derive(Clone)]
pub struct RequireScope {
    guard: Guard,
    required: Arc<RequiredScope>,
    client_ip: ClientIp,
}

/// Which address an API key check tells Keyward the key came from (for
/// keys with an IP allowlist); the operator's choice, as only they know
/// what is in front of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientIp {
    /// None: keys with an allowlist are refused.
    #[default]
    Unsent,
    /// The TCP peer: the right one with no proxy in front.
    PeerAddr,
    /// actix's `realip_remote_addr`: `Forwarded` or `X-Forwarded-For`, else
    /// the peer. Only behind a proxy that sets them, since callers can too.
    RealIp,
}

impl RequireScope {
    /// `required` is one or more space-separated scopes, all needed.
    pub fn new(guard: &Guard, required: &str) -> Result<Self, ScopeError> {
        Ok(Self {
            guard: guard.clone(),
            required: Arc::new(RequiredScope::parse(required)?),
            client_ip: ClientIp::default(),
        })
    }

    /// Sends the caller's address with API key checks; see [`ClientIp`].
    pub fn client_ip(mut self, source: ClientIp) -> Self {
        self.client_ip = source;
        self
    }
}

fn client_ip(req: &ServiceRequest, source: ClientIp) -> Option<IpAddr> {
    match source {
        ClientIp::Unsent => None,
        ClientIp::PeerAddr => req.peer_addr().map(|a| a.ip()),
        ClientIp::RealIp => {
            let info = req.connection_info();
            let address = info.realip_remote_addr()?;
            address
                .parse::<IpAddr>()
                .or_else(|_| address.parse::<SocketAddr>().map(|a| a.ip()))
                .ok()
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequireScope
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = RequireScopeMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireScopeMiddleware {
            service: Rc::new(service),
            config: self.clone(),
        }))
    }
}

pub struct RequireScopeMiddleware<S> {
    service: Rc<S>,
    config: RequireScope,
}

impl<S, B> Service<ServiceRequest> for RequireScopeMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let RequireScope {
            guard,
            required,
            client_ip: ip_source,
        } = self.config.clone();
        Box::pin(async move {
            let verdict = {
                let header = |name| header_text(req.headers().get(name)?.as_bytes());
                let credential =
                    Credential::find(header(header::AUTHORIZATION.as_str()), header(X_API_KEY));
                let proofs = dpop_proofs(req.headers());
                let request = RequestParts {
                    method: req.method().as_str(),
                    path: req.path(),
                    proofs: &proofs,
                    client_ip: client_ip(&req, ip_source),
                };
                guard
                    .authorize_request(credential, &request, &required)
                    .await
            };
            match verdict {
                Ok(claims) => {
                    req.extensions_mut().insert::<Claims>(claims);
                    Ok(service.call(req).await?.map_into_left_body())
                }
                Err(denial) => {
                    let response = answer(&denial, guard.realm());
                    Ok(req.into_response(response).map_into_right_body())
                }
            }
        })
    }
}

/// Every `DPoP` header value of a request, for [`RequestParts::proofs`].
pub fn dpop_proofs(headers: &header::HeaderMap) -> Vec<&str> {
    headers
        .get_all("dpop")
        .map(|v| header_text(v.as_bytes()).unwrap_or_default())
        .collect()
}

/// The RFC 6750 answer to `denial`.
pub fn answer(denial: &Denial, realm: Option<&str>) -> HttpResponse {
    let rendered = render(denial, realm);
    let status = StatusCode::from_u16(rendered.status).expect("a denial's status is valid");
    let mut response = HttpResponse::build(status);
    if let Some(challenge) = rendered.challenge {
        response.insert_header((header::WWW_AUTHENTICATE, challenge));
    }
    for (name, value) in &rendered.headers {
        response.insert_header((name.as_str(), value.as_str()));
    }
    match rendered.json {
        Some(json) => response
            .content_type(header::ContentType::json())
            .body(json),
        None => response.finish(),
    }
}

/// Lets a handler return `Result<_, Denial>`; the challenge has no realm.
impl ResponseError for Denial {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).expect("a denial's status is valid")
    }

    fn error_response(&self) -> HttpResponse {
        answer(self, None)
    }
}
