//! The headers of a response that applied a rate limit: the IETF httpapi
//! draft's `RateLimit-Policy` and `RateLimit`, the widespread
//! `X-RateLimit-*`, and `Retry-After` when refused.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::HttpResponseBuilder;

use crate::services::rate_limit::{Decision, WINDOW_SECONDS};

const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

fn text(value: String) -> HeaderValue {
    HeaderValue::try_from(value).expect("digits, quotes, semicolons and equals signs")
}

fn headers(decision: &Decision, now: i64) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = vec![
        (
            POLICY,
            text(format!(
                "\"default\";q={};w={WINDOW_SECONDS}",
                decision.limit
            )),
        ),
        (
            RATELIMIT,
            text(format!(
                "\"default\";r={};t={}",
                decision.remaining, decision.reset_seconds
            )),
        ),
        (LIMIT, HeaderValue::from(decision.limit)),
        (REMAINING, HeaderValue::from(decision.remaining)),
        (
            RESET,
            HeaderValue::from(now + decision.reset_seconds as i64),
        ),
    ];
    if let Some(retry) = decision.retry_after_seconds {
        headers.push((RETRY_AFTER, HeaderValue::from(retry)));
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
        map.insert(name, value);
    }
}
