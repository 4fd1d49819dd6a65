//! RFC 7009 revocation of access tokens by the client they were issued to.

use std::sync::Arc;

use super::access_tokens::AccessTokenVerifier;
use super::change_feed::CacheInvalidator;
use crate::domain::{Change, ClientId};
use crate::storage::StorageError;

pub struct Revoker {
    tokens: Arc<AccessTokenVerifier>,
    caches: Arc<CacheInvalidator>,
}

impl Revoker {
    pub fn new(tokens: Arc<AccessTokenVerifier>, caches: Arc<CacheInvalidator>) -> Self {
        Self { tokens, caches }
    }

    /// Revokes `token` when it is a live token of `caller`; anything else is
    /// silently accepted, as RFC 7009 §2.2 asks.
    pub async fn revoke(
        &self,
        caller: &ClientId,
        token: &str,
        now: i64,
    ) -> Result<(), StorageError> {
        let Some(claims) = self.tokens.verify(token, now) else {
            return Ok(());
        };
        if claims.client_id != caller.as_str() {
            return Ok(());
        }
        self.caches
            .store
            .revoke_token(&claims.jti, caller, claims.exp, now)
            .await?;
        // This node knows at once; the others hear of it through the change feed.
        self.caches.apply(&Change::TokenRevoked {
            jti: claims.jti.clone(),
            expires_at: claims.exp,
        });
        Ok(())
    }
}
