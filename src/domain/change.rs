//! Changes that every node's caches must hear of, wherever they were made.

use super::api_key::ApiKeyId;
use super::client::ClientId;
use super::organisation::OrgId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Anything about the client changed: status, secrets, or it is gone.
    Client(ClientId),
    /// Anything about the API key changed, or it is gone.
    ApiKey(ApiKeyId),
    /// The organisation changed, its plan perhaps: every credential of it.
    Organisation(OrgId),
    /// An access token was revoked; it matters until it would have expired.
    TokenRevoked { jti: String, expires_at: i64 },
}

impl Change {
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Client(_) => "client",
            Change::ApiKey(_) => "api_key",
            Change::Organisation(_) => "organisation",
            Change::TokenRevoked { .. } => "token_revoked",
        }
    }

    pub fn subject(&self) -> &str {
        match self {
            Change::Client(id) => id.as_str(),
            Change::ApiKey(id) => id.as_str(),
            Change::Organisation(id) => id.as_str(),
            Change::TokenRevoked { jti, .. } => jti,
        }
    }

    pub fn expires_at(&self) -> Option<i64> {
        match self {
            Change::Client(_) | Change::ApiKey(_) | Change::Organisation(_) => None,
            Change::TokenRevoked { expires_at, .. } => Some(*expires_at),
        }
    }

    /// The change a log row describes; `None` for a kind this version does not know.
    pub fn from_parts(kind: &str, subject: &str, expires_at: Option<i64>) -> Option<Self> {
        match kind {
            "client" => ClientId::parse(subject).ok().map(Change::Client),
            "api_key" => ApiKeyId::parse(subject).ok().map(Change::ApiKey),
            "organisation" => OrgId::parse(subject).ok().map(Change::Organisation),
            "token_revoked" => Some(Change::TokenRevoked {
                jti: subject.to_owned(),
                expires_at: expires_at?,
            }),
            _ => None,
        }
    }
}
