//! Client-credentials grant (RFC 6749 §4.4) producing RFC 9068 access tokens.

use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::client_auth::AuthenticatedClient;
use crate::crypto::jwt::{encode_access_token, AccessTokenClaims, AudienceClaim, Confirmation};
use crate::crypto::keyring::KeySet;
use crate::domain::{Audience, PlanLimits, ScopePolicy, ScopeSet, Unusable};
use crate::metrics::Counters;

/// What the caller asked for, already parsed.
#[derive(Debug, Default)]
pub struct TokenRequest {
    pub scope: Option<ScopeSet>,
    pub audiences: Vec<Audience>,
}

/// How the token may be used: by whoever holds it, or only with a DPoP
/// proof of the key whose thumbprint it carries.
#[derive(Debug, Clone, Copy)]
pub enum Binding<'a> {
    Bearer,
    Dpop { jkt: &'a str },
}

#[derive(Debug)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("IP address not allowed")]
    IpNotAllowed,
    #[error("the client is deactivated")]
    Deactivated,
    #[error("the client has expired")]
    Expired,
    #[error("the client's organisation has no API access on its plan")]
    NoApiAccess,
    #[error("scope not allowed for this client: {0}")]
    ScopeNotAllowed(String),
    #[error("the client has no scope to grant")]
    NoScope,
    #[error("audience not allowed for this client: {0}")]
    AudienceNotAllowed(String),
}

pub struct TokenIssuer {
    keys: Arc<ArcSwap<KeySet>>,
    issuer: String,
    ttl_seconds: i64,
    default_audience: Audience,
    policy: Arc<ScopePolicy>,
    plans: PlanLimits,
    counters: Arc<Counters>,
}

impl TokenIssuer {
    pub fn new(
        keys: Arc<ArcSwap<KeySet>>,
        issuer: String,
        ttl_seconds: i64,
        default_audience: Audience,
        policy: Arc<ScopePolicy>,
        plans: PlanLimits,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            keys,
            issuer,
            ttl_seconds,
            default_audience,
            policy,
            plans,
            counters,
        }
    }

    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    /// Checks what an authenticated client may have, asking from
    /// `client_ip` (`None` when unknown), and signs its token.
    pub fn issue(
        &self,
        client: &AuthenticatedClient,
        request: &TokenRequest,
        binding: Binding<'_>,
        client_ip: Option<IpAddr>,
        now: i64,
    ) -> Result<IssuedToken, TokenError> {
        self.admit(client, client_ip, now)?;
        let record = &client.credentials.client;
        let scope = self.granted_scope(client, request.scope.as_ref())?;
        let audiences = self.audiences(record.audiences.as_slice(), &request.audiences)?;

        let jti = uuid::Uuid::new_v4().to_string();
        let claims = AccessTokenClaims {
            iss: &self.issuer,
            sub: record.id.as_str(),
            aud: audiences,
            exp: now + self.ttl_seconds,
            iat: now,
            nbf: now,
            jti: &jti,
            client_id: record.id.as_str(),
            scope: &scope,
            org_id: record.org_id.as_str(),
            cnf: match binding {
                Binding::Bearer => None,
                Binding::Dpop { jkt } => Some(Confirmation { jkt }),
            },
        };
        let access_token = encode_access_token(self.keys.load().signing_key(), &claims);
        Counters::bump(&self.counters.tokens_issued);
        Ok(IssuedToken {
            access_token,
            expires_in: self.ttl_seconds,
            scope,
        })
    }

    /// Whether an authenticated client may act at all, asking from
    /// `client_ip`: its allowlist admits the address, it is active and
    /// unexpired, and its plan has API access. Everything a client does
    /// with its secret (tokens, revocation) passes this first.
    pub fn admit(
        &self,
        client: &AuthenticatedClient,
        client_ip: Option<IpAddr>,
        now: i64,
    ) -> Result<(), TokenError> {
        match client.credentials.client.unusable(client_ip, now) {
            Some(Unusable::IpNotAllowed) => return Err(TokenError::IpNotAllowed),
            Some(Unusable::Deactivated) => return Err(TokenError::Deactivated),
            Some(Unusable::Expired) => return Err(TokenError::Expired),
            None => {}
        }
        if !self.plans.of(client.credentials.plan).api_access {
            return Err(TokenError::NoApiAccess);
        }
        Ok(())
    }

    /// The expanded requested scope, or everything the client may have.
    fn granted_scope(
        &self,
        client: &AuthenticatedClient,
        requested: Option<&ScopeSet>,
    ) -> Result<String, TokenError> {
        let granted = match requested {
            None => client.grantable.clone(),
            Some(requested) => {
                let missing: Vec<_> = client
                    .grantable
                    .missing(requested)
                    .map(|s| s.as_str())
                    .collect();
                if !missing.is_empty() {
                    return Err(TokenError::ScopeNotAllowed(missing.join(" ")));
                }
                self.policy.expand(requested)
            }
        };
        if granted.is_empty() {
            return Err(TokenError::NoScope);
        }
        Ok(granted.to_string())
    }

    fn audiences<'a>(
        &'a self,
        allowed: &'a [Audience],
        requested: &'a [Audience],
    ) -> Result<AudienceClaim<'a>, TokenError> {
        // The issuer is the management API's audience, open to every client;
        // what a token may do there is up to its keyward:* scopes.
        let allowed_audience = |a: &&Audience| allowed.contains(a) || a.as_str() == self.issuer;
        if let Some(denied) = requested.iter().find(|a| !allowed_audience(a)) {
            return Err(TokenError::AudienceNotAllowed(denied.to_string()));
        }
        Ok(match requested {
            [] => self.unrequested_audiences(allowed),
            [one] => AudienceClaim::One(one.as_str()),
            many => AudienceClaim::Many(many.iter().map(Audience::as_str).collect()),
        })
    }

    /// A request naming no audience gets only audiences its client holds:
    /// the configured default when the client is registered for it, else
    /// all of the client's, else (a client with none) the issuer.
    fn unrequested_audiences<'a>(&'a self, allowed: &'a [Audience]) -> AudienceClaim<'a> {
        if allowed.contains(&self.default_audience) {
            return AudienceClaim::One(self.default_audience.as_str());
        }
        match allowed {
            [] => AudienceClaim::One(&self.issuer),
            [one] => AudienceClaim::One(one.as_str()),
            many => AudienceClaim::Many(many.iter().map(Audience::as_str).collect()),
        }
    }
}
