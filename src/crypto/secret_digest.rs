//! The stored form of the secrets Keyward generates (client secrets, API
//! keys): HMAC-SHA256 under a key derived from the server secret, as
//! `$hmac-sha256$k=<key id>$<tag>`. These secrets are 256 random bits, so no
//! offline search finds them and a slow hash would buy nothing; the key
//! means a database dump alone gives nothing to test a guess against.
//!
//! The key id names the server secret a digest was made under. After a
//! change of server secret, the previous one (`server_secret_previous`)
//! still verifies its digests, and a match is rewritten under the new key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::cell::OnceCell;

use aws_lc_rs::hmac;
use base64::Engine;
use subtle::ConstantTimeEq;

use super::server_secret::ServerSecret;

const SCHEME_PREFIX: &str = "$hmac-sha256$k=";
const INFO: &[u8] = b"keyward secret digest v1";
const KEY_ID_BYTES: usize = 6;

struct DigestKey {
    /// 8 base64url characters; public, like a JWK's `kid`.
    id: String,
    key: hmac::Key,
}

impl DigestKey {
    fn derive(secret: &ServerSecret) -> Self {
        let prk = secret.prk();
        let okm = prk
            .expand(&[INFO], hmac::HMAC_SHA256)
            .expect("one HMAC key is a valid HKDF output length");
        let key = hmac::Key::from(okm);
        let fingerprint = hmac::sign(&key, b"key id");
        let id = URL_SAFE_NO_PAD.encode(&fingerprint.as_ref()[..KEY_ID_BYTES]);
        Self { id, key }
    }

    fn digest(&self, secret: &str) -> String {
        let tag = hmac::sign(&self.key, secret.as_bytes());
        format!(
            "{SCHEME_PREFIX}{}${}",
            self.id,
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }
}

/// A presented secret, to check against several stored digests: its tag
/// under each key is computed once, on first need, and each digest is then
/// compared in constant time. A client in its rotation grace period (two
/// digests) costs one HMAC, not two.
pub struct PresentedSecret<'a> {
    digests: &'a SecretDigests,
    secret: &'a str,
    current: OnceCell<hmac::Tag>,
    previous: OnceCell<hmac::Tag>,
}

impl PresentedSecret<'_> {
    /// Checks the secret against one stored form.
    pub fn check(&self, stored: &str) -> DigestCheck {
        let Some(rest) = stored.strip_prefix(SCHEME_PREFIX) else {
            return DigestCheck::NotADigest;
        };
        let Some((id, tag)) = rest.split_once('$') else {
            return DigestCheck::UnknownKey;
        };
        let (key, cell, outdated) = if id == self.digests.current.id {
            (&self.digests.current, &self.current, false)
        } else {
            match &self.digests.previous {
                Some(previous) if id == previous.id => (previous, &self.previous, true),
                _ => return DigestCheck::UnknownKey,
            }
        };
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
            return DigestCheck::Mismatch;
        };
        let computed = cell.get_or_init(|| hmac::sign(&key.key, self.secret.as_bytes()));
        if bool::from(computed.as_ref().ct_eq(&tag)) {
            DigestCheck::Match { outdated }
        } else {
            DigestCheck::Mismatch
        }
    }

    /// How many HMACs the checks so far computed: one per key used.
    pub fn computed(&self) -> u64 {
        u64::from(self.current.get().is_some()) + u64::from(self.previous.get().is_some())
    }
}

/// The answer of [`SecretDigests::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestCheck {
    /// The secret matches; `outdated` when under the previous server secret.
    Match {
        outdated: bool,
    },
    Mismatch,
    /// A digest under a key this server does not hold: it cannot match.
    UnknownKey,
    /// Not a digest at all (an argon2id hash, say).
    NotADigest,
}

pub struct SecretDigests {
    current: DigestKey,
    previous: Option<DigestKey>,
}

impl SecretDigests {
    pub fn new(current: &ServerSecret, previous: Option<&ServerSecret>) -> Self {
        let current = DigestKey::derive(current);
        let previous = previous
            .map(DigestKey::derive)
            .filter(|p| p.id != current.id);
        Self { current, previous }
    }

    /// The stored form of a newly generated `secret`.
    pub fn digest(&self, secret: &str) -> String {
        self.current.digest(secret)
    }

