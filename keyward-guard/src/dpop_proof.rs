//! A DPoP proof (RFC 9449 §4.3) as a resource server checks it: a JWS of
//! type `dpop+jwt`, signed by the public key in its `jwk` header, whose
//! thumbprint is the token's `cnf.jkt`, for this request (`htm`, `htu`) and
//! this token (`ath`), recently (`iat`) and once (`jti`).

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use moka::sync::Cache;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The algorithms a proof may be signed with: Keyward's own list
/// (`dpop_signing_alg_values_supported`), as the challenge's `algs` says.
pub const PROOF_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::PS256,
];
pub const PROOF_ALGS: &str = "ES256 EdDSA RS256 PS256";

/// How long after its `iat` a proof is accepted, and how far ahead of our
/// clock; Keyward's token endpoint has the same window.
const MAX_AGE_SECONDS: i64 = 300;
const LEEWAY_SECONDS: i64 = 60;

#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    ath: String,
}

/// What a proof must match.
pub struct Expected<'a> {
    pub method: &'a str,
    /// The URL the client called, without query or fragment.
    pub url: &'a str,
    pub token: &'a str,
    /// The token's `cnf.jkt`.
    pub jkt: &'a str,
}

/// Checks proofs and remembers the `jti`s of accepted ones for as long as
/// they would be good, up to `capacity` of them.
pub struct ProofChecker {
    seen: Cache<[u8; 32], ()>,
}

impl ProofChecker {
    pub fn new(capacity: u64) -> Self {
        let window = (MAX_AGE_SECONDS + LEEWAY_SECONDS) as u64;
        Self {
            seen: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(Duration::from_secs(window))
                .build(),
        }
    }

    /// Whether `proof` is good for `expected` at `now` (Unix seconds); the
    /// text says why not.
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
            .filter(|a| PROOF_ALGORITHMS.contains(a))
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
        if claims.ath != URL_SAFE_NO_PAD.encode(Sha256::digest(expected.token)) {
            return Err("the DPoP proof is for another token");
        }
        if claims.iat < now - MAX_AGE_SECONDS || claims.iat > now + LEEWAY_SECONDS {
            return Err("the DPoP proof is too old or from the future");
        }
        // Last, so that only proofs good in every other way are remembered.
        let seen = Sha256::new()
            .chain_update(expected.jkt)
            .chain_update([0])
            .chain_update(&claims.jti)
            .finalize()
            .into();
        if !self.seen.entry(seen).or_insert(()).is_fresh() {
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
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(text)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_thumbprint_is_rfc_7638s() {
        // RFC 7638 §3.1's example key and thumbprint.
        let jwk = json!({
            "kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        });
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        let mut private = jwk.clone();
        private["d"] = json!("secret");
        assert_eq!(thumbprint(&private), None);
        assert_eq!(thumbprint(&json!({"kty": "oct", "k": "a"})), None);
    }
}
