//! Cross-site request forgery, twice over: a POST that a browser says came
//! from another site is refused here, before any handler; and every form of
//! a signed-in page carries its session's CSRF token (`SignedIn::check`).
//! The session cookie is also `SameSite=Lax`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;

use super::error::ConsoleError;

pub async fn same_origin_posts(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::POST && !same_origin(&req) {
        let refused = ConsoleError::Forbidden("This form was sent from another site.".into());
        return Err(refused.into());
    }
    next.call(req).await
}

/// Whether a POST came from our own pages: its `Origin`, when the browser
/// sends one, names this host, and `Sec-Fetch-Site` does not say
/// cross-site.
fn same_origin(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if text("sec-fetch-site").is_some_and(|site| site == "cross-site" || site == "same-site") {
        return false;
    }
    let Some(origin) = text(header::ORIGIN.as_str()) else {
        return true;
    };
    let host = text(header::HOST.as_str()).unwrap_or_default();
    // `null` (an opaque origin) is not ours either.
    url::Url::parse(origin).is_ok_and(|url| {
        let authority = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return false,
        };
        authority.eq_ignore_ascii_case(host)
    })
}
