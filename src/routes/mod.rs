//! HTTP only: extract, call a service, map the result.

pub mod admin;
mod basic_auth;
mod body;
pub mod body_deadline;
mod client_credentials;
mod client_ip;
mod console;
mod dpop;
mod form;
mod health;
pub mod idempotency;
mod introspect;
mod jwks;
mod key_usage;
pub mod metadata;
mod metrics;
mod oauth_form;
pub(crate) mod rate_limit_headers;
pub mod request_id;
mod request_log;
pub mod resource_server;
mod revoke;
pub mod stopping;
mod token;
mod token_request;
mod verify_key;

use actix_web::http::header;
use actix_web::{guard, web, HttpRequest, HttpResponse};

use crate::error::{OAuthError, OAuthErrorCode};

pub use console::{configure as configure_console, ConsoleSite};
pub use metadata::build_metadata;
pub use request_id::RequestId;
pub use request_log::{log_request, RequestSpan};
pub use resource_server::INTROSPECT_SCOPE;

/// Declares every route once: `configure` registers them and `ROUTES` lists
/// them, so the OpenAPI test checks exactly what the server serves. A path
/// lists all its methods, so any other method gets 405 with `Allow`; a GET
/// route answers HEAD too (see `route_of`).
macro_rules! route_table {
    ($($path:literal { $($method:ident => $handler:path),+ $(,)? }),* $(,)?) => {
        /// (method, path) of every route the server registers.
        pub const ROUTES: &[(&str, &str)] = &[$($((stringify!($method), $path)),+),*];

        /// Registers every route; the management API's authenticate first, then
        /// go through `idempotency`.
        pub fn configure(cfg: &mut web::ServiceConfig, idempotency: &idempotency::Idempotency) {
            $(
                let resource = web::resource($path)
                    $(.route(route_of(stringify!($method)).to($handler)))+
                    .default_service(web::to(method_not_allowed));
                if $path.starts_with(ADMIN_PREFIX) {
                    // The last wrap runs first: authentication, then idempotency.
                    cfg.service(
                        resource
                            .wrap(idempotency.for_methods(&[$(stringify!($method)),+]))
                            .wrap(actix_web::middleware::from_fn(admin::auth::authenticate_first)),
                    );
                } else {
                    cfg.service(resource);
                }
            )*
        }
    };
}

const ADMIN_PREFIX: &str = "/admin/";

