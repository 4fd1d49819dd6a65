//! The operator's root token for the management API. It comes from the
//! `root_token` setting, or else from the database, where only its SHA-256
//! is kept; with neither, one is generated on first start and logged
//! exactly once.
//!
//! A generated token is 256 random bits, so a fast hash protects it as well
//! as argon2 would, and a wrong guess costs no argon2 work.

use std::sync::Arc;

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::storage::{StorageError, Store};

pub const ROOT_TOKEN_PREFIX: &str = "kwr_";
const ROOT_TOKEN_SECRET_LEN: usize = 43;
const STORED_PREFIX: &str = "sha256:";

#[derive(Clone)]
pub struct RootToken {
    expected: [u8; 32],
}

impl RootToken {
    pub async fn init(
        configured: Option<&SecretString>,
        store: &Arc<dyn Store>,
        now: i64,
    ) -> Result<Self, StorageError> {
        let expected = match configured {
            Some(token) => sha256(token.expose_secret()),
            None => stored_or_generated(store, now).await?,
        };
        Ok(Self { expected })
    }

    /// Whether `presented` is the root token, in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        sha256(presented).ct_eq(&self.expected).into()
    }
}

fn sha256(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    out
}

fn decode(stored: &str) -> Result<[u8; 32], StorageError> {
    stored
        .strip_prefix(STORED_PREFIX)
        .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| StorageError::Corrupt("the stored root credential".into()))
}

/// The stored root hash, or a new token's: of replicas starting at once on
/// an empty database, only the one whose insert wins logs its token.
async fn stored_or_generated(store: &Arc<dyn Store>, now: i64) -> Result<[u8; 32], StorageError> {
    if let Some(stored) = store.root_credential().await? {
        return decode(&stored);
    }
    let token = SecretString::from(format!(
        "{ROOT_TOKEN_PREFIX}{}",
        Alphanumeric.sample_string(&mut OsRng, ROOT_TOKEN_SECRET_LEN)
    ));
    let hash = sha256(token.expose_secret());
    let stored = format!("{STORED_PREFIX}{}", URL_SAFE_NO_PAD.encode(hash));
    if store.insert_root_credential(&stored, now).await? {
        tracing::warn!(
            root_token = token.expose_secret(),
            "generated the management API root token; it is shown only now, \
             store it safely (or set KEYWARD_ROOT_TOKEN)"
        );
        return Ok(hash);
    }
    let winner = store
        .root_credential()
        .await?
        .ok_or(StorageError::NotFound)?;
    decode(&winner)
}
