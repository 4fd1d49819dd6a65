//! Server nonces for DPoP proofs (RFC 9449 §8). A nonce names a time
//! window and carries an HMAC of it under a key derived from the server
//! secret, so every replica issues and accepts the same nonces without
//! sharing state. A nonce is good in its window and the next one.

use aws_lc_rs::{constant_time, hmac};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::server_secret::ServerSecret;

const NONCE_INFO: &[u8] = b"keyward/dpop/nonce/v1";
/// A nonce's window; it is accepted for one to two windows.
pub const WINDOW_SECONDS: i64 = 300;
const TAG_LEN: usize = 16;

pub struct DpopNonces {
    key: hmac::Key,
}

impl DpopNonces {
    pub fn new(secret: &ServerSecret) -> Self {
        let key = secret
            .prk()
            .expand(&[NONCE_INFO], hmac::HMAC_SHA256)
            .expect("HMAC-SHA256 is a valid HKDF output")
            .into();
        Self { key }
    }

    /// The nonce to hand out at `now`.
    pub fn current(&self, now: i64) -> String {
        let window = now.div_euclid(WINDOW_SECONDS);
        let mut bytes = window.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.tag(window));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Whether `nonce` is one we handed out in this window or the last.
    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        let Some((window, tag)) = bytes.split_first_chunk::<8>() else {
            return false;
        };
        let window = i64::from_be_bytes(*window);
        let current = now.div_euclid(WINDOW_SECONDS);
        (window == current || window == current - 1)
            && constant_time::verify_slices_are_equal(tag, &self.tag(window)).is_ok()
    }

    fn tag(&self, window: i64) -> [u8; TAG_LEN] {
        let full = hmac::sign(&self.key, &window.to_be_bytes());
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full.as_ref()[..TAG_LEN]);
        tag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonces(secret: &str) -> DpopNonces {
        DpopNonces::new(&ServerSecret::try_from(secret.repeat(32)).unwrap())
    }

    #[test]
    fn a_nonce_is_good_for_its_window_and_the_next_on_every_replica() {
        let (one, other) = (nonces("a"), nonces("a"));
        let now = 1_800_000_123;
        let nonce = one.current(now);
        assert!(other.accepts(&nonce, now));
        assert!(other.accepts(&nonce, now + WINDOW_SECONDS));
        assert!(!other.accepts(&nonce, now + 2 * WINDOW_SECONDS));
        // Not one from the future, which a stolen key of a later window
        // could otherwise make.
        assert!(!other.accepts(&one.current(now + WINDOW_SECONDS), now));
    }

    #[test]
    fn forged_and_foreign_nonces_are_refused() {
        let now = 1_800_000_000;
        let ours = nonces("a");
        assert!(!ours.accepts(&nonces("b").current(now), now));
        let mut bytes = URL_SAFE_NO_PAD.decode(ours.current(now)).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        assert!(!ours.accepts(&URL_SAFE_NO_PAD.encode(&bytes), now));
        for garbage in ["", "!!", "AAAA", &"A".repeat(500)] {
            assert!(!ours.accepts(garbage, now), "{garbage:.10}");
        }
    }
}
