use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};

use super::*;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn ec_pair() -> EcdsaKeyPair {
    EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap()
}

fn ec_jwk(pair: &EcdsaKeyPair) -> Value {
    let point = pair.public_key().as_ref();
    json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..])})
}

#[test]
fn an_ec_key_verifies_es256_and_nothing_else() {
    let pair = ec_pair();
    let key = PublicJwk::from_json(&ec_jwk(&pair)).unwrap();
    let signature = pair.sign(&SystemRandom::new(), b"message").unwrap();
    assert!(key.verify(JwsAlgorithm::ES256, b"message", signature.as_ref()));
    assert!(!key.verify(JwsAlgorithm::ES256, b"messagf", signature.as_ref()));
    assert!(!key.verify(JwsAlgorithm::RS256, b"message", signature.as_ref()));
    assert!(key.accepts(JwsAlgorithm::ES256) && !key.accepts(JwsAlgorithm::EdDSA));
}

#[test]
fn the_thumbprint_hashes_the_required_members_in_order_and_is_the_default_kid() {
    let pair = ec_pair();
    let jwk = ec_jwk(&pair);
    let key = PublicJwk::from_json(&jwk).unwrap();
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        jwk["x"].as_str().unwrap(),
        jwk["y"].as_str().unwrap()
    );
    let expected = b64(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref());
    assert_eq!(key.thumbprint(), expected);
    assert_eq!(key.kid(), expected);
    // Optional members change neither the thumbprint nor the key.
    let mut with_extras = jwk.clone();
    with_extras["kid"] = json!("mine");
    with_extras["use"] = json!("sig");
    let named = PublicJwk::from_json(&with_extras).unwrap();
    assert_eq!(named.thumbprint(), expected);
    assert_eq!(named.kid(), "mine");
}

#[test]
fn ed25519_and_rsa_keys_verify_their_algorithms() {
    let rng = SystemRandom::new();
    let ed = Ed25519KeyPair::generate().unwrap();
    let key = PublicJwk::from_json(&json!({
        "kty": "OKP", "crv": "Ed25519", "x": b64(ed.public_key().as_ref())
    }))
    .unwrap();
    assert!(key.verify(JwsAlgorithm::EdDSA, b"m", ed.sign(b"m").as_ref()));

    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let components = RsaPublicKeyComponents::<Vec<u8>>::from(rsa.public_key());
    let key = PublicJwk::from_json(&json!({
        "kty": "RSA", "n": b64(&components.n), "e": b64(&components.e)
    }))
    .unwrap();
    let mut pkcs1 = vec![0; rsa.public_modulus_len()];
    rsa.sign(&signature::RSA_PKCS1_SHA256, &rng, b"m", &mut pkcs1)
        .unwrap();
    let mut pss = vec![0; rsa.public_modulus_len()];
    rsa.sign(&signature::RSA_PSS_SHA256, &rng, b"m", &mut pss)
        .unwrap();
    assert!(key.verify(JwsAlgorithm::RS256, b"m", &pkcs1));
    assert!(key.verify(JwsAlgorithm::PS256, b"m", &pss));
    assert!(!key.verify(JwsAlgorithm::RS256, b"m", &pss));
}

#[test]
fn ed25519_is_eddsa_by_its_rfc_9864_name() {
    assert_eq!(JwsAlgorithm::parse("Ed25519"), Some(JwsAlgorithm::EdDSA));
    assert_eq!(JwsAlgorithm::parse("EdDSA"), Some(JwsAlgorithm::EdDSA));
    assert_eq!(JwsAlgorithm::parse("Ed448"), None);
    assert_eq!(JwsAlgorithm::parse("HS256"), None);
    assert_eq!(JwsAlgorithm::parse("none"), None);
}

