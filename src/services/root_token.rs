//! The operator's root token for the management API. It comes from the
//! `root_token` setting, or else from the database, where only its argon2id
//! hash is kept; with neither, one is generated on first start and logged
//! exactly once.

use std::sync::{Arc, RwLock};

use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

use crate::crypto::credential_digest::DigestTag;
use crate::crypto::password::hash_secret_off_thread;
use crate::crypto::{CredentialDigest, PasswordHasher};
use crate::storage::{StorageError, Store};

pub const ROOT_TOKEN_PREFIX: &str = "kwr_";
const ROOT_TOKEN_SECRET_LEN: usize = 43;
const DIGEST_ID: &str = "root";

enum Source {
    /// A digest of the configured token; the token itself is not kept.
    Configured(DigestTag),
    /// The stored hash, and a digest once argon2 has accepted the token.
    Stored {
        phc: String,
        verified: RwLock<Option<DigestTag>>,
    },
}

pub struct RootToken {
    source: Source,
    digest: CredentialDigest,
    hasher: PasswordHasher,
}

impl RootToken {
    pub async fn init(
        configured: Option<&SecretString>,
        store: &Arc<dyn Store>,
        hasher: PasswordHasher,
    ) -> Result<Self, StorageError> {
        let digest = CredentialDigest::new();
        let source = match configured {
            Some(token) => Source::Configured(digest.tag(DIGEST_ID, token.expose_secret())),
            None => Source::Stored {
                phc: stored_or_generated(store).await?,
                verified: RwLock::new(None),
            },
        };
        Ok(Self {
            source,
            digest,
            hasher,
        })
    }

    /// Whether `presented` is the root token.
    pub async fn matches(&self, presented: &str) -> bool {
        match &self.source {
            Source::Configured(tag) => self.digest.matches(DIGEST_ID, presented, tag),
            // Only a generated token can be stored: anything else is refused
            // before argon2.
            Source::Stored { .. } if !presented.starts_with(ROOT_TOKEN_PREFIX) => false,
            Source::Stored { phc, verified } => {
                let known = verified.read().expect("not poisoned").clone();
                if let Some(tag) = known {
                    if self.digest.matches(DIGEST_ID, presented, &tag) {
                        return true;
                    }
                }
                let ok = self
                    .hasher
                    .verify_any(presented, vec![phc.clone()])
                    .await
                    .is_some();
                if ok {
                    let tag = self.digest.tag(DIGEST_ID, presented);
                    *verified.write().expect("not poisoned") = Some(tag);
                }
                ok
            }
        }
    }
}

/// The stored root hash, or a new token's: of replicas starting at once on
/// an empty database, only the one whose insert wins logs its token.
async fn stored_or_generated(store: &Arc<dyn Store>) -> Result<String, StorageError> {
    if let Some(phc) = store.root_credential().await? {
        return Ok(phc);
    }
    let token = SecretString::from(format!(
        "{ROOT_TOKEN_PREFIX}{}",
        Alphanumeric.sample_string(&mut OsRng, ROOT_TOKEN_SECRET_LEN)
    ));
    let phc = hash_secret_off_thread(token.expose_secret()).await;
    let now = chrono::Utc::now().timestamp();
    if store.insert_root_credential(&phc, now).await? {
        tracing::warn!(
            root_token = token.expose_secret(),
            "generated the management API root token; it is shown only now, \
             store it safely (or set KEYWARD_ROOT_TOKEN)"
        );
        return Ok(phc);
    }
    store.root_credential().await?.ok_or(StorageError::NotFound)
}
