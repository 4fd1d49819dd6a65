//! DPoP at a resource server (RFC 9449 §7): a token bound to a key
//! (`cnf.jkt`) is good only with a proof that the key signed for this
//! request (`htm`, `htu`) and this token (`ath`), recently and once.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

/// How long after its `iat` a proof is accepted, and how far ahead.
const MAX_AGE_SECONDS: i64 = 300;
const LEEWAY_SECONDS: i64 = 60;
const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::PS256,
];

#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    ath: String,
}

/// Checks proofs and remembers their `jti`s for as long as they are good.
pub struct ProofChecker {
    seen: moka::sync::Cache<String, ()>,
}

/// What a proof must match.
pub struct Expected<'a> {
    pub method: &'a str,
    /// The request's URL without query or fragment.
    pub url: &'a str,
    pub token: &'a str,
    /// The token's `cnf.jkt`.
    pub jkt: &'a str,
}

impl Default for ProofChecker {
    fn default() -> Self {
        Self {
            seen: moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(Duration::from_secs(
                    (MAX_AGE_SECONDS + LEEWAY_SECONDS) as u64,
                ))
                .build(),
        }
    }
}

impl ProofChecker {
    /// Whether `proof` is good for `expected` at `now`; the text says why not.
    pub fn check(
        &self,
        proof: &str,
        expected: &Expected<'_>,
        now: i64,
    ) -> Result<(), &'static str> {
        let header = proof_header(proof).ok_or("the DPoP proof is malformed")?;
        if !header["typ"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt"))
        {
            return Err("the DPoP proof's typ is not dpop+jwt");
        }
        let alg = header["alg"]
            .as_str()
            .and_then(|a| a.parse::<Algorithm>().ok())
            .filter(|a| ALGORITHMS.contains(a))
            .ok_or("the DPoP proof's alg is not accepted")?;
        let jwk = &header["jwk"];
        if thumbprint(jwk).as_deref() != Some(expected.jkt) {
            return Err("the DPoP proof is not signed by the token's key");
        }
        let key = serde_json::from_value::<Jwk>(jwk.clone())
            .ok()
            .and_then(|jwk| DecodingKey::from_jwk(&jwk).ok())
            .ok_or("the DPoP proof's jwk is not a usable public key")?;
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = decode::<ProofClaims>(proof, &key, &validation)
            .map_err(|_| "the DPoP proof's signature or claims are not valid")?
            .claims;
        if claims.htm != expected.method
            || claims.htu.split(['?', '#']).next() != Some(expected.url)
        {
            return Err("the DPoP proof is for another request");
        }
        let ath = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, expected.token.as_bytes());
        if claims.ath != URL_SAFE_NO_PAD.encode(ath) {
            return Err("the DPoP proof is for another token");
        }
        if claims.iat < now - MAX_AGE_SECONDS || claims.iat > now + LEEWAY_SECONDS {
            return Err("the DPoP proof is too old or from the future");
        }
        let seen = self
            .seen
            .entry(format!("{}:{}", expected.jkt, claims.jti))
            .or_insert(());
        if !seen.is_fresh() {
            return Err("the DPoP proof was used before");
        }
        Ok(())
    }
}

fn proof_header(proof: &str) -> Option<Value> {
    let encoded = proof.split('.').next()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).ok()?).ok()
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK: its required members,
/// in lexical order, without whitespace. A private key has none.
fn thumbprint(jwk: &Value) -> Option<String> {
    let members: &[&str] = match jwk["kty"].as_str()? {
        _ if jwk.get("d").is_some() => return None,
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        "RSA" => &["e", "kty", "n"],
        _ => return None,
    };
    let mut canonical = serde_json::Map::new();
    for member in members {
        canonical.insert(
            (*member).to_owned(),
            Value::String(jwk[*member].as_str()?.to_owned()),
        );
    }
    // Inserted in lexical order, the order RFC 7638 asks for, whichever
    // order serde_json's map keeps.
    let text = Value::Object(canonical).to_string();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    Some(URL_SAFE_NO_PAD.encode(digest))
}
