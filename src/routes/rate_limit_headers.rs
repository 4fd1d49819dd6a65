//! The headers of a response that applied a rate limit: the IETF httpapi
//! draft's `RateLimit-Policy` and `RateLimit`, the widespread
//! `X-RateLimit-*`, and `Retry-After` when refused.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::HttpResponseBuilder;

use crate::services::rate_limit::{Decision, WINDOW_SECONDS};

fn headers(decision: &Decision, now: i64) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        (
            "ratelimit-policy",
            format!("\"default\";q={};w={WINDOW_SECONDS}", decision.limit),
        ),
        (
            "ratelimit",
            format!(
                "\"default\";r={};t={}",
                decision.remaining, decision.reset_seconds
            ),
        ),
        ("x-ratelimit-limit", decision.limit.to_string()),
        ("x-ratelimit-remaining", decision.remaining.to_string()),
        (
            "x-ratelimit-reset",
            (now + decision.reset_seconds as i64).to_string(),
        ),
    ];
    if let Some(retry) = decision.retry_after_seconds {
        headers.push((RETRY_AFTER.as_str(), retry.to_string()));
    }
    headers
}

/// Adds the headers to a response being built.
pub fn add(response: &mut HttpResponseBuilder, decision: &Decision, now: i64) {
    for header in headers(decision, now) {
        response.insert_header(header);
    }
}

/// Adds the headers to a finished response.
pub fn insert(map: &mut HeaderMap, decision: &Decision, now: i64) {
    for (name, value) in headers(decision, now) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            map.insert(HeaderName::from_static(name), value);
        }
    }
}
