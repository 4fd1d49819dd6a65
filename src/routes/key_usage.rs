//! `POST /v1/keys/usage`: a resource server that answered requests from a
//! cached `/v1/keys/verify` verdict (keyward-guard) reports them here, so
//! that each counts once in the key's usage and rate budget.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::body::read_body;
use super::client_credentials::single_authorization;
use super::client_ip::request_client_ip;
use super::resource_server::{authenticate_caller, ResourceServers};
use super::token::storage_error;
use crate::domain::TrustedProxies;
use crate::error::OAuthError;
use crate::services::api_keys::ApiKeyVerifier;
use crate::services::metering::Metering;
use crate::time::Clock;

/// The most uses one report may carry: the highest per-minute limit.
pub const MAX_USES: u32 = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageReport {
    key: String,
    uses: u32,
}

/// 204 whatever became of the key since its verdict (its uses were served
/// all the same); an unknown key has nothing to count.
#[tracing::instrument(name = "key_usage", level = "debug", skip_all)]
pub async fn report_key_usage(
    req: HttpRequest,
    payload: web::Payload,
    checkers: web::Data<ResourceServers>,
    proxies: web::Data<TrustedProxies>,
    api_keys: web::Data<ApiKeyVerifier>,
    metering: web::Data<Metering>,
    clock: web::Data<dyn Clock>,
) -> Result<HttpResponse, OAuthError> {
    let now = clock.unix();
    let source = request_client_ip(&req, &proxies);
    authenticate_caller(
        &checkers,
        single_authorization(&req)?,
        (None, None),
        source,
        now,
    )
    .await?;
    let body = read_body(payload).await?;
    let report: UsageReport = serde_json::from_slice(&body).map_err(|_| {
        OAuthError::invalid_request("the body must be {\"key\": string, \"uses\": integer}")
    })?;
    if !(1..=MAX_USES).contains(&report.uses) {
        return Err(OAuthError::invalid_request(format!(
            "uses must be 1 to {MAX_USES}"
        )));
    }
    let found = api_keys
        .find(&report.key)
        .await
        .map_err(|e| storage_error(&e))?;
    if let Some(key) = found {
        metering.count_reported_uses(&key, report.uses, now).await;
    }
    Ok(HttpResponse::NoContent().finish())
}
