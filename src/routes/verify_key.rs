//! `POST /v1/keys/verify`: an API key check that says why, for resource
//! servers that tell their callers ("API key is deactivated", ...).

use std::net::IpAddr;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::body::read_body;
use super::client_credentials::single_authorization;
use super::client_ip::request_client_ip;
use super::rate_limit_headers;
use super::request_id::RequestId;
use super::resource_server::{authenticate_caller, ResourceServers};
use super::token::storage_error;
use crate::domain::{ScopeSet, TrustedProxies};
use crate::error::OAuthError;
use crate::metrics::Metrics;
use crate::services::api_keys::ApiKeyVerifier;
use crate::services::introspection::check_granted;
use crate::services::metering::Metering;
use crate::services::request_records::{Request, RequestRecorder};
use crate::services::{KeyRejection, KeyVerdict};
use crate::time::Clock;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    key: String,
    required_scope: Option<String>,
    client_ip: Option<IpAddr>,
}

#[derive(Serialize)]
struct Verdict<'a> {
    valid: bool,
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    required: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actual: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ratelimit: Option<RateLimitState>,
}

#[derive(Serialize)]
struct RateLimitState {
    limit: u32,
    remaining: u32,
    /// Unix time at which the whole budget is back.
    reset: i64,
}

impl Verdict<'_> {
    fn invalid(code: &'static str) -> Self {
        Self {
            valid: false,
            code,
            key_id: None,
            org_id: None,
            scopes: None,
            expires_at: None,
            required: None,
            actual: None,
            retry_after: None,
            ratelimit: None,
        }
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "the extractors are the handler's dependencies, listed"
)]
#[tracing::instrument(name = "verify_key", level = "debug", skip_all)]
pub async fn verify_key(
    req: HttpRequest,
    payload: web::Payload,
    checkers: web::Data<ResourceServers>,
    proxies: web::Data<TrustedProxies>,
    api_keys: web::Data<ApiKeyVerifier>,
    metering: web::Data<Metering>,
    requests: web::Data<RequestRecorder>,
    metrics: web::Data<Metrics>,
    clock: web::Data<dyn Clock>,
) -> Result<HttpResponse, OAuthError> {
    let now = clock.unix();
    let source = request_client_ip(&req, &proxies);
    let caller = authenticate_caller(
        &checkers,
        single_authorization(&req)?,
        (None, None),
        source,
        now,
    )
    .await?;
    let body = read_body(payload).await?;
    let request: VerifyRequest = serde_json::from_slice(&body)
        .map_err(|e| OAuthError::invalid_request(format!("the body is not a key check: {e}")))?;
    let required = request
        .required_scope
        .as_deref()
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|e| OAuthError::invalid_request(format!("required_scope: {e}")))?;

    let found = api_keys
        .find(&request.key)
        .await
        .map_err(|e| storage_error(&e))?;
    let Some(key) = found else {
        let verdict = KeyVerdict::Rejected(KeyRejection::NotFound);
        metrics.key_verified(verdict.code());
        return Ok(respond(&Verdict::invalid(verdict.code())));
    };
    let record = &key.credentials.key;
    let scope = record.scopes.to_string();
    let check = required.map(|r| check_granted(&key.granted, &scope, &r));
    let rejection = api_keys.rejection(&key, request.client_ip, now);
    let limited = match rejection {
        None => metering.count_key_check(&key, now).await,
        Some(_) => None,
    };
    let verdict = match (rejection, &check, limited) {
        (Some(reason), _, _) => KeyVerdict::Rejected(reason),
        (None, _, Some(decision)) if !decision.allowed => KeyVerdict::RateLimited,
        (None, Some(c), _) if !c.sufficient => KeyVerdict::InsufficientScope,
        (None, _, _) => KeyVerdict::Valid,
    };
    metrics.key_verified(verdict.code());
    RequestId::with_text(&req, |request_id| {
        requests.record(Request {
            credential: record.id.as_str(),
            org: &record.org_id,
            endpoint: "verify",
            code: verdict.code(),
            resource_server: Some(caller.client_id.as_str()),
            client_ip: request.client_ip.or(source),
            request_id,
        });
    });
    let (required, actual) = match check {
        Some(c) if verdict == KeyVerdict::InsufficientScope => (Some(c.required), Some(c.actual)),
        _ => (None, None),
    };
    // The key verified, so its own details may be told whatever the code.
    let verdict = Verdict {
        valid: verdict == KeyVerdict::Valid,
        code: verdict.code(),
        key_id: Some(record.id.as_str()),
        org_id: Some(record.org_id.as_str()),
        scopes: Some(record.scopes.iter().map(|s| s.as_str()).collect()),
        expires_at: record.expires_at.map(crate::time::rfc3339),
        required,
        actual,
        retry_after: limited.and_then(|d| d.retry_after_seconds),
        ratelimit: limited.map(|d| RateLimitState {
            limit: d.limit,
            remaining: d.remaining,
            reset: now + d.reset_seconds as i64,
        }),
    };
    let mut response = HttpResponse::Ok();
    if let Some(decision) = &limited {
        rate_limit_headers::add(&mut response, decision, now);
    }
    Ok(response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(verdict))
}

fn respond(verdict: &Verdict<'_>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(verdict)
}
