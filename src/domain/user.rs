//! The console's people: users, their memberships in organisations with a
//! role, and the single-use links that set a password.

use super::management_scope::{
    AUDIT_READ, CLIENTS_READ, CLIENTS_WRITE, KEYS_READ, KEYS_WRITE, MEMBERS_WRITE,
};
use super::{OrgId, ScopeSet};

super::ids::prefixed_id!(UserId, "usr_");

/// An email address as a sign-in name: trimmed and lowercased, one `@`
/// with something on both sides, no spaces or control characters. Whether
/// it receives mail is not ours to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an email address such as ada@example.com (at most 254 characters)")]
pub struct InvalidEmail;

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let email = raw.trim().to_lowercase();
        let well_formed = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && !domain.is_empty() && !domain.contains('@')
            });
        well_formed.then_some(Self(email)).ok_or(InvalidEmail)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a member may do in an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Admin,
    Owner,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{0}': expected owner, admin or viewer")]
pub struct UnknownRole(pub String);

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Admin, Role::Viewer];

    pub fn parse(raw: &str) -> Result<Self, UnknownRole> {
        match raw {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "viewer" => Ok(Role::Viewer),
            other => Err(UnknownRole(other.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    /// The management scopes the role holds: a viewer reads, an admin
    /// also changes keys and clients, an owner also manages members.
    pub fn scopes(self) -> ScopeSet {
        let mut scopes = vec![KEYS_READ, CLIENTS_READ, AUDIT_READ];
        if self >= Role::Admin {
            scopes.extend([KEYS_WRITE, CLIENTS_WRITE]);
        }
        if self == Role::Owner {
            scopes.push(MEMBERS_WRITE);
        }
        ScopeSet::parse(&scopes.join(" ")).expect("management scopes are valid")
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub display_name: super::Name,
    /// argon2id of the password the user chose; none until a link set it.
    pub password_hash: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub role: Role,
    pub created_at: i64,
}

/// A single-use link that sets a user's password: an invitation, or the
/// first owner's link from the CLI. Only a digest of its token is stored.
#[derive(Debug, Clone)]
pub struct PasswordLink {
    pub token_digest: String,
    pub user_id: UserId,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A signed-in user's session, found by a digest of its cookie's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub id_digest: String,
    pub user_id: UserId,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// The absolute end, however active the session is.
    pub expires_at: i64,
}

/// How long a password link is good for.
pub const PASSWORD_LINK_SECONDS: i64 = 24 * 3600;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            Email::parse(" Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "a b@example.com",
            "a@b@c",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_hold_nested_scopes() {
        let viewer = Role::Viewer.scopes();
        let admin = Role::Admin.scopes();
        let owner = Role::Owner.scopes();
        assert!(admin.covers(&viewer) && owner.covers(&admin));
        assert!(!viewer.covers(&admin) && !admin.covers(&owner));
        assert_eq!(Role::parse("owner"), Ok(Role::Owner));
        assert!(Role::parse("root").is_err());
    }
}
