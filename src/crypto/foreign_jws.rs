//! Compact JWS (RFC 7515) signed by someone else: a client's assertion, and
//! later a DPoP proof or a platform's token. Parsing reads the header and
//! the claims; only `verify`, against a key we hold, says who signed them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::domain::{JwsAlgorithm, PublicJwk};

/// Longer input is never an assertion we take; refusing it bounds the work.
pub const MAX_JWS_LEN: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("alg {0} is not accepted (accepted: ES256, EdDSA or Ed25519, RS256, PS256)")]
    AlgorithmNotAllowed(String),
    #[error("the header marks extensions critical (crit), and we understand none")]
    Critical,
    #[error("the claims are not a JSON object of the expected shape")]
    BadClaims,
}

#[derive(Debug, Deserialize)]
pub struct JoseHeader {
    pub alg: String,
    pub kid: Option<String>,
    pub typ: Option<String>,
    /// The key a DPoP proof carries; a client assertion's is never trusted.
    pub jwk: Option<serde_json::Value>,
    crit: Option<serde::de::IgnoredAny>,
}

/// A JWS whose structure and algorithm check out, signature not yet checked.
#[derive(Debug)]
pub struct ForeignJws<'a> {
    pub header: JoseHeader,
    pub alg: JwsAlgorithm,
    signing_input: &'a str,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> ForeignJws<'a> {
    pub fn parse(token: &'a str) -> Result<Self, JwsError> {
        if token.len() > MAX_JWS_LEN {
            return Err(JwsError::Malformed);
        }
        let (signing_input, signature) = token.rsplit_once('.').ok_or(JwsError::Malformed)?;
        let (header, payload) = signing_input.split_once('.').ok_or(JwsError::Malformed)?;
        let header: JoseHeader =
            serde_json::from_slice(&decode(header)?).map_err(|_| JwsError::Malformed)?;
        if header.crit.is_some() {
            return Err(JwsError::Critical);
        }
        let alg = JwsAlgorithm::parse(&header.alg)
            .ok_or_else(|| JwsError::AlgorithmNotAllowed(header.alg.clone()))?;
        Ok(Self {
            header,
            alg,
            signing_input,
            payload: decode(payload)?,
            signature: decode(signature)?,
        })
    }

    /// The claims as sent. Nothing in them is to be believed before
    /// `verify` passes with a key that the claimed signer holds.
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, JwsError> {
        serde_json::from_slice(&self.payload).map_err(|_| JwsError::BadClaims)
    }

    /// Whether `key` made this signature with the header's algorithm.
    pub fn verify(&self, key: &PublicJwk) -> bool {
        key.verify(self.alg, self.signing_input.as_bytes(), &self.signature)
    }
}

fn decode(part: &str) -> Result<Vec<u8>, JwsError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwsError::Malformed)
}

/// A NumericDate (RFC 7519 §2): seconds, an integer or a fraction, which
/// is cut to whole seconds.
pub(crate) fn numeric_date<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<i64>, D::Error> {
    let value = Option::<serde_json::Number>::deserialize(d)?;
    value
        .map(|n| {
            n.as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.is_finite() && f.abs() < 1e15)
                        .map(|f| f as i64)
                })
                .ok_or_else(|| serde::de::Error::custom("not a NumericDate"))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn signed(pair: &EcdsaKeyPair, header: serde_json::Value, claims: serde_json::Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", b64(sig.as_ref()))
    }

    fn key_of(pair: &EcdsaKeyPair) -> PublicJwk {
        let p = pair.public_key().as_ref();
        PublicJwk::from_json(
            &json!({"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..])}),
        )
        .unwrap()
    }

    #[derive(Deserialize)]
    struct Claims {
        sub: String,
        #[serde(default, deserialize_with = "numeric_date")]
        exp: Option<i64>,
    }

    #[test]
    fn a_signed_token_verifies_with_its_key_only() {
        let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let other = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let token = signed(
            &pair,
            json!({"alg": "ES256", "kid": "k"}),
            json!({"sub": "a", "exp": 17.9}),
        );
        let jws = ForeignJws::parse(&token).unwrap();
        assert_eq!(jws.header.kid.as_deref(), Some("k"));
        assert!(jws.verify(&key_of(&pair)));
        assert!(!jws.verify(&key_of(&other)));
        let claims: Claims = jws.claims().unwrap();
        assert_eq!((claims.sub.as_str(), claims.exp), ("a", Some(17)));
        // One changed payload byte and the signature no longer holds.
        let (head, rest) = token.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let forged = format!("{head}.{}.{sig}", b64(br#"{"sub":"b"}"#));
        assert!(!ForeignJws::parse(&forged).unwrap().verify(&key_of(&pair)));
    }

    #[test]
    fn none_hmac_crit_and_garbage_are_refused_before_any_key() {
        let unsigned = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(b"{}"));
        assert_eq!(
            ForeignJws::parse(&unsigned).unwrap_err(),
            JwsError::AlgorithmNotAllowed("none".into())
        );
        let hmac = format!("{}.{}.AAAA", b64(br#"{"alg":"HS256"}"#), b64(b"{}"));
        assert!(matches!(
            ForeignJws::parse(&hmac),
            Err(JwsError::AlgorithmNotAllowed(_))
        ));
        let crit = format!(
            "{}.{}.AAAA",
            b64(br#"{"alg":"ES256","crit":["x"]}"#),
            b64(b"{}")
        );
        assert_eq!(ForeignJws::parse(&crit).unwrap_err(), JwsError::Critical);
        for garbage in ["", "a.b", "a.b.c", "....", &"a".repeat(MAX_JWS_LEN + 1)] {
            assert_eq!(
                ForeignJws::parse(garbage).unwrap_err(),
                JwsError::Malformed,
                "{garbage:.20}"
            );
        }
    }
}
