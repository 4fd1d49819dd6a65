//! Public keys whose private half someone else holds: a client's keys for
//! `private_key_jwt` (RFC 7523 §2.2), and later a trusted issuer's keys or a
//! DPoP proof's key. A key is parsed once, from a JWK (RFC 7517) or a PEM
//! `PUBLIC KEY`, refused if it carries private members, and verifies only
//! with the algorithms on our allowlist: never `none`, never HMAC.

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};

/// The algorithms a signature from outside may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsAlgorithm {
    ES256,
    EdDSA,
    RS256,
    PS256,
}

impl JwsAlgorithm {
    pub const ALL: [JwsAlgorithm; 4] = [Self::ES256, Self::EdDSA, Self::RS256, Self::PS256];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
        }
    }

    /// Also takes `Ed25519`, RFC 9864's fully specified name for EdDSA on
    /// Ed25519 (the only EdDSA curve we take), which newer clients send.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "Ed25519" => Some(Self::EdDSA),
            _ => Self::ALL.into_iter().find(|a| a.as_str() == raw),
        }
    }

    /// The names a signer may use, for the metadata document.
    pub const NAMES: [&'static str; 5] = ["ES256", "EdDSA", "Ed25519", "RS256", "PS256"];
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    #[error("not a JSON object with a kty")]
    NotAJwk,
    #[error("this is a private key: register only its public half")]
    PrivateKey,
    #[error("symmetric (oct) keys are not accepted: they would let the server forge assertions")]
    Symmetric,
    #[error("unsupported key type: use an EC P-256, Ed25519 or RSA key")]
    UnsupportedKey,
    #[error("member {0} is missing or not base64url")]
    BadMember(&'static str),
    #[error("the key's coordinates are not a valid point or key")]
    Invalid,
    #[error("an RSA key must have 2048 to 8192 bits")]
    RsaSize,
    #[error("alg {0} is not accepted for this key (accepted: ES256 for EC, EdDSA for Ed25519, RS256 or PS256 for RSA)")]
    AlgorithmNotAllowed(String),
    #[error("the key is not for signatures (use or key_ops)")]
    NotForSignatures,
    #[error("kid must be 1 to 128 printable ASCII characters")]
    BadKid,
    #[error("not a PEM public key (-----BEGIN PUBLIC KEY-----)")]
    NotAPem,
}

#[derive(Clone)]
enum Material {
    Ec { x: Vec<u8>, y: Vec<u8> },
    Ed25519 { x: Vec<u8> },
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

/// A verified-parsable public key with its `kid` and, when declared, the
/// one algorithm it may verify.
#[derive(Clone)]
pub struct PublicJwk {
    kid: String,
    alg: Option<JwsAlgorithm>,
    material: Material,
    thumbprint: String,
    verifiers: Vec<(JwsAlgorithm, ParsedPublicKey)>,
}

impl fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicJwk")
            .field("kid", &self.kid)
            .field("kty", &self.kty())
            .field("thumbprint", &self.thumbprint)
            .finish()
    }
}

impl PartialEq for PublicJwk {
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid && self.alg == other.alg && self.thumbprint == other.thumbprint
    }
}

const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const MAX_KID_LEN: usize = 128;

impl PublicJwk {
    /// Parses a public JWK. Without a `kid`, its RFC 7638 thumbprint is
    /// the kid.
    pub fn from_json(value: &Value) -> Result<Self, JwkError> {
        let object = value.as_object().ok_or(JwkError::NotAJwk)?;
        let kty = object
            .get("kty")
            .and_then(Value::as_str)
            .ok_or(JwkError::NotAJwk)?;
        if kty == "oct" {
            return Err(JwkError::Symmetric);
        }
        if PRIVATE_MEMBERS.iter().any(|m| object.contains_key(*m)) {
            return Err(JwkError::PrivateKey);
        }
        check_use(object)?;
        let material = match (kty, object.get("crv").and_then(Value::as_str)) {
            ("EC", Some("P-256")) => Material::Ec {
                x: member(object, "x", Some(32))?,
                y: member(object, "y", Some(32))?,
            },
            ("OKP", Some("Ed25519")) => Material::Ed25519 {
                x: member(object, "x", Some(32))?,
            },
            ("RSA", _) => Material::Rsa {
                n: strip_leading_zeros(member(object, "n", None)?),
                e: strip_leading_zeros(member(object, "e", None)?),
            },
            _ => return Err(JwkError::UnsupportedKey),
        };
        let alg = match object.get("alg") {
            None => None,
            Some(raw) => {
                let raw = raw.as_str().unwrap_or_default();
                Some(
                    JwsAlgorithm::parse(raw)
                        .ok_or_else(|| JwkError::AlgorithmNotAllowed(raw.into()))?,
                )
            }
        };
        let kid = match object.get("kid") {
            None => None,
            Some(kid) => Some(kid.as_str().ok_or(JwkError::BadKid)?.to_owned()),
        };
        Self::build(material, alg, kid)
    }

