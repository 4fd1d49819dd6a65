//! A keyed fast digest of (client id, secret), so that a credential that
//! argon2 already accepted can be recognised again without argon2.

use aws_lc_rs::hmac;

pub struct CredentialDigest {
    key: hmac::Key,
}

/// HMAC-SHA256 output; holding it reveals nothing without the process key.
#[derive(Clone)]
pub struct DigestTag(hmac::Tag);

impl CredentialDigest {
    /// A fresh random key per process: digests never leave memory.
    pub fn new() -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).expect("the OS RNG is available");
        Self { key }
    }

    pub fn tag(&self, id: &str, secret: &str) -> DigestTag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(id.as_bytes());
        ctx.update(&[0]);
        ctx.update(secret.as_bytes());
        DigestTag(ctx.sign())
    }

    /// A keyed digest of `data`, for cache keys that must not be guessable.
    pub fn digest(&self, data: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&self.key, data);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Constant-time comparison of a presented credential with a stored tag.
    pub fn matches(&self, id: &str, secret: &str, tag: &DigestTag) -> bool {
        let mut msg = Vec::with_capacity(id.len() + 1 + secret.len());
        msg.extend_from_slice(id.as_bytes());
        msg.push(0);
        msg.extend_from_slice(secret.as_bytes());
        hmac::verify(&self.key, &msg, tag.0.as_ref()).is_ok()
    }
}

impl Default for CredentialDigest {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for DigestTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DigestTag([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_same_pair() {
        let digest = CredentialDigest::new();
        let tag = digest.tag("cl_a", "s3cret");
        assert!(digest.matches("cl_a", "s3cret", &tag));
        assert!(!digest.matches("cl_a", "s3cret2", &tag));
        assert!(!digest.matches("cl_as", "3cret", &tag));
        assert!(!CredentialDigest::new().matches("cl_a", "s3cret", &tag));
    }
}
