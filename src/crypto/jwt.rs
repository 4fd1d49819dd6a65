//! RFC 9068 JWT access tokens.

use serde::Serialize;

use super::signing_key::SigningKey;

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
}

pub fn encode_access_token(key: &SigningKey, claims: &AccessTokenClaims<'_>) -> String {
    let payload = serde_json::to_vec(claims).expect("claims of strings and integers serialise");
    key.sign_compact(&payload)
}
