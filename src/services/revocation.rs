//! RFC 7009 revocation: of access tokens by the client they were issued
//! to, and of API keys, which deactivates them, by a client of the key's
//! organisation.
//!
//! Each revoked token costs a row, a change-log entry and an entry in every
//! node's memory until it would have expired, so revocations are bounded:
//! a token that no longer verifies, or is revoked already, adds nothing,
//! and a client holds at most `max_live` live entries. Past that the answer
//! is 429 with `Retry-After` (when its oldest entry lapses) rather than a
//! silent 200: the caller must learn that its token still works. Deactivating
//! the client ends all its tokens at once.

use std::sync::Arc;

use super::access_tokens::AccessTokenVerifier;
use super::change_feed::CacheInvalidator;
use super::introspection::CredentialKind;
use super::registry;
use crate::domain::{ApiKeyStatus, Change, Client};
use crate::storage::{Revoked, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("the client has too many live revocations; retry after {retry_after} s")]
    TooManyRevocations { retry_after: u64 },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub struct Revoker {
    tokens: Arc<AccessTokenVerifier>,
    caches: Arc<CacheInvalidator>,
    /// A revocation outlives its token by the verification leeway, during
    /// which the token would still verify.
    leeway: i64,
    max_live: u32,
}

impl Revoker {
    pub fn new(
        tokens: Arc<AccessTokenVerifier>,
        caches: Arc<CacheInvalidator>,
        leeway: i64,
        max_live: u32,
    ) -> Self {
        Self {
            tokens,
            caches,
            leeway,
            max_live,
        }
    }

    /// Revokes `token` when it is a live token of `caller` or an API key of
    /// its organisation; anything else is silently accepted, as RFC 7009
    /// §2.2 asks.
    pub async fn revoke(&self, caller: &Client, token: &str, now: i64) -> Result<(), RevokeError> {
        if CredentialKind::of(token) == CredentialKind::ApiKey {
            return Ok(self.deactivate_key(caller, token).await?);
        }
        let Some(claims) = self.tokens.verify(token, now) else {
            return Ok(());
        };
        if claims.client_id != caller.id.as_str()
            || self.caches.revocations.is_revoked(&claims.jti, now)
        {
            return Ok(());
        }
        let expires_at = claims.exp.saturating_add(self.leeway);
        let store = &self.caches.store;
        match store
            .revoke_token(&claims.jti, &caller.id, expires_at, now, self.max_live)
            .await?
        {
            Revoked::Added | Revoked::AlreadyRevoked => {}
            Revoked::LimitReached { next_lapse } => {
                let retry_after = u64::try_from(next_lapse - now).unwrap_or(0).max(1);
                return Err(RevokeError::TooManyRevocations { retry_after });
            }
        }
        // This node knows at once; the others hear of it through the change feed.
        self.caches.apply(&Change::TokenRevoked {
            jti: claims.jti.clone(),
            expires_at,
        });
        Ok(())
    }
}

impl Revoker {
    async fn deactivate_key(&self, caller: &Client, token: &str) -> Result<(), StorageError> {
        let Some(found) = self.caches.keys.find(token).await? else {
            return Ok(());
        };
        let key = &found.credentials.key;
        if key.org_id != caller.org_id || key.status == ApiKeyStatus::Deactivated {
            return Ok(());
        }
        let store = &*self.caches.store;
        let deactivated =
            registry::set_api_key_status(store, &key.org_id, &key.id, ApiKeyStatus::Deactivated);
        match deactivated.await {
            // Deleted meanwhile: nothing is left to revoke.
            Ok(_) | Err(StorageError::NotFound) => {}
            Err(e) => return Err(e),
        }
        self.caches.apply(&Change::ApiKey(key.id.clone()));
        Ok(())
    }
}