    /// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) of an EC P-256,
    /// Ed25519 or RSA key.
    pub fn from_pem(pem_text: &str, kid: Option<String>) -> Result<Self, JwkError> {
        let block = pem::parse(pem_text.trim()).map_err(|_| JwkError::NotAPem)?;
        if block.tag() != "PUBLIC KEY" {
            return Err(if block.tag().contains("PRIVATE") {
                JwkError::PrivateKey
            } else {
                JwkError::NotAPem
            });
        }
        Self::build(material_of_spki(block.contents())?, None, kid)
    }

    fn build(
        material: Material,
        alg: Option<JwsAlgorithm>,
        kid: Option<String>,
    ) -> Result<Self, JwkError> {
        if let Some(alg) = alg {
            if !material.allows(alg) {
                return Err(JwkError::AlgorithmNotAllowed(alg.as_str().into()));
            }
        }
        let verifiers = material
            .algorithms()
            .iter()
            .filter(|a| alg.is_none_or(|only| only == **a))
            .map(|a| Ok((*a, material.parsed(*a)?)))
            .collect::<Result<Vec<_>, JwkError>>()?;
        let thumbprint = material.thumbprint();
        let kid = match kid {
            Some(kid) if valid_kid(&kid) => kid,
            Some(_) => return Err(JwkError::BadKid),
            None => thumbprint.clone(),
        };
        Ok(Self {
            kid,
            alg,
            material,
            thumbprint,
            verifiers,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn kty(&self) -> &'static str {
        match self.material {
            Material::Ec { .. } => "EC",
            Material::Ed25519 { .. } => "OKP",
            Material::Rsa { .. } => "RSA",
        }
    }

    pub fn alg(&self) -> Option<JwsAlgorithm> {
        self.alg
    }

    /// The RFC 7638 SHA-256 thumbprint, base64url: what DPoP's `jkt` is.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// Whether this key may verify signatures made with `alg`.
    pub fn accepts(&self, alg: JwsAlgorithm) -> bool {
        self.verifiers.iter().any(|(a, _)| *a == alg)
    }

    /// Whether `signature` is this key's `alg` signature of `message`.
    pub fn verify(&self, alg: JwsAlgorithm, message: &[u8], signature: &[u8]) -> bool {
        self.verifiers
            .iter()
            .find(|(a, _)| *a == alg)
            .is_some_and(|(_, key)| key.verify_sig(message, signature).is_ok())
    }

    /// The public JWK as we store and show it: the key's own members, its
    /// kid and, when declared, its alg.
    pub fn to_json(&self) -> Value {
        let mut out = self.material.required_members();
        let object = out.as_object_mut().expect("members are an object");
        object.insert("kid".into(), Value::String(self.kid.clone()));
        if let Some(alg) = self.alg {
            object.insert("alg".into(), Value::String(alg.as_str().into()));
        }
        out
    }
}

impl Material {
    fn algorithms(&self) -> &'static [JwsAlgorithm] {
        match self {
            Material::Ec { .. } => &[JwsAlgorithm::ES256],
            Material::Ed25519 { .. } => &[JwsAlgorithm::EdDSA],
            Material::Rsa { .. } => &[JwsAlgorithm::RS256, JwsAlgorithm::PS256],
        }
    }

    fn allows(&self, alg: JwsAlgorithm) -> bool {
        self.algorithms().contains(&alg)
    }

    fn parsed(&self, alg: JwsAlgorithm) -> Result<ParsedPublicKey, JwkError> {
        let parsed = match (self, alg) {
            (Material::Ec { x, y }, JwsAlgorithm::ES256) => {
                let point = [&[4u8][..], x, y].concat();
                ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .map_err(|_| JwkError::Invalid)
            }
            (Material::Ed25519 { x }, JwsAlgorithm::EdDSA) => {
                ParsedPublicKey::new(&signature::ED25519, x).map_err(|_| JwkError::Invalid)
            }
            (Material::Rsa { n, e }, JwsAlgorithm::RS256 | JwsAlgorithm::PS256) => {
                if !(256..=1024).contains(&n.len()) {
                    return Err(JwkError::RsaSize);
                }
                let params = if alg == JwsAlgorithm::RS256 {
                    &signature::RSA_PKCS1_2048_8192_SHA256
                } else {
                    &signature::RSA_PSS_2048_8192_SHA256
                };
                RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(params)
                    .map_err(|_| JwkError::Invalid)
            }
            _ => Err(JwkError::AlgorithmNotAllowed(alg.as_str().into())),
        }?;
        Ok(parsed)
    }

    /// The members RFC 7638 hashes, in its order; also the stored form.
    fn required_members(&self) -> Value {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        match self {
            Material::Ec { x, y } => json!({"crv": "P-256", "kty": "EC", "x": b64(x), "y": b64(y)}),
            Material::Ed25519 { x } => json!({"crv": "Ed25519", "kty": "OKP", "x": b64(x)}),
            Material::Rsa { n, e } => json!({"e": b64(e), "kty": "RSA", "n": b64(n)}),
        }
    }

    fn thumbprint(&self) -> String {
        // serde_json keeps object keys sorted and writes no whitespace,
        // which is RFC 7638's canonical form for these members.
        let canonical = self.required_members().to_string();
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
    }
}

fn member(
    object: &Map<String, Value>,
    name: &'static str,
    len: Option<usize>,
) -> Result<Vec<u8>, JwkError> {
    let bytes = object
        .get(name)
        .and_then(Value::as_str)
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .filter(|b| !b.is_empty())
        .ok_or(JwkError::BadMember(name))?;
    match len {
        Some(len) if bytes.len() != len => Err(JwkError::BadMember(name)),
        _ => Ok(bytes),
    }
}

fn check_use(object: &Map<String, Value>) -> Result<(), JwkError> {
    if object.get("use").is_some_and(|u| u != "sig") {
        return Err(JwkError::NotForSignatures);
    }
    if let Some(ops) = object.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op == "verify"));
        if !verifies {
            return Err(JwkError::NotForSignatures);
        }
    }
    Ok(())
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros.min(bytes.len().saturating_sub(1)));
    bytes
}

