//! HTTP only: extract, call a service, map the result.

mod basic_auth;
mod body;
mod client_credentials;
mod form;
mod health;
pub mod idempotency;
mod introspect;
mod jwks;
mod metadata;
mod oauth_form;
mod resource_server;
mod revoke;
mod token;
mod token_request;
mod verify_key;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::{OAuthError, OAuthErrorCode};

pub use metadata::build_metadata;
pub use resource_server::INTROSPECT_SCOPE;

/// Declares every route once: `configure` registers them and `ROUTES` lists
/// them, so the OpenAPI test checks exactly what the server serves.
macro_rules! route_table {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// (method, path) of every route the server registers.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        pub fn configure(cfg: &mut web::ServiceConfig) {
            $(
                cfg.service(
                    web::resource($path)
                        .route(web::$method().to($handler))
                        .default_service(web::to(method_not_allowed)),
                );
            )*
        }
    };
}

route_table! {
    post "/oauth/token" => token::issue_token,
    post "/oauth/introspect" => introspect::introspect,
    post "/oauth/revoke" => revoke::revoke,
    post "/v1/keys/verify" => verify_key::verify_key,
    get "/.well-known/jwks.json" => jwks::jwks,
    get "/.well-known/oauth-authorization-server" => metadata::metadata,
    get "/healthz" => health::healthz,
    get "/readyz" => health::readyz,
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let allowed = ROUTES
        .iter()
        .filter(|(_, path)| *path == req.path())
        .map(|(method, _)| method.to_uppercase())
        .collect::<Vec<_>>()
        .join(", ");
    let mut response = actix_web::ResponseError::error_response(
        &OAuthError::invalid_request(format!("method not allowed; use {allowed}"))
            .with_status(actix_web::http::StatusCode::METHOD_NOT_ALLOWED),
    );
    if let Ok(value) = header::HeaderValue::from_str(&allowed) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// Answers paths we do not serve.
pub async fn not_found() -> HttpResponse {
    actix_web::ResponseError::error_response(
        &OAuthError::new(OAuthErrorCode::InvalidRequest, "no such endpoint")
            .with_status(actix_web::http::StatusCode::NOT_FOUND),
    )
}

/// A Unix time as RFC 3339, the timestamp format of our JSON APIs.
pub fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
