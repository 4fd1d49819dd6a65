//! RFC 7009 revocation: of access tokens by the client they were issued
//! to, and of API keys, which deactivates them, by a client of the key's
//! organisation that holds `keyward:keys:write` (what deactivating a key
//! asks of a management API caller too).
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
use super::client_auth::AuthenticatedClient;
use super::introspection::CredentialKind;
use crate::domain::{ApiKey, ApiKeyStatus, Change, Scope};
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
    max_live: u32,
}

impl Revoker {
    pub fn new(
        tokens: Arc<AccessTokenVerifier>,
        caches: Arc<CacheInvalidator>,
        max_live: u32,
    ) -> Self {
        Self {
            tokens,
            caches,
            max_live,
        }
    }

    /// Revokes `token` when it is a live token of `caller` or an API key of
    /// its organisation; anything else is silently accepted, as RFC 7009
    /// §2.2 asks. Returns the key it deactivated, for the audit trail.
    pub async fn revoke(
        &self,
        caller: &AuthenticatedClient,
        token: &str,
        now: i64,
    ) -> Result<Option<ApiKey>, RevokeError> {
        if CredentialKind::of(token) == CredentialKind::ApiKey {
            return Ok(self.deactivate_key(caller, token, now).await?);
        }
        let caller = &caller.credentials.client;
        let Some(claims) = self.tokens.verify(token, now) else {
            return Ok(None);
        };
        if claims.client_id != caller.id.as_str()
            || self.caches.revocations.is_revoked(&claims.jti, now)
        {
            return Ok(None);
        }
        let lives_until = self.tokens.revocation_lives_until(&claims);
        let store = &self.caches.store;
        match store
            .revoke_token(&claims.jti, &caller.id, lives_until, now, self.max_live)
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
            expires_at: lives_until,
        });
        Ok(None)
    }
}

impl Revoker {
    async fn deactivate_key(
        &self,
        caller: &AuthenticatedClient,
        token: &str,
        now: i64,
    ) -> Result<Option<ApiKey>, StorageError> {
        if !caller.grantable.grants(&keys_write()) {
            return Ok(None);
        }
        let Some(found) = self.caches.keys.find(token).await? else {
            return Ok(None);
        };
        let key = &found.credentials.key;
        let org = &caller.credentials.client.org_id;
        if key.org_id != *org || key.status == ApiKeyStatus::Deactivated {
            return Ok(None);
        }
        let deactivated = match self.deactivate_stored(key, now).await {
            Ok(key) => Some(key),
            // Deleted meanwhile: nothing is left to revoke.
            Err(StorageError::NotFound) => None,
            Err(e) => return Err(e),
        };
        self.caches.apply(&Change::ApiKey(key.id.clone()));
        Ok(deactivated)
    }
}

impl Revoker {
    /// The stored key, read again rather than taken from the cache, so
    /// that a change made elsewhere a moment ago is not written back over.
    async fn deactivate_stored(&self, key: &ApiKey, now: i64) -> Result<ApiKey, StorageError> {
        let store = &self.caches.store;
        let stored = store.get_api_key(&key.org_id, &key.id).await?;
        let deactivated = ApiKey {
            status: ApiKeyStatus::Deactivated,
            updated_at: now,
            ..stored
        };
        store.update_api_key(&deactivated, None).await?;
        Ok(deactivated)
    }
}

fn keys_write() -> Scope {
    Scope::parse(crate::domain::management_scope::KEYS_WRITE).expect("a valid scope")
}
