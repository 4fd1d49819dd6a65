//! `POST /oauth/introspect` (RFC 7662), for resource servers.

use std::net::IpAddr;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::client_credentials::single_authorization;
use super::client_ip::request_client_ip;
use super::oauth_form::OAuthForm;
use super::rate_limit_headers;
use super::request_id::RequestId;
use super::resource_server::{authenticate_caller, ResourceServers};
use super::token::storage_error;
use crate::crypto::jwt::{AudienceClaim, DecodedClaims, DecodedConfirmation};
use crate::domain::{ApiKey, ScopeSet, TrustedProxies};
use crate::error::OAuthError;
use crate::metrics::Metrics;
use crate::services::introspection::{check_granted, ScopeCheck};
use crate::services::metering::Metering;
use crate::services::rate_limit::Decision;
use crate::services::request_records::{Request, RequestRecorder};
use crate::services::{Introspection, KeyVerdict};
use crate::time::Clock;

#[derive(Serialize)]
struct Active<'a> {
    active: bool,
    scope: &'a str,
    client_id: &'a str,
    sub: &'a str,
    aud: AudienceClaim<'a>,
    iss: &'a str,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: &'a str,
    token_type: &'static str,
    org_id: &'a str,
    /// The key a DPoP token is bound to (RFC 9449 §6.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<&'a DecodedConfirmation>,
    #[serde(flatten)]
    scope_check: ScopeVerdict,
}

#[derive(Serialize)]
struct ActiveApiKey<'a> {
    active: bool,
    scope: String,
    /// The key id.
    client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    iat: i64,
    token_type: &'static str,
    org_id: &'a str,
    #[serde(flatten)]
    scope_check: ScopeVerdict,
    /// Extension: the key is over its rate (RFC 7662 has no limited state).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    rate_limited: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

/// The `required_scope` extension's fields: `scope_sufficient` when asked,
/// and `required` and `actual` when it is false.
#[derive(Serialize, Default)]
struct ScopeVerdict {
    #[serde(skip_serializing_if = "Option::is_none")]
    scope_sufficient: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    required: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actual: Option<String>,
}

impl From<Option<ScopeCheck>> for ScopeVerdict {
    fn from(check: Option<ScopeCheck>) -> Self {
        match check {
            None => Self::default(),
            Some(c) if c.sufficient => Self {
                scope_sufficient: Some(true),
                ..Self::default()
            },
            Some(c) => Self {
                scope_sufficient: Some(false),
                required: Some(c.required),
                actual: Some(c.actual),
            },
        }
    }
}

#[tracing::instrument(name = "introspect", level = "debug", skip_all)]
#[allow(clippy::too_many_arguments)] // each is a service the handler uses
pub async fn introspect(
    req: HttpRequest,
    payload: web::Payload,
    checkers: web::Data<ResourceServers>,
    proxies: web::Data<TrustedProxies>,
    metering: web::Data<Metering>,
    requests: web::Data<RequestRecorder>,
    metrics: web::Data<Metrics>,
    clock: web::Data<dyn Clock>,
) -> Result<HttpResponse, OAuthError> {
    let form = OAuthForm::read(&req, payload).await?;
    let now = clock.unix();
    let source = request_client_ip(&req, &proxies);
    let caller = authenticate_caller(
        &checkers,
        single_authorization(&req)?,
        (form.get("client_id"), form.get("client_secret")),
        source,
        now,
    )
    .await?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let required = form
        .get("required_scope")
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|e| OAuthError::invalid_request(format!("required_scope: {e}")))?;
    // An extension for API keys with an IP allowlist: where the key was used.
    let client_ip = form
        .get("client_ip")
        .map(|ip| ip.parse::<IpAddr>())
        .transpose()
        .map_err(|_| OAuthError::invalid_request("client_ip must be an IPv4 or IPv6 address"))?;
    let result = checkers
        .introspector
        .introspect(&caller, token, client_ip, now)
        .await
        .map_err(|e| storage_error(&e))?;
    metrics.introspected(!matches!(result, Introspection::Inactive));
    let response = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .take();
    Ok(match result {
        Introspection::Inactive => inactive(response),
        Introspection::AccessToken(claims) => {
            let check = required.map(|r| checkers.introspector.check_scope(&claims.scope, &r));
            active(response, &claims, check)
        }
        Introspection::ApiKey(key) => {
            let record = &key.credentials.key;
            let scope = record.scopes.to_string();
            let check = required.map(|r| check_granted(&key.granted, &scope, &r));
            let decision = metering.count_key_check(&key, now).await;
            RequestId::with_text(&req, |request_id| {
                requests.record(Request {
                    credential: record.id.as_str(),
                    org: &record.org_id,
                    endpoint: "introspect",
                    code: introspection_code(decision.as_ref(), check.as_ref()),
                    resource_server: Some(caller.client_id.as_str()),
                    client_ip: client_ip.or(source),
                    request_id,
                });
            });
            let mut response = response;
            if let Some(decision) = &decision {
                rate_limit_headers::add(&mut response, decision, now);
            }
            active_api_key(response, record, scope, check, decision.as_ref())
        }
    })
}

/// An active key's introspection in the key check's codes.
fn introspection_code(decision: Option<&Decision>, check: Option<&ScopeCheck>) -> &'static str {
    let verdict = if decision.is_some_and(|d| !d.allowed) {
        KeyVerdict::RateLimited
    } else if check.is_some_and(|c| !c.sufficient) {
        KeyVerdict::InsufficientScope
    } else {
        KeyVerdict::Valid
    };
    verdict.code()
}

fn inactive(mut response: actix_web::HttpResponseBuilder) -> HttpResponse {
    response
        .content_type("application/json")
        .body(r#"{"active":false}"#)
}

fn active(
    mut response: actix_web::HttpResponseBuilder,
    claims: &DecodedClaims,
    check: Option<ScopeCheck>,
) -> HttpResponse {
    let aud = match claims.aud.as_slice() {
        [one] => AudienceClaim::One(one),
        many => AudienceClaim::Many(many.iter().map(String::as_str).collect()),
    };
    response.json(Active {
        active: true,
        scope: &claims.scope,
        client_id: &claims.client_id,
        sub: &claims.sub,
        aud,
        iss: &claims.iss,
        exp: claims.exp,
        iat: claims.iat,
        nbf: claims.nbf,
        jti: &claims.jti,
        token_type: if claims.cnf.is_some() {
            "DPoP"
        } else {
            "Bearer"
        },
        org_id: &claims.org_id,
        cnf: claims.cnf.as_ref(),
        scope_check: check.into(),
    })
}

fn active_api_key(
    mut response: actix_web::HttpResponseBuilder,
    key: &ApiKey,
    scope: String,
    check: Option<ScopeCheck>,
    decision: Option<&Decision>,
) -> HttpResponse {
    response.json(ActiveApiKey {
        active: true,
        scope,
        client_id: key.id.as_str(),
        exp: key.expires_at,
        iat: key.created_at,
        token_type: "api_key",
        org_id: key.org_id.as_str(),
        scope_check: check.into(),
        rate_limited: decision.is_some_and(|d| !d.allowed),
        retry_after: decision.and_then(|d| d.retry_after_seconds),
    })
}
