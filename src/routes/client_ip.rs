//! The address of a request, by the rule of `domain::trusted_proxies`.

use std::borrow::Cow;
use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::domain::{client_ip, TrustedProxies};

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The address of `req` that allowlists are checked against; `None` when
/// it is unknown (no peer address, or a malformed forwarded entry).
pub fn request_client_ip(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    // Bytes that are not UTF-8 make their entry malformed, not the whole header.
    let values: Vec<Cow<'_, str>> = req
        .headers()
        .get_all(X_FORWARDED_FOR)
        .map(|v| String::from_utf8_lossy(v.as_bytes()))
        .collect();
    client_ip(peer, values.iter().map(AsRef::as_ref), trusted)
}
