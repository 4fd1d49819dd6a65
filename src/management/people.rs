//! The console's people: an owner (or the operator) invites a member by
//! email with a role; a new user gets a single-use link that sets their
//! password, shown to the inviter and, when email is on, mailed to the
//! user. Passwords are human-chosen, so they are argon2id.

use secrecy::{ExposeSecret, SecretString};

use super::audit_trail::Target;
use super::{Caller, Management, ManagementError};
use crate::crypto::console_tokens::{random_token, token_digest};
use crate::domain::management_scope::MEMBERS_WRITE;
use crate::domain::{
    DeliveryState, Email, MailAddress, Membership, Name, OrgId, Organisation, PasswordLink, Role,
    User, UserId, PASSWORD_LINK_SECONDS,
};
use crate::storage::StorageError;

/// The shortest password accepted; NIST SP 800-63B asks for at least 8, a
/// console that manages credentials asks for more.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longer input is refused before it reaches argon2.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Where a password link's token is used: the console's page under the issuer.
pub fn password_link(issuer: &str, token: &SecretString) -> String {
    format!("{issuer}/console/password?token={}", token.expose_secret())
}

pub struct NewMember {
    pub email: String,
    /// Defaults to the part of the email before the `@`.
    pub display_name: Option<String>,
    pub role: String,
}

/// A membership made, with the link that sets the user's password when it
/// is a new user (or, for the operator, one still without a password):
/// shown this once, to be passed to the user.
pub struct Invitation {
    pub user_id: UserId,
    pub email: Email,
    pub role: Role,
    pub password_link: Option<SecretString>,
    /// Whether an email about it was queued to the user.
    pub emailed: bool,
}

impl Management {
    pub async fn invite_member(
        &self,
        caller: &Caller,
        org: &OrgId,
        new: NewMember,
    ) -> Result<Invitation, ManagementError> {
        caller.actor.require(org, MEMBERS_WRITE)?;
        let email = Email::parse(&new.email).map_err(|e| ManagementError::invalid("email", e))?;
        let role = Role::parse(&new.role).map_err(|e| ManagementError::invalid("role", e))?;
        let display_name = match &new.display_name {
            Some(name) => Name::parse(name).map_err(|e| ManagementError::invalid("name", e))?,
            None => Name::parse(email.as_str().split('@').next().unwrap_or_default())
                .map_err(|e| ManagementError::invalid("email", e))?,
        };
        let organisation = self.store.get_organisation(org).await?;
        let now = self.now();
        let existing = self.store.user_by_email(&email).await?;
        let user_id = existing
            .as_ref()
            .map_or_else(UserId::generate, |u| u.id.clone());
        let membership = Membership {
            user_id: user_id.clone(),
            org_id: org.clone(),
            role,
            created_at: now,
        };
        // A link sets the password of a user who may belong to other
        // organisations too: only a new user's goes to an organisation's
        // owner. A user who exists without a password keeps their first
        // link, or gets a new one from the operator.
        let gets_link = match &existing {
            None => true,
            Some(user) => user.password_hash.is_none() && caller.actor.require_operator().is_ok(),
        };
        let token = gets_link.then(random_token);
        let link = token.as_ref().map(|token| PasswordLink {
            token_digest: token_digest(token.expose_secret()),
            user_id: user_id.clone(),
            created_at: now,
            expires_at: now + PASSWORD_LINK_SECONDS,
        });
        let stored = match existing {
            Some(_) => {
                self.store
                    .insert_membership(&membership, link.as_ref())
                    .await
            }
            None => {
                let user = User {
                    id: user_id.clone(),
                    email: email.clone(),
                    display_name,
                    password_hash: None,
                    created_at: now,
                };
                self.store
                    .insert_user(&user, &membership, link.as_ref())
                    .await
            }
        };
        stored.map_err(|e| match e {
            StorageError::Conflict => ManagementError::invalid("email", "is a member already"),
            other => other.into(),
        })?;
        let changes = super::audit_trail::initial(&serde_json::json!({
            "email": email.as_str(),
            "role": role.as_str(),
        }));
        let target = Target {
            org_id: Some(org),
            kind: "user",
            id: Some(user_id.as_str()),
        };
        self.record(caller, "member.invited", target, changes).await;
        let emailed = self
            .email_invitation(&organisation, &email, role, token.as_ref())
            .await;
        Ok(Invitation {
            user_id,
            email,
            role,
            password_link: token,
            emailed,
        })
    }

