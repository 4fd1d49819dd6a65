//! Verifies an access token the way a resource server does: fetch the JWKS
//! over HTTP, pick the key by `kid`, check signature and claims.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};
use serde_json::Value;

use crate::support::helpers::TestApp;

#[derive(Debug)]
pub struct VerifiedToken {
    pub header: jsonwebtoken::Header,
    pub claims: Value,
}

pub async fn fetch_jwks(app: &TestApp) -> JwkSet {
    app.http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn verify(app: &TestApp, token: &str, audience: &str) -> Result<VerifiedToken, String> {
    verify_with(&fetch_jwks(app).await, token, &app.address, audience)
}

pub fn verify_with(
    jwks: &JwkSet,
    token: &str,
    issuer: &str,
    audience: &str,
) -> Result<VerifiedToken, String> {
    let header = decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.clone().ok_or("no kid")?;
    let jwk = jwks
        .find(&kid)
        .ok_or(format!("kid {kid} not in the JWKS"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iat", "nbf", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    let data = decode::<Value>(token, &key, &validation).map_err(|e| e.to_string())?;
    Ok(VerifiedToken {
        header,
        claims: data.claims,
    })
}
