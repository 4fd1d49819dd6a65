//! A tower layer (for axum and other tower servers): a scope per route or
//! group of routes; the verified [`Claims`] go into the request's
//! extensions.
//!
//! ```no_run
//! use axum::routing::get;
//! use axum::{Extension, Json, Router};
//! use keyward_guard::tower::RequireScopeLayer;
//! use keyward_guard::{Claims, Guard};
//!
//! async fn payouts(Extension(claims): Extension<Claims>) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({"client": claims.sub}))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = Guard::builder("https://keyward.example.test", "https://api.example.test")
//!     .realm("payouts")
//!     .connect()
//!     .await?;
//! let app = Router::new()
//!     .route(
//!         "/payouts",
//!         get(payouts).layer(RequireScopeLayer::new(&guard, "payouts:read")?),
//!     )
//!     .nest(
//!         "/admin",
//!         Router::new()
//!             .route("/payouts", get(payouts))
//!             .layer(RequireScopeLayer::new(&guard, "payouts:admin")?),
//!     );
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9090").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{header, Request, Response};
use http_body_util::{Either, Full};
use tower_layer::Layer;
use tower_service::Service;

use crate::credential::header_text;
use crate::render::{render, Rendered};
use crate::{
    Claims, Credential, Denial, Guard, RequestParts, RequiredScope, ScopeError, X_API_KEY,
};

/// Lets a request through only with a credential that grants the scope.
#[derive(Clone)]
pub struct RequireScopeLayer {
    guard: Guard,
    required: Arc<RequiredScope>,
}

impl RequireScopeLayer {
    /// `required` is one or more space-separated scopes, all needed.
    pub fn new(guard: &Guard, required: &str) -> Result<Self, ScopeError> {
        Ok(Self {
            guard: guard.clone(),
            required: Arc::new(RequiredScope::parse(required)?),
        })
    }
}

impl<S> Layer<S> for RequireScopeLayer {
    type Service = RequireScope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScope {
            inner,
            config: self.clone(),
        }
    }
}

/// The service [`RequireScopeLayer`] wraps around a route.
#[derive(Clone)]
pub struct RequireScope<S> {
    inner: S,
    config: RequireScopeLayer,
}

/// The inner service's body, or a refusal's JSON.
pub type GuardedBody<B> = Either<B, Full<Bytes>>;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
{
    type Response = Response<GuardedBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // The clone is not ready; the ready one handles this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let RequireScopeLayer { guard, required } = self.config.clone();
        Box::pin(async move {
            let verdict = {
                let headers = req.headers();
                let header = |name| header_text(headers.get(name)?.as_bytes());
                let credential =
                    Credential::find(header(header::AUTHORIZATION.as_str()), header(X_API_KEY));
                let proofs: Vec<&str> = headers
                    .get_all("dpop")
                    .iter()
                    .map(|v| header_text(v.as_bytes()).unwrap_or_default())
                    .collect();
                let request = RequestParts {
                    method: req.method().as_str(),
                    path: req.uri().path(),
                    proofs: &proofs,
                    client_ip: None,
                };
                guard
                    .authorize_request(credential, &request, &required)
                    .await
            };
            match verdict {
                Ok(claims) => {
                    req.extensions_mut().insert::<Claims>(claims);
                    Ok(inner.call(req).await?.map(Either::Left))
                }
                Err(denial) => Ok(answer(&denial, guard.realm()).map(Either::Right)),
            }
        })
    }
}

/// The RFC 6750 answer to `denial`.
pub fn answer(denial: &Denial, realm: Option<&str>) -> Response<Full<Bytes>> {
    let Rendered {
        status,
        challenge,
        headers,
        json,
    } = render(denial, realm);
    let mut response = Response::builder().status(status);
    if let Some(challenge) = challenge {
        response = response.header(header::WWW_AUTHENTICATE, challenge);
    }
    for (name, value) in headers {
        response = response.header(name, value);
    }
    let body = match json {
        Some(json) => {
            response = response.header(header::CONTENT_TYPE, "application/json");
            json
        }
        None => Vec::new(),
    };
    response
        .body(Full::from(body))
        .expect("a denial renders as a valid response")
}