#[test]
fn a_declared_alg_is_the_only_one_it_verifies() {
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let c = RsaPublicKeyComponents::<Vec<u8>>::from(rsa.public_key());
    let key = PublicJwk::from_json(&json!({
        "kty": "RSA", "n": b64(&c.n), "e": b64(&c.e), "alg": "PS256"
    }))
    .unwrap();
    assert!(key.accepts(JwsAlgorithm::PS256) && !key.accepts(JwsAlgorithm::RS256));
    let mismatched = json!({"kty": "RSA", "n": b64(&c.n), "e": b64(&c.e), "alg": "ES256"});
    assert!(matches!(
        PublicJwk::from_json(&mismatched),
        Err(JwkError::AlgorithmNotAllowed(_))
    ));
}

#[test]
fn pem_public_keys_of_each_type_become_the_same_jwk() {
    let pair = ec_pair();
    let spki = pair.public_key().as_der().unwrap();
    let pem_text = pem::encode(&pem::Pem::new("PUBLIC KEY", spki.as_ref().to_vec()));
    let from_pem = PublicJwk::from_pem(&pem_text, None).unwrap();
    assert_eq!(from_pem, PublicJwk::from_json(&ec_jwk(&pair)).unwrap());

    let ed = Ed25519KeyPair::generate().unwrap();
    let spki = ed.public_key().as_der().unwrap();
    let pem_text = pem::encode(&pem::Pem::new("PUBLIC KEY", spki.as_ref().to_vec()));
    let key = PublicJwk::from_pem(&pem_text, Some("ed".into())).unwrap();
    assert_eq!((key.kty(), key.kid()), ("OKP", "ed"));

    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let spki = rsa.public_key().as_der().unwrap();
    let pem_text = pem::encode(&pem::Pem::new("PUBLIC KEY", spki.as_ref().to_vec()));
    assert_eq!(PublicJwk::from_pem(&pem_text, None).unwrap().kty(), "RSA");
}

#[test]
fn private_symmetric_weak_and_malformed_keys_are_refused() {
    let pair = ec_pair();
    let mut private = ec_jwk(&pair);
    private["d"] = json!("AAAA");
    assert_eq!(PublicJwk::from_json(&private), Err(JwkError::PrivateKey));
    assert_eq!(
        PublicJwk::from_json(&json!({"kty": "oct", "k": "c2VjcmV0"})),
        Err(JwkError::Symmetric)
    );
    let p384 = json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"});
    assert_eq!(PublicJwk::from_json(&p384), Err(JwkError::UnsupportedKey));
    let mut off_curve = ec_jwk(&pair);
    off_curve["y"] = json!(b64(&[7; 32]));
    assert_eq!(PublicJwk::from_json(&off_curve), Err(JwkError::Invalid));
    let mut short = ec_jwk(&pair);
    short["x"] = json!(b64(&[7; 31]));
    assert_eq!(PublicJwk::from_json(&short), Err(JwkError::BadMember("x")));
    let small_rsa = json!({"kty": "RSA", "n": b64(&[0xc5; 128]), "e": "AQAB"});
    assert_eq!(PublicJwk::from_json(&small_rsa), Err(JwkError::RsaSize));
    let mut encryption = ec_jwk(&pair);
    encryption["use"] = json!("enc");
    assert_eq!(
        PublicJwk::from_json(&encryption),
        Err(JwkError::NotForSignatures)
    );
    let mut bad_kid = ec_jwk(&pair);
    bad_kid["kid"] = json!("has space");
    assert_eq!(PublicJwk::from_json(&bad_kid), Err(JwkError::BadKid));
    assert_eq!(PublicJwk::from_json(&json!("text")), Err(JwkError::NotAJwk));
    let private_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert_eq!(
        PublicJwk::from_pem(private_pem, None),
        Err(JwkError::PrivateKey)
    );
    assert_eq!(
        PublicJwk::from_pem("nonsense", None),
        Err(JwkError::NotAPem)
    );
}

#[test]
fn the_stored_form_parses_back_to_the_same_key() {
    let pair = ec_pair();
    let mut jwk = ec_jwk(&pair);
    jwk["alg"] = json!("ES256");
    jwk["kid"] = json!("k1");
    let key = PublicJwk::from_json(&jwk).unwrap();
    let again = PublicJwk::from_json(&key.to_json()).unwrap();
    assert_eq!(key, again);
    assert_eq!(again.alg(), Some(JwsAlgorithm::ES256));
}
