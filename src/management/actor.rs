//! Who makes a management change, and from where: what each use case
//! checks its reach and scopes against and names in the audit trail.

use std::net::IpAddr;

use super::ManagementError;
use crate::domain::management_scope::{
    AUDIT_READ, CLIENTS_READ, CLIENTS_WRITE, KEYS_READ, KEYS_WRITE,
};
use crate::domain::{OrgId, Scope, ScopeSet};

#[derive(Debug, Clone)]
pub enum Actor {
    /// The operator, with the root token.
    Root,
    /// The operator at the command line, on the database directly.
    Cli,
    /// An admin of one organisation, with its expanded scopes, and which
    /// credential it is (`client:<id>` or `key:<id>`).
    OrgAdmin {
        org_id: OrgId,
        scopes: ScopeSet,
        credential: String,
    },
}

impl Actor {
    /// The actor as the audit trail names it.
    pub fn identity(&self) -> &str {
        match self {
            Actor::Root => "root",
            Actor::Cli => "cli",
            Actor::OrgAdmin { credential, .. } => credential,
        }
    }

    /// The organisation an org admin belongs to; none for the operator.
    pub fn org(&self) -> Option<&OrgId> {
        match self {
            Actor::OrgAdmin { org_id, .. } => Some(org_id),
            Actor::Root | Actor::Cli => None,
        }
    }

    /// Allows the call on `org` with `scope`. Another organisation is not
    /// found, so its resources are not even known to exist.
    pub fn require(&self, org: &OrgId, scope: &str) -> Result<(), ManagementError> {
        match self {
            Actor::Root | Actor::Cli => Ok(()),
            Actor::OrgAdmin { org_id, .. } if org_id != org => Err(ManagementError::NotFound),
            Actor::OrgAdmin { scopes, .. } => {
                let needed = Scope::parse(scope).expect("management scopes are valid");
                if scopes.grants(&needed) {
                    Ok(())
                } else {
                    Err(ManagementError::InsufficientScope {
                        needed: scope.to_owned(),
                        granted: scopes.to_string(),
                    })
                }
            }
        }
    }

    /// Allows the call on `org` with any management scope at all.
    pub fn require_any(&self, org: &OrgId) -> Result<(), ManagementError> {
        let any = [
            CLIENTS_READ,
            CLIENTS_WRITE,
            KEYS_READ,
            KEYS_WRITE,
            AUDIT_READ,
        ];
        match self {
            Actor::OrgAdmin { org_id, .. } if org_id != org => Err(ManagementError::NotFound),
            Actor::OrgAdmin { scopes, .. }
                if !any
                    .iter()
                    .any(|s| scopes.grants(&Scope::parse(s).expect("valid"))) =>
            {
                Err(ManagementError::InsufficientScope {
                    needed: any.join(" or "),
                    granted: scopes.to_string(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Lets an organisation admin give a credential only scopes it holds
    /// itself, so `keys:write` cannot mint a key with more.
    pub fn require_covers(&self, granted: &ScopeSet) -> Result<(), ManagementError> {
        match self {
            Actor::OrgAdmin { scopes, .. } if !scopes.covers(granted) => {
                let missing: Vec<&str> = scopes.missing(granted).map(|s| s.as_str()).collect();
                Err(ManagementError::InsufficientScope {
                    needed: missing.join(" "),
                    granted: scopes.to_string(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Allows what only the operator may do.
    pub fn require_operator(&self) -> Result<(), ManagementError> {
        match self {
            Actor::Root | Actor::Cli => Ok(()),
            Actor::OrgAdmin { .. } => Err(ManagementError::OperatorOnly),
        }
    }
}

/// An actor and where its call came from, as the audit trail records it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub source_ip: Option<IpAddr>,
    /// The request's id (`X-Request-Id`), or `cli-<uuid>` for a command.
    pub request_id: String,
}

impl Caller {
    /// The operator at the command line.
    pub fn cli() -> Self {
        Self {
            actor: Actor::Cli,
            source_ip: None,
            request_id: format!("cli-{}", uuid::Uuid::new_v4()),
        }
    }
}
