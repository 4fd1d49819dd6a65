use std::fmt;
use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};

use super::audience::Audience;
use super::client_keys::{AuthMethod, ClientKeys};
use super::federation::FederatedSubjects;
use super::ip_allowlist::IpAllowlist;
use super::organisation::{Name, OrgId, Plan};
use super::scope::ScopeSet;

super::ids::prefixed_id!(ClientId, "cl_");

/// A client secret as presented or generated; its `Debug` is redacted.
#[derive(Debug, Clone)]
pub struct ClientSecret(SecretString);

impl ClientSecret {
    pub const PREFIX: &'static str = "kws_";
    /// Longer input is never a secret of ours; refusing it bounds argon2 input.
    pub const MAX_LEN: usize = 256;

    pub fn new(raw: String) -> Self {
        Self(SecretString::from(raw))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientStatus {
    Active,
    Deactivated,
}

impl ClientStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientStatus::Active => "active",
            ClientStatus::Deactivated => "deactivated",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(ClientStatus::Active),
            "deactivated" => Some(ClientStatus::Deactivated),
            _ => None,
        }
    }
}

/// Why a client may not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    IpNotAllowed,
    Deactivated,
    Expired,
}

/// An OAuth client as stored, without its secret hashes.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: ClientId,
    pub org_id: OrgId,
    pub name: Name,
    pub scopes: ScopeSet,
    pub audiences: Vec<Audience>,
    pub status: ClientStatus,
    /// May introspect tokens whose audience is among its `audiences`.
    pub resource_server: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: Option<i64>,
    /// Where token requests may come from; empty allows every address.
    pub ip_allowlist: IpAllowlist,
    /// Its own limit; `None` follows its scopes' tier, else none.
    pub rate_limit_per_minute: Option<u32>,
    /// Usage, as of the last write-behind flush.
    pub last_used_at: Option<i64>,
    pub request_count: i64,
    /// The one way it may authenticate; `None` allows whatever it holds.
    pub auth_method: Option<AuthMethod>,
    /// The keys its `private_key_jwt` assertions are signed with.
    pub public_keys: ClientKeys,
    /// Where it publishes further keys, fetched when a kid is unknown.
    pub jwks_uri: Option<String>,
    /// Every token request must carry a DPoP proof (RFC 9449 §5.2).
    pub dpop_bound_access_tokens: bool,
    /// The workloads whose platform tokens sign in as this client.
    pub federated_subjects: FederatedSubjects,
}

impl Client {
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Why the client may not be used now from `ip`, if it may not: its
    /// allowlist, then its status, then its expiry.
    pub fn unusable(&self, ip: Option<IpAddr>, now: i64) -> Option<Unusable> {
        if !self.allows_ip(ip) {
            Some(Unusable::IpNotAllowed)
        } else if self.status == ClientStatus::Deactivated {
            Some(Unusable::Deactivated)
        } else if self.is_expired(now) {
            Some(Unusable::Expired)
        } else {
            None
        }
    }

    /// Whether a request from `ip` may use the client. An unknown address
    /// passes only an empty allowlist.
    pub fn allows_ip(&self, ip: Option<IpAddr>) -> bool {
        match ip {
            Some(ip) => self.ip_allowlist.allows(ip),
            None => self.ip_allowlist.is_empty(),
        }
    }
}

/// Who made a secret, which decides how it is stored: a keyed digest for
/// one Keyward generated, argon2id for one it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretOrigin {
    Generated,
    Imported,
}

impl SecretOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretOrigin::Generated => "generated",
            SecretOrigin::Imported => "imported",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "generated" => Some(SecretOrigin::Generated),
            "imported" => Some(SecretOrigin::Imported),
            _ => None,
        }
    }
}

/// One stored hash of a client secret (a PHC-style string that names its
/// scheme), with its own end of validity: a rotated-out secret keeps
/// working until then.
#[derive(Clone)]
pub struct SecretHash {
    pub phc: String,
    pub origin: SecretOrigin,
    pub expires_at: Option<i64>,
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretHash")
            .field("phc", &"[redacted]")
            .field("origin", &self.origin)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What the token endpoint needs to know of a client: the client, its
/// organisation's plan and its live secret hashes.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client: Client,
    pub plan: Plan,
    pub secret_hashes: Vec<SecretHash>,
}
