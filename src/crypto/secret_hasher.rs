//! Stored secret hashes by how each secret was born: a keyed digest for
//! the secrets Keyward generates (microseconds to check), argon2id for the
//! ones it was given (imported client secrets). Checks try the digests
//! first, so only a credential with an argon2id hash ever costs argon2.
//!
//! A credential with several live hashes (a client in its rotation grace
//! period) costs one HMAC per server key for all its digests, and its
//! argon2id hashes are tried newest first, stopping at the first match: a
//! caller of the current secret pays one argon2 run. Telling which hash
//! matched by the time tells nothing to anyone without a right secret.

use std::sync::Arc;

use super::password::PasswordHasher;
use super::secret_digest::{DigestCheck, SecretDigests};
use crate::domain::{SecretHash, SecretOrigin};
use crate::metrics::Counters;

/// One stored hash of a credential, and who made its secret.
#[derive(Debug, Clone, Copy)]
pub struct Stored<'a> {
    pub hash: &'a str,
    pub origin: SecretOrigin,
}

impl<'a> From<&'a SecretHash> for Stored<'a> {
    fn from(hash: &'a SecretHash) -> Self {
        Self {
            hash: &hash.phc,
            origin: hash.origin,
        }
    }
}

/// The stored hash a secret matched, and what to store in its place when
/// that hash is not in the current scheme: a generated secret under
/// argon2id (stored before digests) or under the previous server secret.
#[derive(Debug)]
pub struct Matched {
    pub index: usize,
    pub rewrite: Option<String>,
}

#[derive(Clone)]
pub struct SecretHasher {
    digests: Arc<SecretDigests>,
    argon2: PasswordHasher,
    counters: Arc<Counters>,
}

impl SecretHasher {
    pub fn new(
        digests: Arc<SecretDigests>,
        argon2: PasswordHasher,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            digests,
            argon2,
            counters,
        }
    }

    /// argon2id, shared with the console's passwords under one limit.
    pub fn argon2(&self) -> &PasswordHasher {
        &self.argon2
    }

    pub fn digests(&self) -> &SecretDigests {
        &self.digests
    }

    /// The stored form of a secret Keyward generated.
    pub fn digest(&self, secret: &str) -> String {
        self.digests.digest(secret)
    }

    /// The stored form of a secret Keyward was given.
    pub async fn hash_imported(&self, secret: &str) -> String {
        self.argon2.hash(secret).await
    }

    /// Checks `secret` against every digest in `stored`, all of them, so the
    /// time does not tell which matched; its HMAC is computed once per key.
    pub fn check_digests(&self, secret: &str, stored: &[Stored<'_>]) -> Option<Matched> {
        let presented = self.digests.presented(secret);
        let mut matched = None;
        for (index, candidate) in stored.iter().enumerate() {
            if let DigestCheck::Match { outdated } = presented.check(candidate.hash) {
                let rewrite = outdated.then(|| self.digest(secret));
                matched = matched.or(Some(Matched { index, rewrite }));
            }
        }
        Counters::add(&self.counters.secret_digests_computed, presented.computed());
        matched
    }

    /// Whether any of `stored` needs argon2 to check.
    pub fn needs_argon2(stored: &[Stored<'_>]) -> bool {
        stored.iter().any(is_argon2)
    }

    /// Checks `secret` against the argon2id hashes in `stored`, in their
    /// order (newest first), up to the first match, behind the shared bound
    /// on concurrent argon2 work.
    pub async fn check_argon2(&self, secret: &str, stored: &[Stored<'_>]) -> Option<Matched> {
        let slow: Vec<(usize, &Stored)> = stored
            .iter()
            .enumerate()
            .filter(|(_, s)| is_argon2(s))
            .collect();
        if slow.is_empty() {
            return None;
        }
        let hashes = slow.iter().map(|(_, s)| s.hash.to_owned()).collect();
        let found = self.argon2.verify_first(secret, hashes).await?;
        let (index, candidate) = slow[found];
        let rewrite = (candidate.origin == SecretOrigin::Generated).then(|| self.digest(secret));
        Some(Matched { index, rewrite })
    }
}

fn is_argon2(stored: &Stored<'_>) -> bool {
    stored.hash.starts_with("$argon2")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::password::hash_secret;
    use crate::crypto::ServerSecret;
    use crate::metrics::Counters;

    fn hasher(counters: &Arc<Counters>) -> SecretHasher {
        let secret = ServerSecret::try_from("s".repeat(40)).unwrap();
        let digests = Arc::new(SecretDigests::new(&secret, None));
        SecretHasher::new(
            digests,
            PasswordHasher::new(1, counters.clone()),
            counters.clone(),
        )
    }

    fn generated(hash: &str) -> Stored<'_> {
        Stored {
            hash,
            origin: SecretOrigin::Generated,
        }
    }

    #[tokio::test]
    async fn a_digest_checks_without_argon2_and_a_generated_argon2_hash_is_rewritten() {
        let counters = Arc::new(Counters::default());
        let hasher = hasher(&counters);
        let digest = hasher.digest("kws_new");
        let legacy = hash_secret("kws_old");
        let stored = [generated(&digest), generated(&legacy)];

        let fast = hasher.check_digests("kws_new", &stored).unwrap();
        assert_eq!((fast.index, fast.rewrite), (0, None));
        assert!(hasher.check_digests("kws_old", &stored).is_none());
        assert_eq!(Counters::read(&counters.argon2_verifications), 0);

        let slow = hasher.check_argon2("kws_old", &stored).await.unwrap();
        assert_eq!(slow.index, 1);
        let rewrite = slow
            .rewrite
            .expect("a generated secret moves to the digest");
        assert!(hasher
            .check_digests("kws_old", &[generated(&rewrite)])
            .is_some());
        assert!(hasher.check_argon2("kws_wrong", &stored).await.is_none());
    }

    #[tokio::test]
    async fn an_imported_secret_stays_under_argon2() {
        let counters = Arc::new(Counters::default());
        let hasher = hasher(&counters);
        let imported = hasher.hash_imported("Zq8xV2mLp0R7tYc4NbWk1sDfHg").await;
        assert!(imported.starts_with("$argon2id$"));
        let stored = [Stored {
            hash: &imported,
            origin: SecretOrigin::Imported,
        }];
        assert!(SecretHasher::needs_argon2(&stored));
        let matched = hasher
            .check_argon2("Zq8xV2mLp0R7tYc4NbWk1sDfHg", &stored)
            .await
            .unwrap();
        assert!(matched.rewrite.is_none());
    }
}
