//! argon2id, for secrets a person chose or that came from elsewhere (see
//! `secret_hasher`), run on the blocking pool behind a semaphore so that a
//! burst of hashing cannot starve the async workers.

use std::sync::Arc;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use parking_lot::Mutex;
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use secrecy::{ExposeSecret, SecretString};

use crate::metrics::Counters;

/// OWASP's argon2id recommendation: 19 MiB, two passes, one lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// argon2's working memory (19 MiB at our parameters), kept for the next
/// hash: allocating it afresh for each one left the allocator holding
/// hundreds of MiB between bursts of verifications.
static SPARE_MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());
/// Buffers kept; more hashes than this at once allocate and free their own.
const SPARE_BUFFERS: usize = 4;

/// `argon2` over `password` and `salt` into `out`, in reused memory.
fn hash_into(argon2: &Argon2, password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    let spare = SPARE_MEMORY.lock().pop();
    let mut memory = spare.unwrap_or_default();
    memory.resize(argon2.params().block_count(), Block::default());
    let hashed = argon2.hash_password_into_with_memory(password, salt, out, &mut memory);
    let mut spare = SPARE_MEMORY.lock();
    if spare.len() < SPARE_BUFFERS {
        spare.push(memory);
    }
    hashed
}

/// The argon2id PHC string of `secret`.
pub fn hash_secret(secret: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt
        .decode_b64(&mut salt_bytes)
        .expect("a generated salt decodes");
    let argon2 = argon2();
    let hash = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        hash_into(&argon2, secret.as_bytes(), raw_salt, out)
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .expect("argon2 hashing with valid parameters cannot fail");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).expect("static parameters encode"),
        salt: Some(salt.as_salt()),
        hash: Some(hash),
    }
    .to_string()
}

/// Shared by every argon2 use, so one limit bounds all argon2 work.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    counters: Arc<Counters>,
}

impl PasswordHasher {
    pub fn new(max_concurrent: usize, counters: Arc<Counters>) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            counters,
        }
    }

    /// The argon2id PHC string of `secret`, on the blocking pool.
    pub async fn hash(&self, secret: &str) -> String {
        let _permit = self.permits.acquire().await.expect("never closed");
        let secret = SecretString::from(secret);
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| hash_secret(secret.expose_secret())))
            .await
            .expect("hashing does not panic")
    }

    /// The index of the first of `hashes` that `secret` matches, on the
    /// blocking pool; the hashes after it are not tried. Callers put the
    /// likeliest first (see `secret_hasher`).
    pub async fn verify_first(&self, secret: &str, hashes: Vec<String>) -> Option<usize> {
        if hashes.is_empty() {
            return None;
        }
        let _permit = self.permits.acquire().await.ok()?;
        let secret = SecretString::from(secret);
        let counters = self.counters.clone();
        let span = tracing::Span::current();
        let verified = tokio::task::spawn_blocking(move || {
            span.in_scope(|| {
                hashes.iter().position(|phc| {
                    Counters::bump(&counters.argon2_verifications);
                    verify_one(&secret, phc)
                })
            })
        })
        .await;
        verified.ok().flatten()
    }
}

fn verify_one(secret: &SecretString, phc: &str) -> bool {
    match recompute(secret, phc) {
        Ok((computed, expected)) => bool::from(computed.as_slice().ct_eq(expected.as_bytes())),
        Err(err) => {
            tracing::error!(error = %err, "a stored secret hash is not a valid argon2 PHC string");
            false
        }
    }
}

/// The hash of `secret` under the algorithm, parameters and salt of `phc`,
/// and the hash `phc` holds.
fn recompute(secret: &SecretString, phc: &str) -> argon2::password_hash::Result<(Vec<u8>, Output)> {
    use argon2::password_hash::Error;
    let stored = PasswordHash::new(phc)?;
    let (Some(expected), Some(salt)) = (stored.hash, stored.salt) else {
        return Err(Error::PhcStringField);
    };
    let version = stored
        .version
        .map(Version::try_from)
        .transpose()?
        .unwrap_or_default();
    let argon2 = Argon2::new(
        Algorithm::try_from(stored.algorithm)?,
        version,
        Params::try_from(&stored)?,
    );
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes)?;
    let mut computed = vec![0u8; expected.len()];
    hash_into(
        &argon2,
        secret.expose_secret().as_bytes(),
        salt,
        &mut computed,
    )?;
    Ok((computed, expected))
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
        assert_eq!(
            hasher.verify_first(secret, vec![hash.clone()]).await,
            Some(0)
        );
        assert_eq!(hasher.verify_first("kws_wrong", vec![hash]).await, None);
        assert_eq!(hasher.verify_first(secret, vec![]).await, None);
        assert_eq!(Counters::read(&counters.argon2_verifications), 2);
        let hashed = hasher.hash(secret).await;
        assert_eq!(hasher.verify_first(secret, vec![hashed]).await, Some(0));
    }

    /// Hashes stored before the memory was reused (argon2's own PHC
    /// strings) still verify, and ours verify by argon2's own check.
    #[test]
    fn phc_strings_are_argon2s_own() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let secret = SecretString::from("kws_right");
        let theirs = argon2()
            .hash_password(b"kws_right", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(verify_one(&secret, &theirs));
        assert!(!verify_one(&SecretString::from("kws_wrong"), &theirs));
        let ours = hash_secret("kws_right");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2().verify_password(b"kws_right", &parsed).is_ok());
        assert!(!verify_one(
            &secret,
            "$argon2id$v=19$m=19456,t=2,p=1$bm90IGEgaGFzaA"
        ));
    }
}
