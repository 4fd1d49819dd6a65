use std::net::IpAddr;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::admin::audit;
use super::body::read_body;
use super::client_credentials::single_authorization;
use super::client_ip::request_client_ip;
use super::dpop;
use super::rate_limit_headers;
use super::request_id::RequestId;
use super::token_request::parse_token_request;
use crate::domain::TrustedProxies;
use crate::error::{OAuthError, OAuthErrorCode, DPOP_NONCE};
use crate::services::audit_writer::AuditWriter;
use crate::services::dpop::{DpopProofs, DpopRefusal, UnverifiedProof};
use crate::services::metering::Metering;
use crate::services::rate_limit::Decision;
use crate::services::request_records::{Request, RequestRecorder};
use crate::services::token_issuer::Binding;
use crate::services::{
    Authenticated, AuthenticatedClient, ClientAuthError, ClientAuthenticator, TokenError,
    TokenIssuer, TokenRequest,
};
use crate::storage::StorageError;
use crate::time::Clock;

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    scope: &'a str,
}

/// `POST /oauth/token`: the client-credentials grant, with a DPoP proof
/// for a token bound to the client's key.
#[tracing::instrument(name = "token", level = "debug", skip_all)]
#[allow(clippy::too_many_arguments)] // each is a service the handler uses
pub async fn issue_token(
    req: HttpRequest,
    payload: web::Payload,
    proxies: web::Data<TrustedProxies>,
    authenticator: web::Data<ClientAuthenticator>,
    issuer: web::Data<TokenIssuer>,
    proofs: web::Data<DpopProofs>,
    metering: web::Data<Metering>,
    requests: web::Data<RequestRecorder>,
    audit: web::Data<AuditWriter>,
    clock: web::Data<dyn Clock>,
) -> Result<HttpResponse, OAuthError> {
    let body = read_body(payload).await?;
    let authorization = single_authorization(&req)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let presented = parse_token_request(content_type, authorization, &body)?;

    let now = clock.unix();
    let dpop = dpop::checked_proof(&req, &proofs, now)?;
    let client_ip = request_client_ip(&req, &proxies);
    let authenticated = authenticator
        .authenticate_proof(presented.proof.as_proof(), client_ip, now)
        .await
        .map_err(auth_error);
    let authenticated = match presented.jwt_bearer {
        true => as_grant(authenticated)?,
        false => authenticated?,
    };
    let client = authenticated.client;
    if let Some(sign_in) = authenticated.federated {
        audit::record_federated_sign_in(&req, &audit, &client, sign_in, clock.now());
    }
    // The client is known from here on: what becomes of its request is on record.
    let outcome = grant(
        Grant {
            client: &client,
            request: &presented.request,
            dpop,
            client_ip,
            now,
        },
        &metering,
        &proofs,
        &issuer,
    )
    .await;
    RequestId::with_text(&req, |request_id| {
        requests.record(Request {
            credential: client.credentials.client.id.as_str(),
            org: &client.credentials.client.org_id,
            endpoint: "token",
            code: token_code(&outcome),
            resource_server: None,
            client_ip,
            request_id,
        });
    });
    outcome
}

/// A token request whose client has authenticated.
struct Grant<'a> {
    client: &'a AuthenticatedClient,
    request: &'a TokenRequest,
    dpop: Option<UnverifiedProof<'a>>,
    client_ip: Option<IpAddr>,
    now: i64,
}

