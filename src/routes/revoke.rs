//! `POST /oauth/revoke` (RFC 7009): a client revokes one of its own tokens
//! or, holding `keyward:keys:write`, an API key of its organisation. The
//! client authenticates as at the token endpoint (a secret or a
//! `private_key_jwt` assertion), then passes the same allowlist, status,
//! expiry and plan checks.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::admin::audit;
use super::client_credentials::{presented_proof, single_authorization, BodyCredentials};
use super::client_ip::request_client_ip;
use super::oauth_form::OAuthForm;
use super::token::{auth_error, storage_error, token_error};
use crate::domain::TrustedProxies;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::management::{audit_change as change, Actor, AuditSubject};
use crate::services::audit_writer::AuditWriter;
use crate::services::client_auth::ClientAuthenticator;
use crate::services::revocation::{RevokeError, Revoker};
use crate::services::token_issuer::TokenIssuer;
use crate::time::Clock;

#[allow(
    clippy::too_many_arguments,
    reason = "the extractors are the handler's dependencies, listed"
)]
#[tracing::instrument(name = "revoke", level = "debug", skip_all)]
pub async fn revoke(
    req: HttpRequest,
    payload: web::Payload,
    authenticator: web::Data<ClientAuthenticator>,
    issuer: web::Data<TokenIssuer>,
    revoker: web::Data<Revoker>,
    audit: web::Data<AuditWriter>,
    proxies: web::Data<TrustedProxies>,
    clock: web::Data<dyn Clock>,
) -> Result<HttpResponse, OAuthError> {
    let form = OAuthForm::read(&req, payload).await?;
    let proof = presented_proof(
        single_authorization(&req)?,
        BodyCredentials {
            client_id: form.get("client_id"),
            client_secret: form.get("client_secret"),
            assertion_type: form.get("client_assertion_type"),
            assertion: form.get("client_assertion"),
        },
    )?;
    let at = clock.now();
    let now = at.timestamp();
    let client_ip = request_client_ip(&req, &proxies);
    let authenticated = authenticator
        .authenticate_proof(proof.as_proof(), client_ip, now)
        .await
        .map_err(auth_error)?;
    let client = authenticated.client;
    if let Some(sign_in) = authenticated.federated {
        audit::record_federated_sign_in(&req, &audit, &client, sign_in, at);
    }
    issuer.admit(&client, client_ip, now).map_err(token_error)?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let deactivated = revoker
        .revoke(&client, token, now)
        .await
        .map_err(revoke_error)?;
    if let Some(key) = deactivated {
        let target = AuditSubject {
            org_id: Some(&key.org_id),
            kind: "api_key",
            id: Some(key.id.as_str()),
        };
        let changes = change("status", "active".into(), "deactivated".into());
        let actor = Actor::OrgAdmin {
            org_id: key.org_id.clone(),
            scopes: client.grantable.clone(),
            credential: format!("client:{}", client.credentials.client.id),
        };
        let caller = audit::caller(&req, actor);
        audit::record(&audit, &caller, "api_key.revoked", target, changes, at).await;
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

fn revoke_error(err: RevokeError) -> OAuthError {
    match err {
        RevokeError::TooManyRevocations { retry_after } => {
            let mut error = OAuthError::new(
                OAuthErrorCode::RateLimited,
                format!(
                    "this client has too many revoked tokens that have not expired yet; \
                     the token is not revoked: retry after {retry_after} s, or deactivate \
                     the client to end all its tokens"
                ),
            );
            error.retry_after = Some(retry_after);
            error
        }
        RevokeError::Storage(e) => storage_error(&e),
    }
}
