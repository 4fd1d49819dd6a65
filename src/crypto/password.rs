//! argon2id hashing of secrets, run on the blocking pool behind a semaphore
//! so that a flood of verifications cannot starve the async workers.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use tokio::sync::Semaphore;

use secrecy::{ExposeSecret, SecretString};

use crate::stats::Counters;

/// OWASP's argon2id recommendation: 19 MiB, two passes, one lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The argon2id PHC string of a client secret or a whole API key.
pub fn hash_secret(secret: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(secret.as_bytes(), &salt)
        .expect("argon2 hashing with valid parameters cannot fail")
        .to_string()
}

/// `hash_secret` on the blocking pool, so hashing never stalls a worker.
pub async fn hash_secret_off_thread(secret: &str) -> String {
    let secret = SecretString::from(secret);
    tokio::task::spawn_blocking(move || hash_secret(secret.expose_secret()))
        .await
        .expect("hashing does not panic")
}

/// Shared by every credential kind, so one limit bounds all argon2 work.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
    counters: Arc<Counters>,
}

impl PasswordHasher {
    pub fn new(max_concurrent: usize, counters: Arc<Counters>) -> Self {
        let dummy = crate::crypto::secret::generate_client_secret();
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy_hash: hash_secret(dummy.expose()).into(),
            counters,
        }
    }

    /// The index of the first of `hashes` that `secret` matches. With no hashes (an unknown
    /// client) it still verifies against a dummy hash, so the time taken
    /// does not tell which client ids exist.
    pub async fn verify_any(&self, secret: &str, hashes: Vec<String>) -> Option<usize> {
        let _permit = self.permits.acquire().await.ok()?;
        let secret = SecretString::from(secret);
        let dummy = hashes.is_empty().then(|| self.dummy_hash.clone());
        let counters = self.counters.clone();
        let span = tracing::Span::current();
        let verified = tokio::task::spawn_blocking(move || {
            span.in_scope(|| {
                let candidates: Vec<&str> = match &dummy {
                    Some(d) => vec![d],
                    None => hashes.iter().map(String::as_str).collect(),
                };
                // Every candidate is tried, so the time does not tell which one matched.
                let mut matched = None;
                for (i, phc) in candidates.into_iter().enumerate() {
                    Counters::bump(&counters.argon2_verifications);
                    if verify_one(&secret, phc) && matched.is_none() {
                        matched = Some(i);
                    }
                }
                matched.filter(|_| dummy.is_none())
            })
        })
        .await;
        verified.ok().flatten()
    }
}

fn verify_one(secret: &SecretString, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => argon2()
            .verify_password(secret.expose_secret().as_bytes(), &hash)
            .is_ok(),
        Err(err) => {
            tracing::error!(error = %err, "a stored secret hash is not a valid PHC string");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_the_right_secret_only() {
        let counters = Arc::new(Counters::default());
        let hasher = PasswordHasher::new(2, counters.clone());
        let secret = "kws_right";
        let hash = hash_secret(secret);
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(hasher.verify_any(secret, vec![hash.clone()]).await, Some(0));
        assert_eq!(hasher.verify_any("kws_wrong", vec![hash]).await, None);
        assert_eq!(hasher.verify_any(secret, vec![]).await, None);
        assert_eq!(Counters::read(&counters.argon2_verifications), 3);
    }
}