/// The DPoP proof's signature, the client's rate, the proof's first use
/// and the token itself. The signature is checked only now: a caller who
/// cannot authenticate costs no signature check by sending a proof.
async fn grant(
    grant: Grant<'_>,
    metering: &Metering,
    proofs: &DpopProofs,
    issuer: &TokenIssuer,
) -> Result<HttpResponse, OAuthError> {
    let Grant {
        client,
        request,
        dpop,
        client_ip,
        now,
    } = grant;
    let dpop = dpop
        .map(UnverifiedProof::verify)
        .transpose()
        .map_err(|refusal| dpop::refused(refusal, proofs, now))?;
    if dpop.is_none() && client.credentials.client.dpop_bound_access_tokens {
        return Err(dpop::refused(DpopRefusal::Required, proofs, now));
    }
    let client_id = client.credentials.client.id.as_str();
    let per_minute = client.rate_limit.per_minute;
    let limited = metering.admit(client_id, per_minute, now).await;
    if let Some(decision) = limited.filter(|d| !d.allowed) {
        return Ok(rate_limited(&decision, now));
    }
    let binding = match &dpop {
        None => Binding::Bearer,
        Some(proof) => {
            let first = proofs
                .first_use(proof)
                .await
                .map_err(|e| storage_error(&e))?;
            if !first {
                return Err(dpop::refused(DpopRefusal::Replayed, proofs, now));
            }
            Binding::Dpop { jkt: &proof.jkt }
        }
    };
    let issued = issuer
        .issue(client, request, binding, client_ip, now)
        .map_err(token_error)?;
    metering.served(client_id, now);
    let mut response = HttpResponse::Ok();
    if let Some(decision) = &limited {
        rate_limit_headers::add(&mut response, decision, now);
    }
    if let Some(nonce) = proofs.nonce(now) {
        response.insert_header((DPOP_NONCE, nonce));
    }
    Ok(response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token: &issued.access_token,
            token_type: match binding {
                Binding::Bearer => "Bearer",
                Binding::Dpop { .. } => "DPoP",
            },
            expires_in: issued.expires_in,
            scope: &issued.scope,
        }))
}

/// `ISSUED`, or the OAuth error of a refusal.
fn token_code(outcome: &Result<HttpResponse, OAuthError>) -> &'static str {
    match outcome {
        Ok(response) if response.status().is_success() => "ISSUED",
        Ok(_) => OAuthErrorCode::RateLimited.as_str(),
        Err(error) => error.code.as_str(),
    }
}

/// The outcome of a JWT-bearer grant (RFC 7523 §2.1): it must be a
/// platform token's sign-in; a refused assertion is `invalid_grant`, 400,
/// with the same description (§3.1); any other failure keeps its code.
fn as_grant(authenticated: Result<Authenticated, OAuthError>) -> Result<Authenticated, OAuthError> {
    let grant_refused = |description| OAuthError::new(OAuthErrorCode::InvalidGrant, description);
    match authenticated {
        Ok(signed_in) if signed_in.federated.is_some() => Ok(signed_in),
        Ok(_) => Err(grant_refused(
            "the jwt-bearer grant takes a platform token of a trusted issuer".into(),
        )),
        Err(error) if error.code == OAuthErrorCode::InvalidClient => {
            Err(grant_refused(error.description))
        }
        Err(error) => Err(error),
    }
}

/// 429 in RFC 6749 §5.2 shape, with the rate-limit headers.
fn rate_limited(decision: &Decision, now: i64) -> HttpResponse {
    let mut response = HttpResponse::TooManyRequests();
    rate_limit_headers::add(&mut response, decision, now);
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "error": "rate_limited",
            "error_description": format!(
                "this client may request {} tokens a minute; retry after {} s",
                decision.limit,
                decision.retry_after_seconds.unwrap_or(1)
            ),
        }))
}

pub(super) fn auth_error(err: ClientAuthError) -> OAuthError {
    match err {
        ClientAuthError::BadCredentials => {
            OAuthError::invalid_client("client authentication failed")
        }
        ClientAuthError::TooManyFailures { retry_after } => {
            let mut error = OAuthError::new(
                OAuthErrorCode::RateLimited,
                format!("too many failed authentications; retry after {retry_after} s"),
            );
            error.retry_after = Some(retry_after);
            error
        }
        ClientAuthError::BadAssertion(_) | ClientAuthError::MethodNotAllowed { .. } => {
            OAuthError::invalid_client(err.to_string())
        }
        ClientAuthError::Storage(e) => storage_error(&e),
    }
}

pub(super) fn storage_error(err: &StorageError) -> OAuthError {
    match err {
        StorageError::Unavailable(_) => OAuthError::unavailable(err),
        _ => {
            tracing::error!(error = %crate::error::error_chain(err), "storage failed");
            OAuthError::new(OAuthErrorCode::ServerError, "internal error")
        }
    }
}

pub(super) fn token_error(err: TokenError) -> OAuthError {
    let code = match err {
        TokenError::IpNotAllowed | TokenError::Deactivated | TokenError::Expired => {
            OAuthErrorCode::InvalidClient
        }
        TokenError::NoApiAccess => OAuthErrorCode::UnauthorizedClient,
        TokenError::ScopeNotAllowed(_) | TokenError::NoScope => OAuthErrorCode::InvalidScope,
        TokenError::AudienceNotAllowed(_) => OAuthErrorCode::InvalidTarget,
    };
    OAuthError::new(code, err.to_string())
}
