//! The keys of the idempotency store, all derived from the server secret
//! with HKDF-SHA256 so that replicas agree on them:
//!
//! - callers, Idempotency-Keys and request fingerprints are stored only as
//!   HMAC-SHA256 tags under derived keys, so a copy of the database can
//!   neither recover nor confirm a guess of them;
//! - stored responses are sealed with AES-256-GCM under a key derived from
//!   the server secret and the Idempotency-Key, which the database never
//!   holds: a copy of it reveals no replayable secret.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use super::server_secret::ServerSecret;
use crate::domain::IdempotencyKey;

const CALLER_INFO: &[u8] = b"keyward/idempotency/caller/v1";
const KEY_INFO: &[u8] = b"keyward/idempotency/key/v1";
const FINGERPRINT_INFO: &[u8] = b"keyward/idempotency/fingerprint/v1";
const RESPONSE_INFO: &[u8] = b"keyward/idempotency/response/v1";

pub struct ResponseSealer {
    prk: hkdf::Prk,
    caller: hmac::Key,
    key: hmac::Key,
    fingerprint: hmac::Key,
    rng: SystemRandom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a sealed response does not open with this key")]
pub struct SealError;

impl ResponseSealer {
    pub fn new(secret: &ServerSecret) -> Self {
        let prk = secret.prk();
        let hmac_key = |info: &'static [u8]| {
            let info = [info];
            let okm = prk
                .expand(&info, hmac::HMAC_SHA256)
                .expect("an HMAC key is a valid HKDF length");
            hmac::Key::from(okm)
        };
        Self {
            caller: hmac_key(CALLER_INFO),
            key: hmac_key(KEY_INFO),
            fingerprint: hmac_key(FINGERPRINT_INFO),
            prk,
            rng: SystemRandom::new(),
        }
    }

    /// The stored form of a caller identity, in hex.
    pub fn caller_hash(&self, caller: &[u8]) -> String {
        hex(hmac::sign(&self.caller, caller).as_ref())
    }

    /// The stored form of an Idempotency-Key of a caller, in hex. The caller
    /// is part of it, so equal keys of two callers do not match in storage.
    pub fn key_hash(&self, caller_hash: &str, key: &IdempotencyKey) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(caller_hash.as_bytes());
        ctx.update(&[0]);
        ctx.update(key.expose().as_bytes());
        hex(ctx.sign().as_ref())
    }

    /// The stored form of a request digest (SHA-256 of the request), in hex.
    pub fn fingerprint(&self, request_digest: &[u8]) -> String {
        hex(hmac::sign(&self.fingerprint, request_digest).as_ref())
    }

    /// `nonce || ciphertext || tag`. `aad` binds the sealed bytes to where
    /// they are stored, so they do not open anywhere else.
    pub fn seal(&self, key: &IdempotencyKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).expect("the OS RNG is available");
        let mut sealed = Vec::with_capacity(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        let tag = self
            .aead_key(key)
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut sealed[NONCE_LEN..],
            )
            .expect("a response is far below the AES-GCM length limit");
        sealed.extend_from_slice(tag.as_ref());
        sealed
    }

    pub fn open(
        &self,
        key: &IdempotencyKey,
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError)?;
        let mut buffer = ciphertext.to_vec();
        let plaintext_len = self
            .aead_key(key)
            .open_in_place(nonce, Aad::from(aad), &mut buffer)
            .map_err(|_| SealError)?
            .len();
        buffer.truncate(plaintext_len);
        Ok(buffer)
    }

    fn aead_key(&self, key: &IdempotencyKey) -> LessSafeKey {
        let info = [RESPONSE_INFO, key.expose().as_bytes()];
        let okm = self
            .prk
            .expand(&info, &AES_256_GCM)
            .expect("an AES-256 key is a valid HKDF length");
        LessSafeKey::new(UnboundKey::from(okm))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(secret: &str) -> ResponseSealer {
        ResponseSealer::new(&ServerSecret::try_from(secret.repeat(32)).unwrap())
    }

    fn key(raw: &str) -> IdempotencyKey {
        IdempotencyKey::parse(raw).unwrap()
    }

    const KEY: &str = "4c0f8f0e-7f0b-4d3e-9b1a-2f6f1c8d9e10";
    const OTHER_KEY: &str = "9d2f0b6e-3a1c-4e5f-8a7b-0c1d2e3f4a5b";
    const RESPONSE: &[u8] = br#"{"client_secret":"kws_s3cret-value-that-must-not-leak"}"#;

    #[test]
    fn round_trip() {
        let s = sealer("a");
        let sealed = s.seal(&key(KEY), b"row", RESPONSE);
        assert_eq!(s.open(&key(KEY), b"row", &sealed).unwrap(), RESPONSE);
        // A fresh nonce each time.
        assert_ne!(s.seal(&key(KEY), b"row", RESPONSE), sealed);
    }

    #[test]
    fn does_not_open_with_another_key_row_or_secret() {
        let s = sealer("a");
        let sealed = s.seal(&key(KEY), b"row", RESPONSE);
        assert_eq!(s.open(&key(OTHER_KEY), b"row", &sealed), Err(SealError));
        assert_eq!(s.open(&key(KEY), b"another row", &sealed), Err(SealError));
        assert_eq!(sealer("b").open(&key(KEY), b"row", &sealed), Err(SealError));
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN] ^= 1;
        assert_eq!(s.open(&key(KEY), b"row", &tampered), Err(SealError));
        assert_eq!(s.open(&key(KEY), b"row", &sealed[..10]), Err(SealError));
    }

    #[test]
    fn ciphertext_does_not_contain_the_plaintext() {
        let sealed = sealer("a").seal(&key(KEY), b"row", RESPONSE);
        let needle = b"kws_s3cret";
        assert!(!sealed.windows(needle.len()).any(|w| w == needle));
        assert_eq!(sealed.len(), NONCE_LEN + RESPONSE.len() + 16);
    }

    #[test]
    fn hashes_are_keyed_and_scoped_to_the_caller() {
        let (a, b) = (sealer("a"), sealer("b"));
        let alice = a.caller_hash(b"alice");
        assert_eq!(alice.len(), 64);
        assert_ne!(alice, b.caller_hash(b"alice"));
        assert_ne!(alice, a.caller_hash(b"bob"));
        let bob = a.caller_hash(b"bob");
        assert_eq!(a.key_hash(&alice, &key(KEY)), a.key_hash(&alice, &key(KEY)));
        assert_ne!(a.key_hash(&alice, &key(KEY)), a.key_hash(&bob, &key(KEY)));
        assert!(!a.key_hash(&alice, &key(KEY)).contains("4c0f8f0e"));
        assert_ne!(a.fingerprint(b"x"), b.fingerprint(b"x"));
    }
}
