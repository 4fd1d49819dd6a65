//! A request's claim on its key, released whichever way the request ends
//! unless its response was stored.

use std::sync::Arc;

use super::{Shared, ENTRY_TTL_SECONDS};
use crate::error::error_chain;
use crate::storage::IdempotencyClaim;

/// Our claim on a key while the request runs. Completing or releasing it
/// is awaited; a claim still held when the request is dropped (the client
/// went away) is released in the background.
pub(super) struct ClaimGuard {
    shared: Arc<Shared>,
    claim: Option<IdempotencyClaim>,
}

impl ClaimGuard {
    pub(super) fn new(shared: Arc<Shared>, claim: IdempotencyClaim) -> Self {
        Self {
            shared,
            claim: Some(claim),
        }
    }

    pub(super) async fn complete(&mut self, sealed: &[u8]) {
        let Some(claim) = &self.claim else { return };
        let expires_at = claim.now + ENTRY_TTL_SECONDS;
        let store = &self.shared.store;
        match store
            .complete_idempotency_key(&claim.slot, &claim.claim_id, sealed, expires_at)
            .await
        {
            Ok(()) => self.claim = None,
            // The response still goes out; the key is freed rather than
            // left answering 409 until its lease ends.
            Err(e) => {
                tracing::error!(error = %error_chain(&e), "storing an idempotent response failed");
                self.release().await;
            }
        }
    }

    pub(super) async fn release(&mut self) {
        if let Some(claim) = self.claim.take() {
            release(&self.shared, &claim).await;
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let (Some(claim), Ok(runtime)) = (self.claim.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let shared = self.shared.clone();
        runtime.spawn(async move { release(&shared, &claim).await });
    }
}

async fn release(shared: &Shared, claim: &IdempotencyClaim) {
    if let Err(e) = shared
        .store
        .release_idempotency_key(&claim.slot, &claim.claim_id)
        .await
    {
        tracing::warn!(error = %error_chain(&e), "releasing an idempotency key failed; it lapses with its lease");
    }
}
