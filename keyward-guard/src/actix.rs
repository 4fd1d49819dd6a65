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
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use futures_util::future::LocalBoxFuture;

use crate::{Claims, Credential, Denial, DpopRequest, Guard, RequiredScope, ScopeError, X_API_KEY};

/// Lets a request through only with a credential that grants the scope.
#[derive(Clone)]
pub struct RequireScope {
    guard: Guard,
    required: Arc<RequiredScope>,
}

impl RequireScope {
    /// `required` is one or more space-separated scopes, all needed.
    pub fn new(guard: &Guard, required: &str) -> Result<Self, ScopeError> {
        Ok(Self {
            guard: guard.clone(),
            required: Arc::new(RequiredScope::parse(required)?),
        })
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
        let RequireScope { guard, required } = self.config.clone();
        Box::pin(async move {
            let verdict = {
                let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
                let credential =
                    Credential::find(header(header::AUTHORIZATION.as_str()), header(X_API_KEY));
                let proofs: Vec<&str> = req
                    .headers()
                    .get_all("dpop")
                    .map(|v| v.to_str().unwrap_or_default())
                    .collect();
                let request = DpopRequest {
                    method: req.method().as_str(),
                    path: req.path(),
                    proofs: &proofs,
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

/// The RFC 6750 answer to `denial`.
pub fn answer(denial: &Denial, realm: Option<&str>) -> HttpResponse {
    let status = StatusCode::from_u16(denial.status()).expect("a denial's status is valid");
    let mut response = HttpResponse::build(status);
    if let Some(challenge) = denial.challenge(realm) {
        response.insert_header((header::WWW_AUTHENTICATE, challenge));
    }
    match denial.body() {
        Some(body) => response.json(body),
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
