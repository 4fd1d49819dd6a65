//! How a client proves who it is at the token endpoint, and the public keys
//! it signs `private_key_jwt` assertions with (RFC 7523 §2.2).

use std::fmt;

use serde_json::Value;

use super::public_jwk::{JwkError, PublicJwk};

/// A client's registered method (RFC 7591 `token_endpoint_auth_method`).
/// A client without one may use whatever it holds: its secret, by either
/// method, or a registered key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 3] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::PrivateKeyJwt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == raw)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientKeyError {
    #[error(transparent)]
    Jwk(#[from] JwkError),
    #[error(
        "a client holds at most {} public keys; remove one first",
        ClientKeys::MAX
    )]
    TooMany,
    #[error("the client already has a key with kid {0}")]
    DuplicateKid(String),
    #[error("the client already has this key (kid {0})")]
    DuplicateKey(String),
}

/// The public keys registered for a client, each with its own kid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientKeys(Vec<PublicJwk>);

impl ClientKeys {
    pub const MAX: usize = 5;

    /// The stored form: a JSON array of public JWKs.
    pub fn from_stored(json: &str) -> Result<Self, ClientKeyError> {
        let values: Vec<Value> =
            serde_json::from_str(json).map_err(|_| ClientKeyError::Jwk(JwkError::NotAJwk))?;
        let mut keys = Self::default();
        for value in &values {
            keys.add(PublicJwk::from_json(value)?)?;
        }
        Ok(keys)
    }

    pub fn to_stored(&self) -> String {
        Value::Array(self.0.iter().map(PublicJwk::to_json).collect()).to_string()
    }

    pub fn add(&mut self, key: PublicJwk) -> Result<(), ClientKeyError> {
        if self.0.len() >= Self::MAX {
            return Err(ClientKeyError::TooMany);
        }
        if let Some(same) = self.0.iter().find(|k| k.thumbprint() == key.thumbprint()) {
            return Err(ClientKeyError::DuplicateKey(same.kid().into()));
        }
        if self.get(key.kid()).is_some() {
            return Err(ClientKeyError::DuplicateKid(key.kid().into()));
        }
        self.0.push(key);
        Ok(())
    }

    /// Removes the key with `kid`; whether there was one.
    pub fn remove(&mut self, kid: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|k| k.kid() != kid);
        self.0.len() != before
    }

    pub fn get(&self, kid: &str) -> Option<&PublicJwk> {
        self.0.iter().find(|k| k.kid() == kid)
    }

    pub fn iter(&self) -> impl Iterator<Item = &PublicJwk> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::json;

    fn key(kid: Option<&str>) -> PublicJwk {
        let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let p = pair.public_key().as_ref();
        let mut jwk = json!({"kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&p[1..33]), "y": URL_SAFE_NO_PAD.encode(&p[33..])});
        if let Some(kid) = kid {
            jwk["kid"] = json!(kid);
        }
        PublicJwk::from_json(&jwk).unwrap()
    }

    #[test]
    fn keys_round_trip_through_their_stored_form() {
        let mut keys = ClientKeys::default();
        keys.add(key(Some("a"))).unwrap();
        keys.add(key(None)).unwrap();
        let again = ClientKeys::from_stored(&keys.to_stored()).unwrap();
        assert_eq!(again, keys);
        assert!(again.get("a").is_some());
        assert_eq!(ClientKeys::from_stored("[]").unwrap().len(), 0);
    }

    #[test]
    fn kids_and_keys_are_unique_and_their_number_bounded() {
        let mut keys = ClientKeys::default();
        let first = key(Some("a"));
        keys.add(first.clone()).unwrap();
        assert_eq!(
            keys.add(key(Some("a"))),
            Err(ClientKeyError::DuplicateKid("a".into()))
        );
        assert_eq!(
            keys.add(first),
            Err(ClientKeyError::DuplicateKey("a".into()))
        );
        for _ in 1..ClientKeys::MAX {
            keys.add(key(None)).unwrap();
        }
        assert_eq!(keys.add(key(None)), Err(ClientKeyError::TooMany));
        assert!(keys.remove("a") && !keys.remove("a"));
        assert_eq!(keys.len(), ClientKeys::MAX - 1);
    }
}
