//! RFC 7662 introspection: which credential a presented token is, and
//! whether it is active for the resource server that asks.

use std::sync::Arc;

use std::net::IpAddr;

use super::access_tokens::AccessTokenVerifier;
use super::api_keys::{ApiKeyVerifier, CheckedKey};
use super::client_auth::ClientAuthenticator;
use super::revocation_list::RevocationList;
use crate::crypto::jwt::DecodedClaims;
use crate::domain::{ApiKeySecret, Audience, ClientId, ClientStatus, PlanLimits};
use crate::domain::{ScopePolicy, ScopeSet};
use crate::storage::StorageError;

/// The kinds of credential introspection answers for; a token's shape, not
/// the caller's hint, decides (RFC 7662 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    AccessToken,
    ApiKey,
    Unknown,
}

impl CredentialKind {
    pub fn of(token: &str) -> Self {
        if ApiKeySecret::has_key_shape(token) {
            CredentialKind::ApiKey
        } else if token.bytes().filter(|b| *b == b'.').count() == 2 {
            CredentialKind::AccessToken
        } else {
            CredentialKind::Unknown
        }
    }
}

/// Who asks: a resource server and the audiences it serves.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client_id: ClientId,
    pub audiences: Vec<Audience>,
}

#[derive(Debug)]
pub enum Introspection {
    Inactive,
    AccessToken(Arc<DecodedClaims>),
    ApiKey(Arc<CheckedKey>),
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
    keys: Arc<ApiKeyVerifier>,
    revocations: Arc<RevocationList>,
    policy: Arc<ScopePolicy>,
    plans: PlanLimits,
    restrict_audience: bool,
}

impl Introspector {
    pub fn new(
        tokens: Arc<AccessTokenVerifier>,
        clients: Arc<ClientAuthenticator>,
        keys: Arc<ApiKeyVerifier>,
        revocations: Arc<RevocationList>,
        policy: Arc<ScopePolicy>,
        plans: PlanLimits,
        restrict_audience: bool,
    ) -> Self {
        Self {
            tokens,
            clients,
            keys,
            revocations,
            policy,
            plans,
            restrict_audience,
        }
    }

    /// `client_ip` is where the credential was presented, for API keys
    /// with an IP allowlist.
    pub async fn introspect(
        &self,
        caller: &Caller,
        token: &str,
        client_ip: Option<IpAddr>,
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
            // Resource servers belong to the operator: they check the keys of
            // every organisation.
            CredentialKind::ApiKey => Ok(match self.keys.check(token, client_ip, now).await? {
                Ok(key) => Introspection::ApiKey(key),
                Err(_) => Introspection::Inactive,
            }),
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
        let Some(client) = self.clients.client(&client_id).await? else {
            return Ok(None);
        };
        let record = &client.credentials.client;
        let usable = record.status == ClientStatus::Active
            && !record.is_expired(now)
            && self.plans.of(client.credentials.plan).api_access
            && record.org_id.as_str() == claims.org_id;
        Ok(usable.then_some(claims))
    }

    /// A live token that its holder may present as a Bearer token, as
    /// Keyward's own endpoints take them: a DPoP-bound token is refused
    /// there, since they check no proof.
    pub async fn live_bearer_token(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Option<Arc<DecodedClaims>>, StorageError> {
        let claims = self.live_access_token(token, now).await?;
        Ok(claims.filter(|claims| claims.cnf.is_none()))
    }

    /// A granted scope set expanded by our implication rules.
    pub fn expand(&self, granted: &ScopeSet) -> ScopeSet {
        self.policy.expand(granted)
    }

    /// Compares a credential's scope with what a resource server requires,
    /// by our implication rules.
    pub fn check_scope(&self, scope: &str, required: &ScopeSet) -> ScopeCheck {
        let granted = ScopeSet::parse_issued(scope).unwrap_or_default();
        check_granted(&self.policy.expand(&granted), scope, required)
    }
}

/// The same for a scope already expanded, such as a cached key's: `actual`
/// is what the credential was given, as the answer shows it.
pub fn check_granted(expanded: &ScopeSet, actual: &str, required: &ScopeSet) -> ScopeCheck {
    ScopeCheck {
        sufficient: expanded.covers(required),
        required: required.to_string(),
        actual: actual.to_owned(),
    }
}

fn serves_audience(caller: &Caller, claims: &DecodedClaims) -> bool {
    claims
        .aud
        .iter()
        .any(|aud| caller.audiences.iter().any(|a| a.as_str() == aud))
}