fn valid_kid(kid: &str) -> bool {
    (1..=MAX_KID_LEN).contains(&kid.len()) && kid.bytes().all(|b| b.is_ascii_graphic())
}

// The fixed DER prefixes of SubjectPublicKeyInfo for the two curves we take:
// id-ecPublicKey with prime256v1 and an uncompressed point, and id-Ed25519.
const P256_SPKI_PREFIX: [u8; 27] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
];
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

fn material_of_spki(der: &[u8]) -> Result<Material, JwkError> {
    if let Some(point) = der.strip_prefix(&P256_SPKI_PREFIX[..]) {
        if point.len() != 64 {
            return Err(JwkError::Invalid);
        }
        let (x, y) = point.split_at(32);
        return Ok(Material::Ec {
            x: x.to_vec(),
            y: y.to_vec(),
        });
    }
    if let Some(x) = der.strip_prefix(&ED25519_SPKI_PREFIX[..]) {
        if x.len() != 32 {
            return Err(JwkError::Invalid);
        }
        return Ok(Material::Ed25519 { x: x.to_vec() });
    }
    let rsa = aws_lc_rs::rsa::PublicKey::from_der(der).map_err(|_| JwkError::UnsupportedKey)?;
    let components = RsaPublicKeyComponents::<Vec<u8>>::from(&rsa);
    Ok(Material::Rsa {
        n: strip_leading_zeros(components.n),
        e: strip_leading_zeros(components.e),
    })
}

#[cfg(test)]
mod tests;
