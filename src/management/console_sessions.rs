//! Signing in to the console, and the server-side sessions that follow: in
//! the database, so every replica knows them; found by a digest of the
//! cookie's id; ended after 30 idle minutes or 12 hours, whichever is first.

use std::net::IpAddr;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::OnceCell;

use super::{Actor, Caller};
use crate::crypto::console_tokens::{random_token, token_digest};
use crate::crypto::password::hash_secret;
use crate::crypto::PasswordHasher;
use crate::domain::{ConsoleSession, Email, Membership, OrgId, ScopeSet, User};
use crate::services::failure_gate::FailureGate;
use crate::services::root_token::RootToken;
use crate::storage::{StorageError, Store};
use crate::time::Clock;

pub const IDLE_TIMEOUT_SECONDS: i64 = 30 * 60;
pub const ABSOLUTE_TIMEOUT_SECONDS: i64 = 12 * 3600;
/// A session's last activity is written at most this often.
const TOUCH_EVERY_SECONDS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// An unknown email and a wrong password get this same answer.
    #[error("the email or the password is not right")]
    Refused,
    /// Too many failures from this address; other addresses are not held up.
    #[error("too many failed sign-ins from this address; try again in {retry_after} s")]
    TooManyAttempts { retry_after: u64 },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A signed-in user, with their organisations.
#[derive(Debug, Clone)]
pub struct Member {
    pub user: User,
    pub memberships: Vec<Membership>,
}

impl Member {
    pub fn membership(&self, org: &OrgId) -> Option<&Membership> {
        self.memberships.iter().find(|m| &m.org_id == org)
    }

    /// The caller this user is in `org`: an admin of it with their role's
    /// management scopes and every product scope (`*`), so that they give
    /// keys and clients any product scope but no `keyward:` scope beyond
    /// their role; named `user:<id>` in the audit trail. Another
    /// organisation is out of reach, as for any org admin.
    pub fn caller(&self, org: &OrgId, source_ip: Option<IpAddr>, request_id: String) -> Caller {
        let role = self.membership(org).map(|m| m.role.scopes().to_string());
        let scopes = role
            .and_then(|role| ScopeSet::parse(&format!("* {role}")).ok())
            .unwrap_or_default();
        Caller {
            actor: Actor::OrgAdmin {
                org_id: org.clone(),
                scopes,
                credential: format!("user:{}", self.user.id),
            },
            source_ip,
            request_id,
        }
    }
}

pub struct ConsoleSessions {
    store: Arc<dyn Store>,
    argon2: PasswordHasher,
    root_token: RootToken,
    failures: FailureGate,
    clock: Arc<dyn Clock>,
    /// Checked instead when no user has the email, so that both answers
    /// take an argon2 verification.
    decoy: OnceCell<String>,
}

impl ConsoleSessions {
    pub fn new(
        store: Arc<dyn Store>,
        argon2: PasswordHasher,
        root_token: RootToken,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            argon2,
            root_token,
            failures: FailureGate::new(clock.clone()),
            clock,
            decoy: OnceCell::new(),
        }
    }

    /// Checks the password and opens a session; its id, for the cookie.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &SecretString,
        source: Option<IpAddr>,
    ) -> Result<(SecretString, User), SignInError> {
        let now = self.clock.unix();
        if let Some(retry_after) = self.failures.refused(source, now) {
            return Err(SignInError::TooManyAttempts { retry_after });
        }
        let user = match Email::parse(email) {
            Ok(email) => self.store.user_by_email(&email).await?,
            Err(_) => None,
        };
        let stored = match user.as_ref().and_then(|u| u.password_hash.clone()) {
            Some(hash) => hash,
            None => self.decoy().await,
        };
        let verified = self
            .argon2
            .verify_first(password.expose_secret(), vec![stored])
            .await
            .is_some();
        let user = match user.filter(|u| verified && u.password_hash.is_some()) {
            Some(user) => user,
            None => {
                self.failures.failed(source, now);
                return Err(SignInError::Refused);
            }
        };
        let id = random_token();
        let session = ConsoleSession {
            id_digest: token_digest(id.expose_secret()),
            user_id: user.id.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + ABSOLUTE_TIMEOUT_SECONDS,
        };
        self.store.insert_session(&session).await?;
        Ok((id, user))
    }

    /// The member whose live session `session_id` is; an idle or expired
    /// session is ended here.
    pub async fn resolve(&self, session_id: &str) -> Result<Option<Member>, StorageError> {
        let now = self.clock.unix();
        let digest = token_digest(session_id);
        let Some(session) = self.store.console_session(&digest).await? else {
            return Ok(None);
        };
        if now >= session.expires_at || now >= session.last_seen_at + IDLE_TIMEOUT_SECONDS {
            self.store.end_session(&digest).await?;
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_EVERY_SECONDS {
            self.store.touch_session(&digest, now).await?;
        }
        let user = self.store.get_user(&session.user_id).await?;
        let memberships = self.store.memberships_of(&user.id).await?;
        Ok(Some(Member { user, memberships }))
    }

    pub async fn sign_out(&self, session_id: &str) -> Result<(), StorageError> {
        self.store.end_session(&token_digest(session_id)).await
    }

    /// Opens an operator's session for the root token; its id, for the
    /// cookie. Failures count against the address as a member's do.
    pub async fn operator_sign_in(
        &self,
        token: &SecretString,
        source: Option<IpAddr>,
    ) -> Result<SecretString, SignInError> {
        let now = self.clock.unix();
        if let Some(retry_after) = self.failures.refused(source, now) {
            return Err(SignInError::TooManyAttempts { retry_after });
        }
        if !self.root_token.matches(token.expose_secret()) {
            self.failures.failed(source, now);
            return Err(SignInError::Refused);
        }
        let id = random_token();
        let digest = token_digest(id.expose_secret());
        self.store
            .insert_operator_session(&digest, now, now + ABSOLUTE_TIMEOUT_SECONDS)
            .await?;
        Ok(id)
    }

    /// Whether `session_id` is a live operator's session.
    pub async fn operator(&self, session_id: &str) -> Result<bool, StorageError> {
        let now = self.clock.unix();
        let digest = token_digest(session_id);
        self.store
            .touch_operator_session(&digest, now, now - IDLE_TIMEOUT_SECONDS)
            .await
    }

    pub async fn operator_sign_out(&self, session_id: &str) -> Result<(), StorageError> {
        self.store
            .end_operator_session(&token_digest(session_id))
            .await
    }

    async fn decoy(&self) -> String {
        self.decoy
            .get_or_init(|| async {
                let password = random_token();
                tokio::task::spawn_blocking(move || hash_secret(password.expose_secret()))
                    .await
                    .expect("hashing does not panic")
            })
            .await
            .clone()
    }
}
