//! Garbled tokens and odd JOSE headers: every one is refused with the
//! matching error, none panics, and a token we signed still decodes.

use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::crypto::keyring::Keyring;
use crate::crypto::signing_key::SigningAlgorithm;

const CASES: u32 = 2_000;

/// One ES256 key set for every case: making keys is the slow part.
fn keys() -> &'static KeySet {
    static KEYS: OnceLock<(tempfile::TempDir, KeySet)> = OnceLock::new();
    &KEYS
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let ring = Keyring::new(
                dir.path(),
                SigningAlgorithm::ES256,
                Duration::from_secs(960),
                std::sync::Arc::new(crate::time::SystemClock),
            );
            let keys = ring.load_or_init().unwrap();
            (dir, keys)
        })
        .1
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn claims() -> serde_json::Value {
    json!({
        "iss": "https://issuer.test", "sub": "cl_1", "aud": "https://api.test",
        "exp": 2, "iat": 1, "nbf": 1, "jti": "j", "client_id": "cl_1",
        "scope": "a:read", "org_id": "org_1"
    })
}

/// The signed part of a token, `header.payload`, with any header.
fn unsigned(header: &serde_json::Value, payload: &[u8]) -> String {
    format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload))
}

fn our_header() -> serde_json::Value {
    let key = keys().signing_key();
    json!({"alg": key.algorithm().as_str(), "kid": key.kid(), "typ": "at+jwt"})
}

fn our_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let payload = claims().to_string();
        keys().signing_key().sign_compact(payload.as_bytes())
    })
}

#[test]
fn a_token_we_signed_decodes() {
    let decoded = decode_access_token(keys(), our_token()).unwrap();
    assert_eq!(decoded.aud, ["https://api.test"]);
}

#[test]
fn refusals_name_what_was_wrong() {
    let key = keys().signing_key();
    let payload = claims().to_string();
    let cases = [
        (
            json!({"alg": "none", "kid": key.kid(), "typ": "at+jwt"}),
            JwtError::WrongAlgorithm,
        ),
        (
            json!({"alg": "HS256", "kid": key.kid(), "typ": "at+jwt"}),
            JwtError::WrongAlgorithm,
        ),
        (
            json!({"alg": "ES256", "kid": "other", "typ": "at+jwt"}),
            JwtError::UnknownKey,
        ),
        (
            json!({"alg": "ES256", "kid": key.kid(), "typ": "JWT"}),
            JwtError::WrongType,
        ),
        (
            json!({"alg": "ES256", "kid": key.kid()}),
            JwtError::Malformed,
        ),
        (
            json!({"alg": 1, "kid": key.kid(), "typ": "at+jwt"}),
            JwtError::Malformed,
        ),
    ];
    let mut cases = cases.to_vec();
    for (name, value) in [
        ("jku", json!("https://evil.test/jwks.json")),
        ("x5u", json!("https://evil.test/cert.pem")),
        ("jwk", json!({"kty": "oct", "k": "c2VjcmV0"})),
        ("x5c", json!(["MIIB"])),
        ("crit", json!(["exp"])),
    ] {
        let mut header = our_header();
        header[name] = value;
        cases.push((header, JwtError::ForeignHeader));
    }
    for (header, error) in cases {
        let token = format!("{}.AAAA", unsigned(&header, payload.as_bytes()));
        assert_eq!(
            decode_access_token(keys(), &token).unwrap_err(),
            error,
            "{header}"
        );
    }
    let forged = format!("{}.AAAA", unsigned(&our_header(), payload.as_bytes()));
    assert_eq!(
        decode_access_token(keys(), &forged).unwrap_err(),
        JwtError::BadSignature
    );
    let too_long = "a.b.".to_owned() + &"c".repeat(MAX_TOKEN_LEN);
    assert_eq!(
        decode_access_token(keys(), &too_long).unwrap_err(),
        JwtError::Malformed
    );
}

fn odd_string() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        "\\PC{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(serde_json::Value::from),
        Just(json!(["at+jwt"])),
        Just(json!("AT+JWT")),
        Just(json!("application/at+jwt")),
        Just(json!("none")),
        Just(json!("ES256")),
        Just(json!("EdDSA")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_string_is_refused_without_panic(token in "\\PC{0,200}") {
        prop_assert!(decode_access_token(keys(), &token).is_err());
    }

    #[test]
    fn any_three_base64_parts_are_refused(
        header in prop::collection::vec(any::<u8>(), 0..80),
        payload in prop::collection::vec(any::<u8>(), 0..80),
        signature in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        let token = format!("{}.{}.{}", b64(&header), b64(&payload), b64(&signature));
        prop_assert!(decode_access_token(keys(), &token).is_err());
    }

    #[test]
    fn odd_headers_are_refused(
        alg in odd_string(),
        kid in odd_string(),
        typ in odd_string(),
        signature in "[A-Za-z0-9_=+/-]{0,100}",
    ) {
        let header = json!({"alg": alg, "kid": kid, "typ": typ});
        let token = format!("{}.{signature}", unsigned(&header, claims().to_string().as_bytes()));
        let error = decode_access_token(keys(), &token).unwrap_err();
        // Only a header naming our key and its algorithm gets as far as the signature.
        if error == JwtError::BadSignature {
            prop_assert_eq!(&header["kid"], &our_header()["kid"]);
            prop_assert_eq!(&header["alg"], &our_header()["alg"]);
        }
    }

    #[test]
    fn a_changed_token_is_refused(pos in 0usize..400, byte in "[A-Za-z0-9_.-]") {
        let token = our_token();
        let pos = pos % token.len();
        let mut changed = token.as_bytes().to_vec();
        changed[pos] = byte.as_bytes()[0];
        prop_assume!(changed != token.as_bytes());
        let changed = String::from_utf8(changed).unwrap();
        prop_assert!(decode_access_token(keys(), &changed).is_err());
    }
}
