//! Store traits, one per aggregate, and the SQLite and PostgreSQL backends.
//! Each atomic step is one trait method, so no transaction crosses the trait.

mod error;
mod postgres;
mod rows;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{Client, ClientCredentials, ClientId, OrgId, Organisation, SecretHash};
use crate::stats::Counters;

pub use error::StorageError;

#[async_trait]
pub trait OrganisationStore {
    async fn insert_organisation(&self, org: &Organisation) -> Result<(), StorageError>;
    async fn get_organisation(&self, id: &OrgId) -> Result<Organisation, StorageError>;
    async fn list_organisations(&self) -> Result<Vec<Organisation>, StorageError>;
}

#[async_trait]
pub trait ClientStore {
    /// Inserts a client together with its first secret hash.
    async fn insert_client(&self, client: &Client, secret: &SecretHash)
        -> Result<(), StorageError>;
    /// The client, its organisation's plan and its secrets that have not expired.
    async fn client_credentials(
        &self,
        id: &ClientId,
        now: i64,
    ) -> Result<Option<ClientCredentials>, StorageError>;
    async fn list_clients(&self, org: Option<&OrgId>) -> Result<Vec<Client>, StorageError>;
}

#[async_trait]
pub trait Store: OrganisationStore + ClientStore + Send + Sync {
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StorageError>;
    /// Applies the embedded migrations of this backend.
    async fn migrate(&self) -> Result<(), StorageError>;
    fn backend(&self) -> &'static str;
}

/// Opens the backend that the URL scheme names: `sqlite:` or `postgres:`.
pub async fn connect(url: &str, counters: Arc<Counters>) -> Result<Arc<dyn Store>, StorageError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url, counters).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(
            postgres::PostgresStore::connect(url, counters).await?,
        ))
    } else {
        Err(StorageError::UnsupportedUrl)
    }
}
