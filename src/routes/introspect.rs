//! `POST /oauth/introspect` (RFC 7662), for resource servers.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::client_credentials::{presented_credentials, single_authorization};
use super::oauth_form::OAuthForm;
use super::token::{auth_error, storage_error};
use crate::crypto::jwt::{AudienceClaim, DecodedClaims};
use crate::domain::{ClientId, ClientSecret, ClientStatus, ScopeSet};
use crate::error::{OAuthError, OAuthErrorCode};
use crate::services::introspection::ScopeCheck;
use crate::services::{Caller, Introspection};
use crate::startup::AppState;

/// The scope a Bearer caller needs to introspect.
pub const INTROSPECT_SCOPE: &str = "keyward:introspect";

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
    #[serde(skip_serializing_if = "Option::is_none")]
    scope_sufficient: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    required: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actual: Option<String>,
}

#[tracing::instrument(name = "introspect", skip_all)]
pub async fn introspect(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let form = OAuthForm::read(&req, payload).await?;
    let now = chrono::Utc::now().timestamp();
    let caller = authenticate_caller(&state, single_authorization(&req)?, &form, now).await?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let required = form
        .get("required_scope")
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|e| OAuthError::invalid_request(format!("required_scope: {e}")))?;
    let result = state
        .introspector
        .introspect(&caller, token, now)
        .await
        .map_err(|e| storage_error(&e))?;
    let response = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .take();
    Ok(match result {
        Introspection::Inactive => inactive(response),
        Introspection::AccessToken(claims) => {
            let check = required.map(|r| state.introspector.check_scope(&claims, &r));
            active(response, &claims, check)
        }
    })
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
    let sufficient = check.as_ref().map(|c| c.sufficient);
    let (required, actual) = match check {
        Some(c) if !c.sufficient => (Some(c.required), Some(c.actual)),
        _ => (None, None),
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
        token_type: "Bearer",
        org_id: &claims.org_id,
        scope_sufficient: sufficient,
        required,
        actual,
    })
}

/// A resource-server client (Basic or post), or a Bearer access token with
/// the introspect scope. A failure says nothing about the token asked about.
async fn authenticate_caller(
    state: &AppState,
    authorization: Option<&[u8]>,
    form: &OAuthForm,
    now: i64,
) -> Result<Caller, OAuthError> {
    if let Some(bearer) = authorization.and_then(bearer_token) {
        return bearer_caller(state, bearer, now).await;
    }
    let (id, secret) = presented_credentials(
        authorization,
        form.get("client_id"),
        form.get("client_secret"),
    )?;
    let client = state
        .authenticator
        .authenticate(&id, &ClientSecret::new(secret), now)
        .await
        .map_err(auth_error)?;
    let record = &client.credentials.client;
    if !record.resource_server || record.status != ClientStatus::Active || record.is_expired(now) {
        return Err(OAuthError::invalid_client(
            "only an active resource-server client may introspect",
        ));
    }
    Ok(Caller {
        audiences: record.audiences.clone(),
    })
}

async fn bearer_caller(state: &AppState, token: &str, now: i64) -> Result<Caller, OAuthError> {
    let invalid = || {
        OAuthError::new(
            OAuthErrorCode::InvalidToken,
            format!("a Bearer caller needs a valid access token with scope {INTROSPECT_SCOPE}"),
        )
    };
    let claims = state
        .introspector
        .live_access_token(token, now)
        .await
        .map_err(|e| storage_error(&e))?
        .ok_or_else(invalid)?;
    let needed = ScopeSet::from_strs([INTROSPECT_SCOPE]).expect("a valid scope");
    if !state.introspector.check_scope(&claims, &needed).sufficient {
        return Err(invalid());
    }
    let client_id = ClientId::parse(&claims.client_id).map_err(|_| invalid())?;
    let client = state
        .authenticator
        .client(&client_id, now)
        .await
        .map_err(|e| storage_error(&e))?
        .ok_or_else(invalid)?;
    Ok(Caller {
        audiences: client.credentials.client.audiences.clone(),
    })
}

fn bearer_token(header: &[u8]) -> Option<&str> {
    let header = std::str::from_utf8(header).ok()?;
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
