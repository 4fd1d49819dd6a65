//! `PeopleStore` for both backends (see sql.rs for why this is a macro).

macro_rules! impl_people_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::PeopleStore for $store {
            async fn insert_user(
                &self,
                user: &$crate::domain::User,
                membership: &$crate::domain::Membership,
                link: Option<&$crate::domain::PasswordLink>,
            ) -> Result<(), $crate::storage::StorageError> {
                let mut tx = self.pool().begin().await?;
                sqlx::query(
                    "INSERT INTO users (id, email, display_name, password_hash, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(user.id.as_str())
                .bind(user.email.as_str())
                .bind(user.display_name.as_str())
                .bind(user.password_hash.as_deref())
                .bind(user.created_at)
                .execute(&mut *tx)
                .await?;
                $crate::storage::sql_people::insert_membership!(&mut *tx, membership)?;
                if let Some(link) = link {
                    $crate::storage::sql_people::insert_link!(&mut *tx, link)?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn user_by_email(
                &self,
                email: &$crate::domain::Email,
            ) -> Result<Option<$crate::domain::User>, $crate::storage::StorageError> {
                sqlx::query_as::<_, $crate::storage::rows::UserRow>(
                    "SELECT id, email, display_name, password_hash, created_at FROM users \
                     WHERE email = $1",
                )
                .bind(email.as_str())
                .fetch_optional(self.pool())
                .await?
                .map(TryInto::try_into)
                .transpose()
            }

            async fn get_user(
                &self,
                id: &$crate::domain::UserId,
            ) -> Result<$crate::domain::User, $crate::storage::StorageError> {
                sqlx::query_as::<_, $crate::storage::rows::UserRow>(
                    "SELECT id, email, display_name, password_hash, created_at FROM users \
                     WHERE id = $1",
                )
                .bind(id.as_str())
                .fetch_one(self.pool())
                .await?
                .try_into()
            }

            async fn insert_membership(
                &self,
                membership: &$crate::domain::Membership,
                link: Option<&$crate::domain::PasswordLink>,
            ) -> Result<(), $crate::storage::StorageError> {
                let mut tx = self.pool().begin().await?;
                $crate::storage::sql_people::insert_membership!(&mut *tx, membership)?;
                if let Some(link) = link {
                    $crate::storage::sql_people::insert_link!(&mut *tx, link)?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn memberships_of(
                &self,
                user: &$crate::domain::UserId,
            ) -> Result<Vec<$crate::domain::Membership>, $crate::storage::StorageError> {
                sqlx::query_as::<_, $crate::storage::rows::MembershipRow>(
                    "SELECT user_id, org_id, role, created_at FROM memberships \
                     WHERE user_id = $1 ORDER BY created_at, org_id",
                )
                .bind(user.as_str())
                .fetch_all(self.pool())
                .await?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            async fn change_membership(
                &self,
                org: &$crate::domain::OrgId,
                user: &$crate::domain::UserId,
                role: Option<$crate::domain::Role>,
            ) -> Result<bool, $crate::storage::StorageError> {
                // One statement each, so two owners demoting each other at
                // once cannot leave the organisation without one.
                let keeps_an_owner = "(SELECT COUNT(*) FROM memberships o WHERE o.org_id = $1 \
                     AND o.role = 'owner' AND o.user_id <> $2) > 0";
                let changed = match role {
                    Some(role) => {
                        sqlx::query(&format!(
                            "UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2 \
                             AND ($3 = 'owner' OR role <> 'owner' OR {keeps_an_owner})"
                        ))
                        .bind(org.as_str())
                        .bind(user.as_str())
                        .bind(role.as_str())
                        .execute(self.pool())
                        .await?
                    }
                    None => {
                        sqlx::query(&format!(
                            "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2 \
                             AND (role <> 'owner' OR {keeps_an_owner})"
                        ))
                        .bind(org.as_str())
                        .bind(user.as_str())
                        .execute(self.pool())
                        .await?
                    }
                };
                Ok(changed.rows_affected() == 1)
            }

            async fn members(
                &self,
                org: &$crate::domain::OrgId,
            ) -> Result<
                Vec<($crate::domain::User, $crate::domain::Membership)>,
                $crate::storage::StorageError,
            > {
                let rows = sqlx::query_as::<_, $crate::storage::rows::MemberRow>(
                    "SELECT u.id, u.email, u.display_name, u.password_hash, u.created_at, \
                     m.role, m.created_at AS member_since FROM memberships m \
                     JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 \
                     ORDER BY m.created_at, u.id",
                )
                .bind(org.as_str())
                .fetch_all(self.pool())
                .await?;
                rows.into_iter().map(|row| row.into_member(org)).collect()
            }

            async fn password_link_user(
                &self,
                token_digest: &str,
                now: i64,
            ) -> Result<Option<$crate::domain::UserId>, $crate::storage::StorageError> {
                let found: Option<(String,)> = sqlx::query_as(
                    "SELECT user_id FROM password_links \
                     WHERE token_digest = $1 AND used_at IS NULL AND expires_at > $2",
                )
                .bind(token_digest)
                .bind(now)
                .fetch_optional(self.pool())
                .await?;
                found
                    .map(|(id,)| $crate::domain::UserId::parse(&id))
                    .transpose()
                    .map_err(|e| $crate::storage::StorageError::Corrupt(format!("link user: {e}")))
            }

            async fn use_password_link(
                &self,
                token_digest: &str,
                password_hash: &str,
                now: i64,
            ) -> Result<$crate::domain::UserId, $crate::storage::StorageError> {
                let mut tx = self.pool().begin().await?;
                // One statement claims the link, so of two uses only one wins.
                let used: Option<(String,)> = sqlx::query_as(
                    "UPDATE password_links SET used_at = $2 \
                     WHERE token_digest = $1 AND used_at IS NULL AND expires_at > $2 \
                     RETURNING user_id",
                )
                .bind(token_digest)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let (user_id,) = used.ok_or($crate::storage::StorageError::NotFound)?;
                sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(&user_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM console_sessions WHERE user_id = $1")
                    .bind(&user_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                $crate::domain::UserId::parse(&user_id)
                    .map_err(|e| $crate::storage::StorageError::Corrupt(format!("link user: {e}")))
            }

            async fn insert_session(
                &self,
                session: &$crate::domain::ConsoleSession,
            ) -> Result<(), $crate::storage::StorageError> {
                sqlx::query(
                    "INSERT INTO console_sessions (id_digest, user_id, created_at, \
                     last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&session.id_digest)
                .bind(session.user_id.as_str())
                .bind(session.created_at)
                .bind(session.last_seen_at)
                .bind(session.expires_at)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn console_session(
                &self,
                id_digest: &str,
            ) -> Result<Option<$crate::domain::ConsoleSession>, $crate::storage::StorageError> {
                sqlx::query_as::<_, $crate::storage::rows::SessionRow>(
                    "SELECT id_digest, user_id, created_at, last_seen_at, expires_at \
                     FROM console_sessions WHERE id_digest = $1",
                )
                .bind(id_digest)
                .fetch_optional(self.pool())
                .await?
                .map(TryInto::try_into)
                .transpose()
            }

            async fn touch_session(
                &self,
                id_digest: &str,
                now: i64,
            ) -> Result<(), $crate::storage::StorageError> {
                sqlx::query("UPDATE console_sessions SET last_seen_at = $2 WHERE id_digest = $1")
                    .bind(id_digest)
                    .bind(now)
                    .execute(self.pool())
                    .await?;
                Ok(())
            }

            async fn end_session(
                &self,
                id_digest: &str,
            ) -> Result<(), $crate::storage::StorageError> {
                sqlx::query("DELETE FROM console_sessions WHERE id_digest = $1")
                    .bind(id_digest)
                    .execute(self.pool())
                    .await?;
                Ok(())
            }

            async fn end_user_sessions(
                &self,
                user: &$crate::domain::UserId,
            ) -> Result<u64, $crate::storage::StorageError> {
                let ended = sqlx::query("DELETE FROM console_sessions WHERE user_id = $1")
                    .bind(user.as_str())
                    .execute(self.pool())
                    .await?;
                Ok(ended.rows_affected())
            }

            async fn insert_operator_session(
                &self,
                id_digest: &str,
                now: i64,
                expires_at: i64,
            ) -> Result<(), $crate::storage::StorageError> {
                sqlx::query(
                    "INSERT INTO operator_sessions (id_digest, created_at, last_seen_at, expires_at) \
                     VALUES ($1, $2, $2, $3)",
                )
                .bind(id_digest)
                .bind(now)
                .bind(expires_at)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn touch_operator_session(
                &self,
                id_digest: &str,
                now: i64,
                idle_before: i64,
            ) -> Result<bool, $crate::storage::StorageError> {
                let touched = sqlx::query(
                    "UPDATE operator_sessions SET last_seen_at = $2 WHERE id_digest = $1 \
                     AND expires_at > $2 AND last_seen_at >= $3",
                )
                .bind(id_digest)
                .bind(now)
                .bind(idle_before)
                .execute(self.pool())
                .await?;
                Ok(touched.rows_affected() == 1)
            }

            async fn end_operator_session(
                &self,
                id_digest: &str,
            ) -> Result<(), $crate::storage::StorageError> {
                sqlx::query("DELETE FROM operator_sessions WHERE id_digest = $1")
                    .bind(id_digest)
                    .execute(self.pool())
                    .await?;
                Ok(())
            }

            async fn purge_console_records(
                &self,
                now: i64,
                idle_before: i64,
            ) -> Result<(), $crate::storage::StorageError> {
                sqlx::query(
                    "DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at < $2",
                )
                .bind(now)
                .bind(idle_before)
                .execute(self.background_pool())
                .await?;
                sqlx::query(
                    "DELETE FROM operator_sessions WHERE expires_at <= $1 OR last_seen_at < $2",
                )
                .bind(now)
                .bind(idle_before)
                .execute(self.background_pool())
                .await?;
                sqlx::query("DELETE FROM password_links WHERE expires_at <= $1")
                    .bind(now)
                    .execute(self.background_pool())
                    .await?;
                Ok(())
            }
        }
    };
}

pub(super) use impl_people_store;

/// Adds a membership through `executor` (a pool or a transaction).
macro_rules! insert_membership {
    ($executor:expr, $membership:expr) => {{
        let m: &$crate::domain::Membership = $membership;
        sqlx::query(
            "INSERT INTO memberships (user_id, org_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(m.user_id.as_str())
        .bind(m.org_id.as_str())
        .bind(m.role.as_str())
        .bind(m.created_at)
        .execute($executor)
        .await
    }};
}

pub(super) use insert_membership;

/// Stores a password link through `executor` (a pool or a transaction).
macro_rules! insert_link {
    ($executor:expr, $link:expr) => {{
        let link: &$crate::domain::PasswordLink = $link;
        sqlx::query(
            "INSERT INTO password_links (token_digest, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&link.token_digest)
        .bind(link.user_id.as_str())
        .bind(link.created_at)
        .bind(link.expires_at)
        .execute($executor)
        .await
    }};
}

pub(super) use insert_link;
