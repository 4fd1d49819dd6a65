//! Who may check credentials: resource servers. A resource-server client
//! authenticates with Basic or in the body, or sends a Bearer access token
//! with the introspect scope.

use std::net::IpAddr;
use std::sync::Arc;

use super::client_credentials::presented_credentials;
use super::token::{auth_error, storage_error};
use crate::domain::{Client, ClientId, ClientSecret, ScopeSet};
use crate::error::{OAuthError, OAuthErrorCode};
use crate::services::client_auth::ClientAuthenticator;
use crate::services::introspection::Introspector;
use crate::services::Caller;

/// Who the credential-checking endpoints (introspection, key checks) ask
/// about their caller.
pub struct ResourceServers {
    pub authenticator: Arc<ClientAuthenticator>,
    pub introspector: Arc<Introspector>,
}

/// The scope a Bearer caller needs to check credentials.
pub use crate::domain::management_scope::INTROSPECT as INTROSPECT_SCOPE;

/// A resource-server client (Basic or post), or a Bearer access token with
/// the introspect scope issued to one. Either way the client must be a
/// resource server (made by root), active, unexpired and asking from an
/// address its allowlist admits: scopes alone never let a client check
/// other credentials. A failure says nothing about the token asked about.
pub(super) async fn authenticate_caller(
    checkers: &ResourceServers,
    authorization: Option<&[u8]>,
    body_credentials: (Option<&str>, Option<&str>),
    source: Option<IpAddr>,
    now: i64,
) -> Result<Caller, OAuthError> {
    if let Some(bearer) = authorization.and_then(bearer_token) {
        return bearer_caller(checkers, bearer, source, now).await;
    }
    let (id, secret) =
        presented_credentials(authorization, body_credentials.0, body_credentials.1)?;
    let client = checkers
        .authenticator
        .authenticate(&id, &ClientSecret::new(secret), source, now)
        .await
        .map_err(auth_error)?;
    resource_server(&client.credentials.client, source, now).ok_or_else(|| {
        OAuthError::invalid_client("only an active resource-server client may check credentials")
    })
}

fn resource_server(record: &Client, source: Option<IpAddr>, now: i64) -> Option<Caller> {
    let usable = record.resource_server && record.unusable(source, now).is_none();
    usable.then(|| Caller {
        client_id: record.id.clone(),
        audiences: record.audiences.clone(),
    })
}

async fn bearer_caller(
    checkers: &ResourceServers,
    token: &str,
    source: Option<IpAddr>,
    now: i64,
) -> Result<Caller, OAuthError> {
    let invalid = || {
        OAuthError::new(
            OAuthErrorCode::InvalidToken,
            format!("a Bearer caller needs a valid access token with scope {INTROSPECT_SCOPE}"),
        )
    };
    let claims = checkers
        .introspector
        .live_bearer_token(token, now)
        .await
        .map_err(|e| storage_error(&e))?
        .ok_or_else(invalid)?;
    let needed = ScopeSet::from_strs([INTROSPECT_SCOPE]).expect("a valid scope");
    if !checkers
        .introspector
        .check_scope(&claims.scope, &needed)
        .sufficient
    {
        return Err(invalid());
    }
    let client_id = ClientId::parse(&claims.client_id).map_err(|_| invalid())?;
    let client = checkers
        .authenticator
        .client(&client_id)
        .await
        .map_err(|e| storage_error(&e))?
        .ok_or_else(invalid)?;
    resource_server(&client.credentials.client, source, now).ok_or_else(invalid)
}

fn bearer_token(header: &[u8]) -> Option<&str> {
    let header = std::str::from_utf8(header).ok()?;
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
