//! `IdempotencyStore` for both backends (see sql.rs for why this is a macro).

macro_rules! impl_idempotency_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::IdempotencyStore for $store {
            async fn claim_idempotency_key(
                &self,
                claim: &$crate::storage::IdempotencyClaim,
            ) -> Result<$crate::storage::ClaimOutcome, $crate::storage::StorageError> {
                // An entry can vanish between the insert and the read (its
                // request failed and released it); then the insert is tried again.
                for _ in 0..3 {
                    let inserted = sqlx::query(
                        "INSERT INTO idempotency_keys (caller_hash, key_hash, claim_id, \
                         fingerprint, state, response, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, 'in_flight', NULL, $5, $6) \
                         ON CONFLICT (caller_hash, key_hash) DO UPDATE SET \
                         claim_id = excluded.claim_id, fingerprint = excluded.fingerprint, \
                         state = 'in_flight', response = NULL, \
                         created_at = excluded.created_at, expires_at = excluded.expires_at \
                         WHERE idempotency_keys.expires_at <= $5",
                    )
                    .bind(&claim.slot.caller_hash)
                    .bind(&claim.slot.key_hash)
                    .bind(&claim.claim_id)
                    .bind(&claim.fingerprint)
                    .bind(claim.now)
                    .bind(claim.lease_until)
                    .execute(self.pool())
                    .await?;
                    if inserted.rows_affected() > 0 {
                        return Ok($crate::storage::ClaimOutcome::Claimed);
                    }
                    let live = sqlx::query_as::<_, $crate::storage::rows::IdempotencyRow>(
                        "SELECT state, fingerprint, response FROM idempotency_keys \
                         WHERE caller_hash = $1 AND key_hash = $2 AND expires_at > $3",
                    )
                    .bind(&claim.slot.caller_hash)
                    .bind(&claim.slot.key_hash)
                    .bind(claim.now)
                    .fetch_optional(self.pool())
                    .await?;
                    if let Some(row) = live {
                        return row.try_into();
                    }
                }
                Ok($crate::storage::ClaimOutcome::InFlight)
            }

            async fn complete_idempotency_key(
                &self,
                slot: &$crate::storage::IdempotencySlot,
                claim_id: &str,
                sealed_response: &[u8],
                expires_at: i64,
            ) -> Result<(), $crate::storage::StorageError> {
                let updated = sqlx::query(
                    "UPDATE idempotency_keys SET state = 'completed', response = $1, \
                     expires_at = $2 WHERE caller_hash = $3 AND key_hash = $4 \
                     AND claim_id = $5 AND state = 'in_flight'",
                )
                .bind(sealed_response)
                .bind(expires_at)
                .bind(&slot.caller_hash)
                .bind(&slot.key_hash)
                .bind(claim_id)
                .execute(self.pool())
                .await?;
                if updated.rows_affected() == 0 {
                    return Err($crate::storage::StorageError::NotFound);
                }
                Ok(())
            }

            async fn release_idempotency_key(
                &self,
                slot: &$crate::storage::IdempotencySlot,
                claim_id: &str,
            ) -> Result<(), $crate::storage::StorageError> {
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE caller_hash = $1 AND key_hash = $2 \
                     AND claim_id = $3 AND state = 'in_flight'",
                )
                .bind(&slot.caller_hash)
                .bind(&slot.key_hash)
                .bind(claim_id)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn purge_idempotency_keys(
                &self,
                now: i64,
            ) -> Result<u64, $crate::storage::StorageError> {
                let purged = sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
                    .bind(now)
                    .execute(self.background_pool())
                    .await?;
                Ok(purged.rows_affected())
            }
        }
    };
}

pub(super) use impl_idempotency_store;
