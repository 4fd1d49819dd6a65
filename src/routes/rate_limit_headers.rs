//! The headers of a response that applied a rate limit: the IETF httpapi
//! draft's `RateLimit-Policy` and `RateLimit`, the widespread
//! `X-RateLimit-*`, and `Retry-After` when refused.

use actix_web::HttpResponseBuilder;

use crate::services::rate_limit::{Decision, WINDOW_SECONDS};

pub fn add(response: &mut HttpResponseBuilder, decision: &Decision, now: i64) {
    response
        .insert_header((
            "RateLimit-Policy",
            format!("\"default\";q={};w={WINDOW_SECONDS}", decision.limit),
        ))
        .insert_header((
            "RateLimit",
            format!(
                "\"default\";r={};t={}",
                decision.remaining, decision.reset_seconds
            ),
        ))
        .insert_header(("X-RateLimit-Limit", decision.limit.to_string()))
        .insert_header(("X-RateLimit-Remaining", decision.remaining.to_string()))
        .insert_header((
            "X-RateLimit-Reset",
            (now + decision.reset_seconds as i64).to_string(),
        ));
    if let Some(retry) = decision.retry_after_seconds {
        response.insert_header((actix_web::http::header::RETRY_AFTER, retry.to_string()));
    }
}
