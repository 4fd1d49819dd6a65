//! RFC 7009 revocation: of access tokens by the client they were issued
//! to, and of API keys, which deactivates them, by a client of the key's
//! organisation that holds `keyward:keys:write` (what deactivating a key
//! asks of a management API caller too).

use std::sync::Arc;

use super::access_tokens::AccessTokenVerifier;
use super::change_feed::CacheInvalidator;
use super::client_auth::AuthenticatedClient;
use super::introspection::CredentialKind;
use super::registry;
use crate::domain::{ApiKey, ApiKeyStatus, Change, Scope};
use crate::storage::StorageError;

pub struct Revoker {
    tokens: Arc<AccessTokenVerifier>,
    caches: Arc<CacheInvalidator>,
}

impl Revoker {
    pub fn new(tokens: Arc<AccessTokenVerifier>, caches: Arc<CacheInvalidator>) -> Self {
        Self { tokens, caches }
    }

    /// Revokes `token` when it is a live token of `caller` or an API key of
    /// its organisation; anything else is silently accepted, as RFC 7009
    /// §2.2 asks. Returns the key it deactivated, for the audit trail.
    pub async fn revoke(
        &self,
        caller: &AuthenticatedClient,
        token: &str,
        now: i64,
    ) -> Result<Option<ApiKey>, StorageError> {
        if CredentialKind::of(token) == CredentialKind::ApiKey {
            return self.deactivate_key(caller, token).await;
        }
        let caller = &caller.credentials.client;
        let Some(claims) = self.tokens.verify(token, now) else {
            return Ok(None);
        };
        if claims.client_id != caller.id.as_str() {
            return Ok(None);
        }
        let lives_until = self.tokens.revocation_lives_until(&claims);
        self.caches
            .store
            .revoke_token(&claims.jti, &caller.id, lives_until, now)
            .await?;
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
        let store = &*self.caches.store;
        let deactivated =
            registry::set_api_key_status(store, &key.org_id, &key.id, ApiKeyStatus::Deactivated);
        let deactivated = match deactivated.await {
            Ok(key) => Some(key),
            // Deleted meanwhile: nothing is left to revoke.
            Err(StorageError::NotFound) => None,
            Err(e) => return Err(e),
        };
        self.caches.apply(&Change::ApiKey(key.id.clone()));
        Ok(deactivated)
    }
}

fn keys_write() -> Scope {
    Scope::parse(crate::domain::management_scope::KEYS_WRITE).expect("a valid scope")
}
