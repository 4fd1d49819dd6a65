//! The developer console under `/console`: pages rendered on the server
//! (maud) over the management core, so a change made here is the same
//! change, with the same audit event, as through the API or the CLI. Forms
//! work without JavaScript; `console.js` only copies and confirms.

mod api_keys;
mod assets;
mod audit;
mod client_keys;
mod clients;
mod deliveries;
mod error;
mod form_fields;
mod form_guard;
mod key_requests;
mod layout;
mod members;
mod notifications;
mod operator;
mod org_page;
mod orgs;
mod paging;
mod password;
mod session;
mod sign_in;
mod usage_chart;
mod webhooks;
mod widgets;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

/// Where the console is served: the issuer URL, and from it how its
/// cookies are set.
#[derive(Debug, Clone)]
pub struct ConsoleSite {
    pub issuer: String,
    /// `Secure` and `__Host-`: everywhere but a plain-http loopback issuer.
    pub secure: bool,
}

impl ConsoleSite {
    pub fn for_issuer(issuer: &str) -> Self {
        let loopback_http = url::Url::parse(issuer).is_ok_and(|url| {
            url.scheme() == "http"
                && match url.host() {
                    Some(url::Host::Domain(name)) => name == "localhost",
                    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                    None => false,
                }
        });
        Self {
            issuer: issuer.to_owned(),
            secure: !loopback_http,
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/console")
            .app_data(web::FormConfig::default().error_handler(|err, _| {
                error::ConsoleError::Invalid(format!("The form was not complete: {err}.")).into()
            }))
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                error::ConsoleError::Invalid(format!("The address was not complete: {err}.")).into()
            }))
            .wrap(actix_web::middleware::from_fn(
                form_guard::same_origin_posts,
            ))
            .wrap(actix_web::middleware::from_fn(security_headers))
            .route("", web::get().to(orgs::home))
            .route("/", web::get().to(orgs::home))
            .route("/assets/{name}", web::get().to(assets::serve))
            .route("/sign-in", web::get().to(sign_in::page))
            .route("/sign-in", web::post().to(sign_in::submit))
            .route("/sign-out", web::post().to(sign_in::sign_out))
            .route("/operator", web::get().to(operator::home))
            .route("/operator/sign-in", web::get().to(operator::sign_in_page))
            .route("/operator/sign-in", web::post().to(operator::sign_in))
            .route("/operator/sign-out", web::post().to(operator::sign_out))
            .route("/operator/orgs", web::post().to(operator::create_org))
            .route(
                "/operator/orgs/{org_id}/owners",
                web::post().to(operator::add_owner),
            )
            .route("/password", web::get().to(password::page))
            .route("/password", web::post().to(password::submit))
            .route("/orgs/{org_id}", web::get().to(orgs::overview))
            .route("/orgs/{org_id}/api-keys", web::get().to(api_keys::list))
            .route("/orgs/{org_id}/api-keys", web::post().to(api_keys::create))
            .route(
                "/orgs/{org_id}/api-keys/new",
                web::get().to(api_keys::new_form),
            )
            .route(
                "/orgs/{org_id}/api-keys/{key_id}",
                web::get().to(api_keys::detail),
            )
            .route(
                "/orgs/{org_id}/api-keys/{key_id}/requests",
                web::get().to(key_requests::list),
            )
            .route(
                "/orgs/{org_id}/api-keys/{key_id}/edit",
                web::post().to(api_keys::edit),
            )
            .route(
                "/orgs/{org_id}/api-keys/{key_id}/status",
                web::post().to(api_keys::set_status),
            )
            .route(
                "/orgs/{org_id}/api-keys/{key_id}/roll",
                web::post().to(api_keys::roll),
            )
            .route(
                "/orgs/{org_id}/api-keys/{key_id}/delete",
                web::post().to(api_keys::delete),
            )
            .route("/orgs/{org_id}/clients", web::get().to(clients::list))
            .route("/orgs/{org_id}/clients", web::post().to(clients::create))
            .route(
                "/orgs/{org_id}/clients/new",
                web::get().to(clients::new_form),
            )
            .route(
                "/orgs/{org_id}/clients/{client_id}",
                web::get().to(clients::detail),
            )
            .route(
                "/orgs/{org_id}/clients/{client_id}/edit",
                web::post().to(clients::edit),
            )
            .route(
                "/orgs/{org_id}/clients/{client_id}/keys",
                web::post().to(client_keys::add),
            )
            .route(
                "/orgs/{org_id}/clients/{client_id}/keys/remove",
                web::post().to(client_keys::remove),
            )
            .route(
                "/orgs/{org_id}/clients/{client_id}/auth-method",
                web::post().to(client_keys::set_method),
            )
            .route(
                "/orgs/{org_id}/clients/{client_id}/rotate",
                web::post().to(clients::rotate),
            )
            .route(
                "/orgs/{org_id}/clients/{client_id}/status",
                web::post().to(clients::set_status),
            )
            .route(
                "/orgs/{org_id}/clients/{client_id}/delete",
                web::post().to(clients::delete),
            )
            .route("/orgs/{org_id}/audit", web::get().to(audit::list))
            .route(
                "/orgs/{org_id}/notifications",
                web::get().to(notifications::page),
            )
            .route(
                "/orgs/{org_id}/notifications",
                web::post().to(notifications::set_email),
            )
            .route("/orgs/{org_id}/webhooks", web::get().to(webhooks::page))
            .route("/orgs/{org_id}/webhooks", web::post().to(webhooks::set_url))
            .route(
                "/orgs/{org_id}/webhooks/rotate-secret",
                web::post().to(webhooks::rotate_secret),
            )
            .route("/orgs/{org_id}/members", web::get().to(members::list))
            .route("/orgs/{org_id}/members", web::post().to(members::invite))
            .route(
                "/orgs/{org_id}/members/{user_id}/end-sessions",
                web::post().to(members::end_sessions),
            )
            .route(
                "/orgs/{org_id}/members/{user_id}/role",
                web::post().to(members::set_role),
            )
            .route(
                "/orgs/{org_id}/members/{user_id}/remove",
                web::post().to(members::remove),
            )
            .default_service(web::to(error::not_found)),
    );
}

/// What every console response carries: a policy that runs only our own
/// script and style, in no frame; no referrer to other sites (a password
/// link holds its token in the query), while our own forms keep their
/// `Origin`; pages are not stored (they show secrets once).
async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let is_asset = req.path().starts_with("/console/assets/");
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    let set = |headers: &mut header::HeaderMap, name, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if !is_asset {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::ConsoleSite;

    #[test]
    fn only_a_plain_http_loopback_issuer_gets_cookies_without_secure() {
        for (issuer, secure) in [
            ("http://127.0.0.1:8080", false),
            ("http://localhost:8080", false),
            ("http://[::1]:8080", false),
            ("https://auth.example.com", true),
            ("http://auth.example.com", true),
            ("http://10.0.0.5:8080", true),
        ] {
            assert_eq!(ConsoleSite::for_issuer(issuer).secure, secure, "{issuer}");
        }
    }
}