    /// Whether `stored` is a digest; its key id if so.
    pub fn key_id_of(stored: &str) -> Option<&str> {
        let rest = stored.strip_prefix(SCHEME_PREFIX)?;
        rest.split_once('$').map(|(id, _)| id)
    }

    /// The ids of the keys this server verifies with, current first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.current.id.as_str()).chain(self.previous.iter().map(|p| p.id.as_str()))
    }

    /// `secret`, to check against one or more stored digests.
    pub fn presented<'a>(&'a self, secret: &'a str) -> PresentedSecret<'a> {
        PresentedSecret {
            digests: self,
            secret,
            current: OnceCell::new(),
            previous: OnceCell::new(),
        }
    }

    /// Checks `secret` against `stored` in constant time.
    pub fn verify(&self, secret: &str, stored: &str) -> DigestCheck {
        self.presented(secret).check(stored)
    }
}

impl std::fmt::Debug for SecretDigests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretDigests")
            .field("key_ids", &self.key_ids().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_secret(fill: &str) -> ServerSecret {
        ServerSecret::try_from(fill.repeat(40)).unwrap()
    }

    #[test]
    fn a_digest_names_its_key_and_matches_only_its_secret() {
        let digests = SecretDigests::new(&server_secret("a"), None);
        let stored = digests.digest("kws_right");
        assert!(stored.starts_with("$hmac-sha256$k="), "{stored}");
        assert_eq!(
            SecretDigests::key_id_of(&stored),
            digests.key_ids().next(),
            "the key id is in the string"
        );
        assert_eq!(
            digests.verify("kws_right", &stored),
            DigestCheck::Match { outdated: false }
        );
        assert_eq!(digests.verify("kws_wrong", &stored), DigestCheck::Mismatch);
        assert_eq!(
            digests.verify("kws_right", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
            DigestCheck::NotADigest
        );
        assert_eq!(
            digests.verify("kws_right", "$hmac-sha256$k=AAAAAAAA$!!"),
            DigestCheck::UnknownKey
        );
    }

    #[test]
    fn another_server_secret_cannot_check_a_digest_unless_kept_as_previous() {
        let old = SecretDigests::new(&server_secret("a"), None);
        let stored = old.digest("kws_right");
        let changed = SecretDigests::new(&server_secret("b"), None);
        assert_eq!(
            changed.verify("kws_right", &stored),
            DigestCheck::UnknownKey
        );
        let rotated = SecretDigests::new(&server_secret("b"), Some(&server_secret("a")));
        assert_eq!(
            rotated.verify("kws_right", &stored),
            DigestCheck::Match { outdated: true }
        );
        assert_eq!(rotated.verify("kws_wrong", &stored), DigestCheck::Mismatch);
        assert_eq!(rotated.key_ids().count(), 2);
    }

    #[test]
    fn a_presented_secret_is_digested_once_per_key_however_many_digests() {
        let digests = SecretDigests::new(&server_secret("b"), Some(&server_secret("a")));
        let old = SecretDigests::new(&server_secret("a"), None);
        let stored = [
            digests.digest("kws_new"),
            digests.digest("kws_old"),
            old.digest("kws_older"),
        ];
        let presented = digests.presented("kws_old");
        let checks: Vec<_> = stored.iter().map(|s| presented.check(s)).collect();
        assert_eq!(
            checks,
            [
                DigestCheck::Mismatch,
                DigestCheck::Match { outdated: false },
                DigestCheck::Mismatch
            ]
        );
        assert_eq!(presented.computed(), 2, "one per key, not one per digest");
        let presented = digests.presented("kws_new");
        assert_eq!(presented.check(&stored[1]), DigestCheck::Mismatch);
        assert_eq!(
            presented.check(&stored[0]),
            DigestCheck::Match { outdated: false }
        );
        assert_eq!(presented.computed(), 1);
        assert_eq!(
            digests.presented("kws_older").check(&stored[2]),
            DigestCheck::Match { outdated: true }
        );
    }

    #[test]
    fn the_same_server_secret_derives_the_same_key_on_every_replica() {
        let a = SecretDigests::new(&server_secret("a"), None);
        let b = SecretDigests::new(&server_secret("a"), None);
        assert_eq!(a.digest("kws_x"), b.digest("kws_x"));
    }
}
