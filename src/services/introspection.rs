//! RFC 7662 introspection: which credential a presented token is, and
//! whether it is active for the resource server that asks.

use std::sync::Arc;

use super::access_tokens::AccessTokenVerifier;
use super::client_auth::ClientAuthenticator;
use super::revocation_list::RevocationList;
use crate::crypto::jwt::DecodedClaims;
use crate::domain::{Audience, ClientId, ClientStatus, ScopePolicy, ScopeSet};
use crate::storage::StorageError;

/// The kinds of credential introspection answers for. API keys join as a
/// second kind; a token's shape, not the caller's hint, decides (RFC 7662 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    AccessToken,
    Unknown,
}

impl CredentialKind {
    pub fn of(token: &str) -> Self {
        if token.bytes().filter(|b| *b == b'.').count() == 2 {
            CredentialKind::AccessToken
        } else {
            CredentialKind::Unknown
        }
    }
}

/// Who asks: a resource server and the audiences it serves.
#[derive(Debug, Clone)]
pub struct Caller {
    pub audiences: Vec<Audience>,
}

#[derive(Debug)]
pub enum Introspection {
    Inactive,
    AccessToken(Arc<DecodedClaims>),
}

/// The `required_scope` extension: whether the token's scope covers it.
#[derive(Debug, PartialEq, Eq)]
pub struct ScopeCheck {
    pub sufficient: bool,
    pub required: String,
    pub actual: String,
}

pub struct Introspector {
    tokens: Arc<AccessTokenVerifier>,
    clients: Arc<ClientAuthenticator>,
    revocations: Arc<RevocationList>,
    policy: Arc<ScopePolicy>,
    restrict_audience: bool,
}

impl Introspector {
    pub fn new(
        tokens: Arc<AccessTokenVerifier>,
        clients: Arc<ClientAuthenticator>,
        revocations: Arc<RevocationList>,
        policy: Arc<ScopePolicy>,
        restrict_audience: bool,
    ) -> Self {
        Self {
            tokens,
            clients,
            revocations,
            policy,
            restrict_audience,
        }
    }

    pub async fn introspect(
        &self,
        caller: &Caller,
        token: &str,
        now: i64,
    ) -> Result<Introspection, StorageError> {
        match CredentialKind::of(token) {
            CredentialKind::AccessToken => {
                let Some(claims) = self.live_access_token(token, now).await? else {
                    return Ok(Introspection::Inactive);
                };
                if self.restrict_audience && !serves_audience(caller, &claims) {
                    return Ok(Introspection::Inactive);
                }
                Ok(Introspection::AccessToken(claims))
            }
            CredentialKind::Unknown => Ok(Introspection::Inactive),
        }
    }

    /// An access token that verifies, is not revoked, and whose client is
    /// still active with API access. Every part of this but the signature
    /// is checked on every call.
    pub async fn live_access_token(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Option<Arc<DecodedClaims>>, StorageError> {
        let Some(claims) = self.tokens.verify(token, now) else {
            return Ok(None);
        };
        if self.revocations.is_revoked(&claims.jti, now) {
            return Ok(None);
        }
        let Ok(client_id) = ClientId::parse(&claims.client_id) else {
            return Ok(None);
        };
        let Some(client) = self.clients.client(&client_id, now).await? else {
            return Ok(None);
        };
        let record = &client.credentials.client;
        let usable = record.status == ClientStatus::Active
            && !record.is_expired(now)
            && client.credentials.plan.has_api_access()
            && record.org_id.as_str() == claims.org_id;
        Ok(usable.then_some(claims))
    }

    /// Compares a token's scope with what a resource server requires, by
    /// our implication rules.
    pub fn check_scope(&self, claims: &DecodedClaims, required: &ScopeSet) -> ScopeCheck {
        let granted = ScopeSet::parse(&claims.scope).unwrap_or_default();
        ScopeCheck {
            sufficient: self.policy.expand(&granted).covers(required),
            required: required.to_string(),
            actual: claims.scope.clone(),
        }
    }
}

fn serves_audience(caller: &Caller, claims: &DecodedClaims) -> bool {
    claims
        .aud
        .iter()
        .any(|aud| caller.audiences.iter().any(|a| a.as_str() == aud))
}