route_table! {
    "/oauth/token" { post => token::issue_token },
    "/oauth/introspect" { post => introspect::introspect },
    "/oauth/revoke" { post => revoke::revoke },
    "/v1/keys/verify" { post => verify_key::verify_key },
    "/v1/keys/usage" { post => key_usage::report_key_usage },
    "/.well-known/jwks.json" { get => jwks::jwks },
    "/.well-known/oauth-authorization-server" { get => metadata::metadata },
    "/.well-known/openid-configuration" { get => metadata::metadata },
    "/healthz" { get => health::healthz },
    "/readyz" { get => health::readyz },
    "/metrics" { get => metrics::metrics },
    "/admin/v1/orgs" { get => admin::orgs::list, post => admin::orgs::create },
    "/admin/v1/orgs/{org_id}" { get => admin::orgs::get, patch => admin::orgs::update },
    "/admin/v1/orgs/{org_id}/clients" {
        get => admin::clients::list,
        post => admin::clients::create,
    },
    "/admin/v1/orgs/{org_id}/clients/{client_id}" {
        get => admin::clients::get,
        patch => admin::clients::update,
        delete => admin::clients::delete,
    },
    "/admin/v1/orgs/{org_id}/clients/{client_id}/rotate-secret" {
        post => admin::clients::rotate_secret,
    },
    "/admin/v1/orgs/{org_id}/clients/{client_id}/keys" {
        get => admin::client_keys::list,
        post => admin::client_keys::add,
    },
    "/admin/v1/orgs/{org_id}/clients/{client_id}/keys/{kid}" {
        delete => admin::client_keys::remove,
    },
    "/admin/v1/orgs/{org_id}/clients/{client_id}/federated-subjects" {
        get => admin::federation::list_subjects,
        post => admin::federation::add_subject,
    },
    "/admin/v1/orgs/{org_id}/clients/{client_id}/federated-subjects/{subject_id}" {
        delete => admin::federation::remove_subject,
    },
    "/admin/v1/trusted-issuers" {
        get => admin::federation::list_issuers,
        post => admin::federation::add_issuer,
    },
    "/admin/v1/trusted-issuers/{issuer_id}" { delete => admin::federation::remove_issuer },
    "/admin/v1/orgs/{org_id}/clients/{client_id}/deactivate" { post => admin::clients::deactivate },
    "/admin/v1/orgs/{org_id}/clients/{client_id}/activate" { post => admin::clients::activate },
    "/admin/v1/orgs/{org_id}/api-keys" {
        get => admin::api_keys::list,
        post => admin::api_keys::create,
    },
    "/admin/v1/orgs/{org_id}/api-keys/{key_id}" {
        get => admin::api_keys::get,
        patch => admin::api_keys::update,
        delete => admin::api_keys::delete,
    },
    "/admin/v1/orgs/{org_id}/api-keys/{key_id}/deactivate" { post => admin::api_keys::deactivate },
    "/admin/v1/orgs/{org_id}/api-keys/{key_id}/activate" { post => admin::api_keys::activate },
    "/admin/v1/orgs/{org_id}/api-keys/{key_id}/roll" { post => admin::api_keys::roll },
    "/admin/v1/orgs/{org_id}/api-keys/{key_id}/usage" { get => admin::api_keys::usage },
    "/admin/v1/orgs/{org_id}/api-keys/{key_id}/requests" { get => admin::request_log::of_api_key },
    "/admin/v1/orgs/{org_id}/clients/{client_id}/requests" { get => admin::request_log::of_client },
    "/admin/v1/orgs/{org_id}/audit-events" { get => admin::audit_events::list },
    "/admin/v1/orgs/{org_id}/webhook-secret" { post => admin::orgs::rotate_webhook_secret },
    "/admin/v1/orgs/{org_id}/webhook-deliveries" { get => admin::webhooks::list_deliveries },
    "/admin/v1/orgs/{org_id}/email-deliveries" { get => admin::webhooks::list_emails },
}

/// The route of a method of the table. A GET route answers HEAD as well
/// (RFC 9110 §9.3.2): the handler runs as for GET, and actix-http writes
/// the status and headers of a HEAD answer without its body.
fn route_of(method: &str) -> actix_web::Route {
    match method {
        "get" => web::route().guard(guard::Any(guard::Get()).or(guard::Head())),
        "post" => web::post(),
        "patch" => web::patch(),
        "put" => web::put(),
        "delete" => web::delete(),
        other => unreachable!("no route of method {other} in the table"),
    }
}

/// The methods a path answers, for `Allow`: its own, and HEAD with GET.
fn allowed_methods(pattern: &str) -> String {
    let mut allowed = Vec::new();
    for (method, _) in ROUTES.iter().filter(|(_, path)| *path == pattern) {
        allowed.push(method.to_uppercase());
        if *method == "get" {
            allowed.push("HEAD".to_owned());
        }
    }
    allowed.join(", ")
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let allowed = allowed_methods(&req.match_pattern().unwrap_or_default());
    let status = actix_web::http::StatusCode::METHOD_NOT_ALLOWED;
    let detail = format!("method not allowed; use {allowed}");
    let mut response = if req.path().starts_with(ADMIN_PREFIX) {
        let problem = admin::problem::Problem::new(status, "METHOD_NOT_ALLOWED", detail);
        actix_web::ResponseError::error_response(&problem)
    } else {
        actix_web::ResponseError::error_response(
            &OAuthError::invalid_request(detail).with_status(status),
        )
    };
    if let Ok(value) = header::HeaderValue::from_str(&allowed) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// Answers paths we do not serve, in the shape of the API they would be in.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    if req.path().starts_with(ADMIN_PREFIX) {
        return actix_web::ResponseError::error_response(&admin::problem::Problem::not_found());
    }
    actix_web::ResponseError::error_response(
        &OAuthError::new(OAuthErrorCode::InvalidRequest, "no such endpoint")
            .with_status(actix_web::http::StatusCode::NOT_FOUND),
    )
}
