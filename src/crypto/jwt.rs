//! RFC 9068 JWT access tokens: encoding, and decoding with signature checks.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::keyring::KeySet;
use super::signing_key::SigningKey;

/// Longer input is never a token of ours; refusing it bounds the work.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// `aud` is a string for one audience and an array for several (RFC 7519 §4.1.3).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum AudienceClaim<'a> {
    One(&'a str),
    Many(Vec<&'a str>),
}

#[derive(Debug, Serialize)]
pub struct AccessTokenClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: AudienceClaim<'a>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub org_id: &'a str,
    /// The key the token is bound to (RFC 9449 §6.1), for DPoP tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation<'a>>,
}

/// `cnf` of a DPoP-bound token: the RFC 7638 thumbprint of the client's key.
#[derive(Debug, Serialize)]
pub struct Confirmation<'a> {
    pub jkt: &'a str,
}

pub fn encode_access_token(key: &SigningKey, claims: &AccessTokenClaims<'_>) -> String {
    let payload = serde_json::to_vec(claims).expect("claims of strings and integers serialise");
    key.sign_compact(&payload)
}

/// The claims of an access token whose signature and type checked out.
#[derive(Debug, Clone, Deserialize)]
pub struct DecodedClaims {
    pub iss: String,
    pub sub: String,
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    pub org_id: String,
    #[serde(default)]
    pub cnf: Option<DecodedConfirmation>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DecodedConfirmation {
    pub jkt: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("the typ header is not at+jwt")]
    WrongType,
    #[error("no published key has this kid")]
    UnknownKey,
    #[error("the alg header does not match the key")]
    WrongAlgorithm,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the header names a key source or extension we do not use")]
    ForeignHeader,
    #[error("the claims are not those of an access token")]
    BadClaims,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: String,
    typ: String,
    // Headers that point at a key or demand extensions: we never send them,
    // and a token carrying one is refused whoever signed it.
    jku: Option<serde::de::IgnoredAny>,
    jwk: Option<serde::de::IgnoredAny>,
    x5u: Option<serde::de::IgnoredAny>,
    x5c: Option<serde::de::IgnoredAny>,
    crit: Option<serde::de::IgnoredAny>,
}

impl Header {
    fn names_a_foreign_key(&self) -> bool {
        self.jku.is_some()
            || self.jwk.is_some()
            || self.x5u.is_some()
            || self.x5c.is_some()
            || self.crit.is_some()
    }
}

/// Checks structure, `typ`, `kid`, `alg` and signature against the published
/// keys, and returns the claims. Time and issuer are the caller's to check.
pub fn decode_access_token(keys: &KeySet, token: &str) -> Result<DecodedClaims, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed);
    }
    let (signed, signature) = token.rsplit_once('.').ok_or(JwtError::Malformed)?;
    let (header, payload) = signed.split_once('.').ok_or(JwtError::Malformed)?;
    let header: Header = decode_json(header)?;
    if header.names_a_foreign_key() {
        return Err(JwtError::ForeignHeader);
    }
    // RFC 9068 §4: "at+jwt", or its full media type.
    let typ = header.typ.to_ascii_lowercase();
    if typ != "at+jwt" && typ != "application/at+jwt" {
        return Err(JwtError::WrongType);
    }
    let key = keys
        .published()
        .iter()
        .find(|k| k.kid() == header.kid)
        .ok_or(JwtError::UnknownKey)?;
    // The key decides the algorithm; a token cannot choose `none` or HMAC.
    if header.alg != key.algorithm().as_str() {
        return Err(JwtError::WrongAlgorithm);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| JwtError::Malformed)?;
    if !key.verify(signed.as_bytes(), &signature) {
        return Err(JwtError::BadSignature);
    }
    decode_json(payload).map_err(|_| JwtError::BadClaims)
}

fn decode_json<T: for<'de> Deserialize<'de>>(part: &str) -> Result<T, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

/// A string or an array of strings (`aud`, `resource`); null is empty.
pub(crate) fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(one)) => vec![one],
        Some(OneOrMany::Many(many)) => many,
    })
}

#[cfg(test)]
mod tests;
