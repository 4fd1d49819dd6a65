//! The console's bearer strings: password links and session ids, 256 random
//! bits each, stored only as SHA-256 digests. From the server secret and a
//! session's id (which the server keeps only as a digest), replicas derive
//! alike, without storing either:
//! - the session's CSRF token, an HMAC of its id;
//! - the key that seals a new credential's secret into a short-lived
//!   cookie, so the page after a create shows it once on any replica and
//!   never again, while the server stores nothing but its digest.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::{digest, hkdf, hmac};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use super::server_secret::ServerSecret;

const CSRF_INFO: &[u8] = b"keyward/console/csrf/v1";
const REVEAL_INFO: &[u8] = b"keyward/console/reveal/v1";

/// A new random token (43 URL-safe characters).
pub fn random_token() -> SecretString {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes).into()
}

/// How a token is stored and looked up: its SHA-256, in hex. The tokens are
/// random, so a fast digest is enough; a dump of digests signs nobody in.
pub fn token_digest(token: &str) -> String {
    let hash = digest::digest(&digest::SHA256, token.as_bytes());
    hash.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The keys of the console's sessions.
pub struct ConsoleKeys {
    prk: hkdf::Prk,
    csrf: hmac::Key,
    rng: SystemRandom,
}

impl ConsoleKeys {
    pub fn new(secret: &ServerSecret) -> Self {
        let prk = secret.prk();
        let csrf: hmac::Key = prk
            .expand(&[CSRF_INFO], hmac::HMAC_SHA256)
            .expect("HMAC-SHA256 is a valid HKDF output")
            .into();
        Self {
            prk,
            csrf,
            rng: SystemRandom::new(),
        }
    }

    /// The CSRF token of the session whose id is `session_id`.
    pub fn token(&self, session_id: &SecretString) -> String {
        let tag = hmac::sign(&self.csrf, session_id.expose_secret().as_bytes());
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Whether `presented` is that token, in constant time.
    pub fn matches(&self, session_id: &SecretString, presented: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(presented) else {
            return false;
        };
        hmac::verify(&self.csrf, session_id.expose_secret().as_bytes(), &tag).is_ok()
    }

    /// `secret` sealed for the session `session_id` and the page `page`
    /// alone, as cookie-safe text.
    pub fn seal(&self, session_id: &SecretString, page: &str, secret: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).expect("the OS RNG is available");
        let mut sealed = secret.as_bytes().to_vec();
        self.reveal_key(session_id)
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(page.as_bytes()),
                &mut sealed,
            )
            .expect("a secret is far below the AES-GCM length limit");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// What `seal` sealed, if `sealed` was sealed for this session and page.
    pub fn open(
        &self,
        session_id: &SecretString,
        page: &str,
        sealed: &str,
    ) -> Option<SecretString> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .reveal_key(session_id)
            .open_in_place(nonce, Aad::from(page.as_bytes()), &mut buffer)
            .ok()?;
        String::from_utf8(plain.to_vec())
            .ok()
            .map(SecretString::from)
    }

    fn reveal_key(&self, session_id: &SecretString) -> LessSafeKey {
        let info = [REVEAL_INFO, session_id.expose_secret().as_bytes()];
        let okm = self
            .prk
            .expand(&info, &AES_256_GCM)
            .expect("an AES-256 key is a valid HKDF length");
        let mut key = [0u8; 32];
        okm.fill(&mut key).expect("32 bytes fill");
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).expect("a 32-byte key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_their_digests_stable() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(a.expose_secret().len(), 43);
        assert_eq!(
            token_digest(a.expose_secret()),
            token_digest(a.expose_secret())
        );
        assert_eq!(token_digest("x").len(), 64);
    }

    #[test]
    fn a_csrf_token_belongs_to_one_session_and_one_server_secret() {
        let secret = ServerSecret::try_from("s".repeat(40)).unwrap();
        let csrf = ConsoleKeys::new(&secret);
        let (one, two) = (random_token(), random_token());
        let token = csrf.token(&one);
        assert!(csrf.matches(&one, &token));
        assert!(!csrf.matches(&two, &token));
        assert!(!csrf.matches(&one, "not base64 !"));
        let other = ConsoleKeys::new(&ServerSecret::try_from("t".repeat(40)).unwrap());
        assert!(!other.matches(&one, &token));
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_session_and_page() {
        let keys = ConsoleKeys::new(&ServerSecret::try_from("s".repeat(40)).unwrap());
        let (one, two) = (random_token(), random_token());
        let sealed = keys.seal(&one, "/a", "kw_secret");
        let opened = keys.open(&one, "/a", &sealed).unwrap();
        assert_eq!(opened.expose_secret(), "kw_secret");
        assert!(keys.open(&two, "/a", &sealed).is_none());
        assert!(keys.open(&one, "/b", &sealed).is_none());
        assert!(keys.open(&one, "/a", "garbage").is_none());
        assert!(!sealed.contains("kw_secret"));
    }
}