    /// Queues the invitation's email when email is on; whether it was. The
    /// membership stands without it: the inviter still has the link.
    async fn email_invitation(
        &self,
        org: &Organisation,
        email: &Email,
        role: Role,
        token: Option<&SecretString>,
    ) -> bool {
        let Some(outbox) = &self.email else {
            return false;
        };
        let Ok(to) = MailAddress::parse(email.as_str()) else {
            tracing::info!(org = %org.id, "not emailing an invitation to an address mail cannot go to");
            return false;
        };
        let link = token.map(|token| password_link(outbox.issuer(), token));
        let content = outbox.invitation(org.name.as_str(), role, &to, link.as_deref());
        let now = self.now();
        let letters = outbox.letters(&org.id, "member.invited", &[to], &content, now);
        let queued = match outbox
            .within_budget(&*self.store, &org.id, letters, now)
            .await
        {
            Ok(letters) => self.store.queue_emails(&letters).await.map(|()| letters),
            Err(e) => Err(e),
        };
        match queued {
            Ok(letters) => letters.iter().all(|l| l.state == DeliveryState::Pending),
            Err(e) => {
                tracing::warn!(error = %crate::error::error_chain(&e), org = %org.id, "queueing an invitation email failed");
                false
            }
        }
    }

    /// An organisation's members, oldest first: for its owners.
    pub async fn list_members(
        &self,
        caller: &Caller,
        org: &OrgId,
    ) -> Result<Vec<(User, Membership)>, ManagementError> {
        caller.actor.require(org, MEMBERS_WRITE)?;
        Ok(self.store.members(org).await?)
    }

    /// Gives a member another role (`Some`) or removes them (`None`). An
    /// organisation keeps at least one owner.
    pub async fn change_member(
        &self,
        caller: &Caller,
        org: &OrgId,
        user: &UserId,
        role: Option<&str>,
    ) -> Result<(), ManagementError> {
        caller.actor.require(org, MEMBERS_WRITE)?;
        let role = role
            .map(|raw| Role::parse(raw).map_err(|e| ManagementError::invalid("role", e)))
            .transpose()?;
        let before = self.membership(org, user).await?;
        if !self.store.change_membership(org, user, role).await? {
            return Err(ManagementError::invalid(
                "role",
                "an organisation keeps at least one owner",
            ));
        }
        let target = Target {
            org_id: Some(org),
            kind: "user",
            id: Some(user.as_str()),
        };
        let (action, new) = match role {
            Some(role) => ("member.role_changed", role.as_str().into()),
            None => ("member.removed", serde_json::Value::Null),
        };
        let changes = super::audit_trail::change("role", before.role.as_str().into(), new);
        self.record(caller, action, target, changes).await;
        Ok(())
    }

    async fn membership(&self, org: &OrgId, user: &UserId) -> Result<Membership, ManagementError> {
        let memberships = self.store.memberships_of(user).await?;
        memberships
            .into_iter()
            .find(|m| &m.org_id == org)
            .ok_or(ManagementError::NotFound)
    }

    /// Ends every console session of a member of `org`; how many.
    pub async fn end_member_sessions(
        &self,
        caller: &Caller,
        org: &OrgId,
        user: &UserId,
    ) -> Result<u64, ManagementError> {
        caller.actor.require(org, MEMBERS_WRITE)?;
        self.membership(org, user).await?;
        let ended = self.store.end_user_sessions(user).await?;
        let target = Target {
            org_id: Some(org),
            kind: "user",
            id: Some(user.as_str()),
        };
        let changes = super::audit_trail::change("sessions", ended.into(), 0.into());
        self.record(caller, "member.sessions_ended", target, changes)
            .await;
        Ok(ended)
    }

    /// The user a password link is for, while it is unused and unexpired.
    pub async fn link_user(&self, link_token: &str) -> Result<Option<UserId>, ManagementError> {
        let digest = token_digest(link_token);
        Ok(self.store.password_link_user(&digest, self.now()).await?)
    }

    /// Sets the password of the link's user, once; ends their sessions.
    pub async fn set_password(
        &self,
        link_token: &str,
        password: &SecretString,
    ) -> Result<UserId, ManagementError> {
        let chars = password.expose_secret().chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(ManagementError::invalid(
                "password",
                format!("must be at least {MIN_PASSWORD_CHARS} characters"),
            ));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(ManagementError::invalid(
                "password",
                format!("must be at most {MAX_PASSWORD_CHARS} characters"),
            ));
        }
        // Nobody without a live link gets argon2 run for them.
        let digest = token_digest(link_token);
        if self
            .store
            .password_link_user(&digest, self.now())
            .await?
            .is_none()
        {
            return Err(ManagementError::NotFound);
        }
        let hash = self.secrets.hash_imported(password.expose_secret()).await;
        let user = self
            .store
            .use_password_link(&digest, &hash, self.now())
            .await?;
        Ok(user)
    }
}
