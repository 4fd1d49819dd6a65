//! Webhook signatures. Each organisation's signing secret is derived with
//! HKDF from the server secret, the organisation id and a nonce the database
//! keeps, so replicas agree on it, a copy of the database alone cannot sign,
//! and a new nonce rotates it.
//!
//! A delivery carries `X-Keyward-Signature: t=<unix seconds>,v1=<hex>`, where
//! the hex is HMAC-SHA256, keyed with the secret's text, of `<t>.<body>`.

use aws_lc_rs::{hkdf, hmac};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use super::server_secret::ServerSecret;
use crate::domain::OrgId;

const SECRET_INFO: &[u8] = b"keyward/webhook/signing-secret/v1";
pub const SECRET_PREFIX: &str = "kwhs_";
pub const SIGNATURE_HEADER: &str = "X-Keyward-Signature";

pub struct WebhookSigner {
    prk: hkdf::Prk,
}

/// The 32 bytes of a derived secret.
struct SecretLength;

impl hkdf::KeyType for SecretLength {
    fn len(&self) -> usize {
        32
    }
}

impl WebhookSigner {
    pub fn new(secret: &ServerSecret) -> Self {
        Self { prk: secret.prk() }
    }

    /// The signing secret of `org` under `nonce`, as the organisation sees it.
    pub fn secret(&self, org: &OrgId, nonce: &str) -> SecretString {
        let info = [SECRET_INFO, org.as_str().as_bytes(), b"/", nonce.as_bytes()];
        let mut bytes = [0u8; 32];
        self.prk
            .expand(&info, SecretLength)
            .and_then(|okm| okm.fill(&mut bytes))
            .expect("32 bytes is a valid HKDF-SHA256 length");
        format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)).into()
    }
}

/// A fresh nonce, which gives an organisation a new signing secret.
pub fn new_nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The `X-Keyward-Signature` value of `body` sent at `timestamp`.
pub fn signature(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(text: &str) -> WebhookSigner {
        WebhookSigner::new(&ServerSecret::try_from(text.to_owned()).unwrap())
    }

    #[test]
    fn a_secret_depends_on_server_secret_org_and_nonce() {
        let org = OrgId::generate();
        let other_org = OrgId::generate();
        let a = signer("a-server-secret-that-is-long-enough-0123456789");
        let b = signer("another-server-secret-long-enough-0123456789");
        let secret = a.secret(&org, "n1");
        assert!(secret.expose_secret().starts_with(SECRET_PREFIX));
        assert_eq!(secret.expose_secret(), a.secret(&org, "n1").expose_secret());
        for other in [
            a.secret(&org, "n2"),
            a.secret(&other_org, "n1"),
            b.secret(&org, "n1"),
        ] {
            assert_ne!(secret.expose_secret(), other.expose_secret());
        }
    }

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let secret: SecretString = "kwhs_test".to_owned().into();
        let sig = signature(&secret, 1_700_000_000, b"{}");
        assert!(sig.starts_with("t=1700000000,v1="));
        assert_eq!(sig.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(sig, signature(&secret, 1_700_000_001, b"{}"));
        assert_ne!(sig, signature(&secret, 1_700_000_000, b"{ }"));
    }
}
