//! How a credential's record is read when it is not cached: on the calling
//! thread where the backend answers that way at once (SQLite), else
//! batched with the reads of requests that arrive together (see
//! `batch_loader`), which is also where an instant read that could not
//! answer goes.

use std::hash::Hash;

use super::batch_loader::BatchLoader;
use crate::storage::StorageError;

type InstantRead<K, V> = Box<dyn Fn(&K) -> Result<Option<V>, StorageError> + Send + Sync>;

pub struct CredentialReads<K, V> {
    instant: Option<InstantRead<K, V>>,
    batched: BatchLoader<K, V>,
}

impl<K, V> CredentialReads<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    pub fn new(instant: Option<InstantRead<K, V>>, batched: BatchLoader<K, V>) -> Self {
        Self { instant, batched }
    }

    pub async fn load(&self, id: K) -> Result<Option<V>, StorageError> {
        if let Some(read) = &self.instant {
            match read(&id) {
                Ok(found) => return Ok(found),
                Err(e) => tracing::debug!(
                    error = %crate::error::error_chain(&e),
                    "instant credential read left to the store"
                ),
            }
        }
        self.batched.load(id).await
    }
}
