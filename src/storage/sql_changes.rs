//! `RevocationStore` and `ChangeLogStore` for both backends.

macro_rules! impl_change_stores {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::RevocationStore for $store {
            async fn revoke_token(
                &self,
                jti: &str,
                client: &$crate::domain::ClientId,
                expires_at: i64,
                now: i64,
                max_live: u32,
            ) -> Result<$crate::storage::Revoked, $crate::storage::StorageError> {
                use $crate::storage::Revoked;
                let mut tx = self.pool().begin().await?;
                let (live, next_lapse): (i64, Option<i64>) = sqlx::query_as(
                    "SELECT COUNT(*), MIN(expires_at) FROM revoked_tokens \
                     WHERE client_id = $1 AND expires_at > $2",
                )
                .bind(client.as_str())
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                if live >= i64::from(max_live) {
                    let (known,): (i64,) =
                        sqlx::query_as("SELECT COUNT(*) FROM revoked_tokens WHERE jti = $1")
                            .bind(jti)
                            .fetch_one(&mut *tx)
                            .await?;
                    return Ok(if known > 0 {
                        Revoked::AlreadyRevoked
                    } else {
                        Revoked::LimitReached {
                            next_lapse: next_lapse.unwrap_or(now),
                        }
                    });
                }
                let inserted = sqlx::query(
                    "INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING",
                )
                .bind(jti)
                .bind(client.as_str())
                .bind(expires_at)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if inserted.rows_affected() == 0 {
                    return Ok(Revoked::AlreadyRevoked);
                }
                let change = $crate::domain::Change::TokenRevoked {
                    jti: jti.to_owned(),
                    expires_at,
                };
                $crate::storage::sql::log_change!(tx, &change, now)?;
                tx.commit().await?;
                Ok(Revoked::Added)
            }

            async fn live_revocations(
                &self,
                now: i64,
            ) -> Result<Vec<(String, i64)>, $crate::storage::StorageError> {
                Ok(sqlx::query_as::<_, (String, i64)>(
                    "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1",
                )
                .bind(now)
                .fetch_all(self.background_pool())
                .await?)
            }
        }

        #[async_trait::async_trait]
        impl $crate::storage::ChangeLogStore for $store {
            async fn changes_since(
                &self,
                seq: i64,
                limit: i64,
            ) -> Result<Vec<$crate::storage::LoggedChange>, $crate::storage::StorageError> {
                Ok(sqlx::query_as::<_, $crate::storage::rows::ChangeRow>(
                    "SELECT seq, kind, subject, expires_at FROM change_log \
                     WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(seq)
                .bind(limit)
                .fetch_all(self.background_pool())
                .await?
                .into_iter()
                .map($crate::storage::rows::ChangeRow::into_logged)
                .collect())
            }

            async fn last_change_before(
                &self,
                occurred_before: i64,
            ) -> Result<i64, $crate::storage::StorageError> {
                let seq: Option<(i64,)> = sqlx::query_as(
                    "SELECT seq FROM change_log WHERE occurred_at < $1 ORDER BY seq DESC LIMIT 1",
                )
                .bind(occurred_before)
                .fetch_optional(self.background_pool())
                .await?;
                Ok(seq.map_or(0, |(seq,)| seq))
            }

            async fn purge(
                &self,
                now: i64,
                log_before: i64,
            ) -> Result<(), $crate::storage::StorageError> {
                sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= $1")
                    .bind(now)
                    .execute(self.background_pool())
                    .await?;
                sqlx::query("DELETE FROM used_one_time_values WHERE expires_at <= $1")
                    .bind(now)
                    .execute(self.one_time_background_pool())
                    .await?;
                sqlx::query("DELETE FROM change_log WHERE occurred_at < $1")
                    .bind(log_before)
                    .execute(self.background_pool())
                    .await?;
                Ok(())
            }
        }
    };
}

pub(super) use impl_change_stores;
