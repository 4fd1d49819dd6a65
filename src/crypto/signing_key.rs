//! One signing key: PKCS#8 key material, its JWK, and JWS signing.
//! The parsed key pair stays in memory, so a token costs one signature and
//! no key parsing. aws-lc-rs signs and verifies every algorithm: measured
//! here, it signs Ed25519 twice as fast as ed25519-dalek and ring, and P-256
//! a tenth faster than ring.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;

/// Seeds the calling thread's random generator, which aws-lc does on a
/// thread's first draw from CPU jitter: tens of milliseconds that would
/// otherwise fall on the first token signed by each worker after a start.
pub fn seed_thread_rng() {
    use aws_lc_rs::rand::SecureRandom;
    let mut byte = [0u8; 1];
    // A failure here fails the first signature the same way: nothing to add.
    let _ = SystemRandom::new().fill(&mut byte);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SigningAlgorithm {
    ES256,
    EdDSA,
    RS256,
}

impl SigningAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::ES256 => "ES256",
            SigningAlgorithm::EdDSA => "EdDSA",
            SigningAlgorithm::RS256 => "RS256",
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlgorithm {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "ES256" => Ok(SigningAlgorithm::ES256),
            "EdDSA" => Ok(SigningAlgorithm::EdDSA),
            "RS256" => Ok(SigningAlgorithm::RS256),
            other => Err(format!(
                "unknown signing algorithm '{other}': expected ES256, EdDSA or RS256"
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyMaterialError {
    #[error("not a PKCS#8 P-256, Ed25519 or RSA private key")]
    Unrecognised,
    #[error("key generation failed: {0}")]
    Generation(String),
}

enum KeyPairKind {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

pub struct SigningKey {
    kid: String,
    alg: SigningAlgorithm,
    pair: KeyPairKind,
    /// The public key as aws-lc-rs verifies it: an uncompressed point, the
    /// raw Ed25519 key, or a DER RSAPublicKey.
    public_key: Vec<u8>,
    jwk: serde_json::Value,
    /// base64url of the JOSE header, the same for every token this key signs.
    header_b64: String,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// New PKCS#8 (DER) private key material for `alg`.
pub fn generate_pkcs8(alg: SigningAlgorithm) -> Result<Vec<u8>, KeyMaterialError> {
    let rng = SystemRandom::new();
    let failed = |e: &dyn fmt::Display| KeyMaterialError::Generation(e.to_string());
    match alg {
        SigningAlgorithm::ES256 => {
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map(|doc| doc.as_ref().to_vec())
                .map_err(|e| failed(&e))
        }
        SigningAlgorithm::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng)
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|e| failed(&e)),
        SigningAlgorithm::RS256 => RsaKeyPair::generate(KeySize::Rsa2048)
            .and_then(|pair| pair.as_der())
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|e| failed(&e)),
    }
}

impl SigningKey {
    /// Recognises the algorithm from the key material itself.
    pub fn from_pkcs8(kid: &str, der: &[u8]) -> Result<Self, KeyMaterialError> {
        let (alg, pair, jwk) = if let Ok(pair) =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
        {
            let point = pair.public_key().as_ref();
            let jwk = json!({
                "kty": "EC", "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            });
            (SigningAlgorithm::ES256, KeyPairKind::Ecdsa(pair), jwk)
        } else if let Ok(pair) = Ed25519KeyPair::from_pkcs8(der) {
            let jwk = json!({
                "kty": "OKP", "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
            });
            (SigningAlgorithm::EdDSA, KeyPairKind::Ed25519(pair), jwk)
        } else if let Ok(pair) = RsaKeyPair::from_pkcs8(der) {
            let public = pair.public_key();
            let jwk = json!({
                "kty": "RSA",
                "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            });
            (SigningAlgorithm::RS256, KeyPairKind::Rsa(pair), jwk)
        } else {
            return Err(KeyMaterialError::Unrecognised);
        };

        let public_key = match &pair {
            KeyPairKind::Ecdsa(p) => p.public_key().as_ref().to_vec(),
            KeyPairKind::Ed25519(p) => p.public_key().as_ref().to_vec(),
            KeyPairKind::Rsa(p) => p.public_key().as_ref().to_vec(),
        };
        let mut jwk = jwk;
        jwk["kid"] = json!(kid);
        jwk["alg"] = json!(alg.as_str());
        jwk["use"] = json!("sig");
        let header = json!({ "alg": alg.as_str(), "kid": kid, "typ": "at+jwt" });
        Ok(Self {
            kid: kid.to_owned(),
            alg,
            pair,
            public_key,
            jwk,
            header_b64: URL_SAFE_NO_PAD.encode(header.to_string()),
            rng: SystemRandom::new(),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> SigningAlgorithm {
        self.alg
    }

    /// The public JWK (RFC 7517): no private parts.
    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.jwk
    }

    /// A compact JWS of `payload` under this key's `at+jwt` header.
    pub fn sign_compact(&self, payload: &[u8]) -> String {
        let mut out = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 400);
        out.push_str(&self.header_b64);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut out);
        let signature = self.sign(out.as_bytes());
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut out);
        out
    }

    /// Whether `signature` is this key's signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let algorithm: &dyn signature::VerificationAlgorithm = match self.alg {
            SigningAlgorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            SigningAlgorithm::EdDSA => &signature::ED25519,
            SigningAlgorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        };
        signature::UnparsedPublicKey::new(algorithm, &self.public_key)
            .verify(message, signature)
            .is_ok()
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.pair {
            KeyPairKind::Ecdsa(pair) => pair
                .sign(&self.rng, message)
                .expect("ECDSA signing with a valid key cannot fail")
                .as_ref()
                .to_vec(),
            KeyPairKind::Ed25519(pair) => pair.sign(message).as_ref().to_vec(),
            KeyPairKind::Rsa(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
                    .expect("RSA signing with a valid key cannot fail");
                sig
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_round_trips_through_pkcs8() {
        for alg in [
            SigningAlgorithm::ES256,
            SigningAlgorithm::EdDSA,
            SigningAlgorithm::RS256,
        ] {
            let der = generate_pkcs8(alg).unwrap();
            let key = SigningKey::from_pkcs8("k1", &der).unwrap();
            assert_eq!(key.algorithm(), alg);
            let jwk = key.public_jwk();
            assert_eq!(jwk["kid"], "k1");
            assert!(jwk.get("d").is_none(), "no private part in the JWK");
            assert_signs_and_verifies(&key);
        }
    }

    fn assert_signs_and_verifies(key: &SigningKey) {
        let token = key.sign_compact(b"{}");
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert!(key.verify(signed.as_bytes(), &signature));
        assert!(!key.verify(b"other", &signature));
    }

    /// Keys made by earlier versions, which generated them with ring
    /// (PKCS#8 v2 for Ed25519): test keys made so, used nowhere else.
    #[test]
    fn keys_ring_generated_still_load() {
        const ED25519: &str = "MFECAQEwBQYDK2VwBCIEIF5iEkE3txgh0DPMlLxI+EpAGK8jeO2Rbro63FZbEpXFgSEAG83qND03gWMab5i4D8dUULRF7ssftfE6qd3jCB1aSng=";
        const P256: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgNpShTzK7drQ5dtdrs3xau493yRzyBIghp41Tx6//HMyhRANCAASZw8G9GFoKYrlxFRs7ZRSag15scvnMhdT0E2W5a1a2ohzX0p3HiI6i2Cxj6KbXd8j+lTtWoRze4ZpGryn42HTs";
        let decode = |b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap()
        };
        for (der, alg) in [
            (decode(ED25519), SigningAlgorithm::EdDSA),
            (decode(P256), SigningAlgorithm::ES256),
        ] {
            let der = der.as_slice();
            let key = SigningKey::from_pkcs8("old", der).unwrap();
            assert_eq!(key.algorithm(), alg);
            assert_signs_and_verifies(&key);
        }
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(SigningKey::from_pkcs8("k", b"not a key").is_err());
    }
}
