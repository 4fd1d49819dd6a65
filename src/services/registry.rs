//! Creating organisations, clients and API keys, shared by the CLI and
//! the management API.

use crate::crypto::secret::generate_client_secret;
use crate::crypto::SecretHasher;
use crate::domain::{ApiKey, ApiKeyId, ApiKeySecret, ApiKeyStatus, IpAllowlist, PlanLimits};
use crate::domain::{
    Audience, Client, ClientId, ClientSecret, ClientStatus, ImportedSecret, Name, OrgId,
    Organisation, Plan, ScopeSet, SecretHash, SecretOrigin,
};
use crate::storage::{StorageError, Store};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("organisation {0} does not exist")]
    UnknownOrganisation(OrgId),
    #[error("client {0} does not exist")]
    UnknownClient(ClientId),
    #[error("a client or key needs at least one scope")]
    NoScope,
    #[error("the organisation's plan has no API access")]
    ApiAccessNotAvailable,
    #[error("the organisation's plan allows no more API keys")]
    PlanLimitReached,
    #[error("the API key is deactivated")]
    KeyDeactivated,
    #[error("the API key has expired")]
    KeyExpired,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub async fn create_organisation(
    store: &dyn Store,
    name: Name,
    plan: Plan,
) -> Result<Organisation, RegistryError> {
    let org = Organisation {
        id: OrgId::generate(),
        name,
        plan,
        created_at: chrono::Utc::now().timestamp(),
        webhook_url: None,
        webhook_signing_nonce: None,
    };
    store.insert_organisation(&org).await?;
    Ok(org)
}

pub struct NewClient {
    pub org_id: OrgId,
    pub name: Name,
    pub scopes: ScopeSet,
    pub audiences: Vec<Audience>,
    pub resource_server: bool,
    pub expires_at: Option<i64>,
    pub ip_allowlist: IpAllowlist,
    pub rate_limit_per_minute: Option<u32>,
    /// A secret brought from another server; else one is generated.
    pub secret: Option<ImportedSecret>,
}

/// Creates a client and returns it with its secret, which is shown once
/// (unless it was imported) and stored only as a hash.
pub async fn create_client(
    store: &dyn Store,
    hasher: &SecretHasher,
    new: NewClient,
) -> Result<(Client, Option<ClientSecret>), RegistryError> {
    if new.scopes.is_empty() {
        return Err(RegistryError::NoScope);
    }
    match store.get_organisation(&new.org_id).await {
        Err(StorageError::NotFound) => return Err(RegistryError::UnknownOrganisation(new.org_id)),
        other => other?,
    };
    let (hash, secret) = new_secret(hasher, new.secret, None).await;
    let now = chrono::Utc::now().timestamp();
    let client = Client {
        id: ClientId::generate(),
        org_id: new.org_id,
        name: new.name,
        scopes: new.scopes,
        audiences: new.audiences,
        status: ClientStatus::Active,
        resource_server: new.resource_server,
        created_at: now,
        updated_at: now,
        expires_at: new.expires_at,
        ip_allowlist: new.ip_allowlist,
        rate_limit_per_minute: new.rate_limit_per_minute,
        last_used_at: None,
        request_count: 0,
    };
    store.insert_client(&client, &hash).await?;
    Ok((client, secret))
}

/// The stored hash of a client's new secret, and the secret when Keyward
/// generated it (an imported one is not shown back).
async fn new_secret(
    hasher: &SecretHasher,
    imported: Option<ImportedSecret>,
    expires_at: Option<i64>,
) -> (SecretHash, Option<ClientSecret>) {
    match imported {
        Some(imported) => {
            let hash = SecretHash {
                phc: hasher.hash_imported(imported.expose()).await,
                origin: SecretOrigin::Imported,
                expires_at,
            };
            (hash, None)
        }
        None => {
            let secret = generate_client_secret();
            let hash = SecretHash {
                phc: hasher.digest(secret.expose()),
                origin: SecretOrigin::Generated,
                expires_at,
            };
            (hash, Some(secret))
        }
    }
}

/// Deactivates or reactivates a client; every node hears of it through the change log.
pub async fn set_client_status(
    store: &dyn Store,
    id: &ClientId,
    status: ClientStatus,
) -> Result<(), RegistryError> {
    let now = chrono::Utc::now().timestamp();
    match store.set_client_status(id, status, now).await {
        Err(StorageError::NotFound) => Err(RegistryError::UnknownClient(id.clone())),
        other => Ok(other?),
    }
}

/// Deletes a client and its secrets; its tokens stop introspecting as active.
pub async fn delete_client(store: &dyn Store, id: &ClientId) -> Result<(), RegistryError> {
    let now = chrono::Utc::now().timestamp();
    match store.delete_client(id, now).await {
        Err(StorageError::NotFound) => Err(RegistryError::UnknownClient(id.clone())),
        other => Ok(other?),
    }
}

pub struct NewApiKey {
    pub org_id: OrgId,
    pub name: Name,
    pub scopes: ScopeSet,
    pub expires_at: Option<i64>,
    pub rate_limit_per_minute: u32,
    pub ip_allowlist: IpAllowlist,
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// Creates an API key within its organisation's plan and returns it with
/// the key itself, which is shown once and stored only as a digest.
pub async fn create_api_key(
    store: &dyn Store,
    hasher: &SecretHasher,
    plans: &PlanLimits,
    new: NewApiKey,
) -> Result<(ApiKey, ApiKeySecret), RegistryError> {
    if new.scopes.is_empty() {
        return Err(RegistryError::NoScope);
    }
    let org = match store.get_organisation(&new.org_id).await {
        Err(StorageError::NotFound) => return Err(RegistryError::UnknownOrganisation(new.org_id)),
        other => other?,
    };
    let limit = plans.of(org.plan);
    if !limit.api_access {
        return Err(RegistryError::ApiAccessNotAvailable);
    }
    let secret = ApiKeySecret::generate();
    let phc = hasher.digest(secret.expose());
    let now = chrono::Utc::now().timestamp();
    let key = ApiKey {
        id: secret.id().clone(),
        org_id: new.org_id,
        name: new.name,
        scopes: new.scopes,
        status: ApiKeyStatus::Active,
        created_at: now,
        updated_at: now,
        expires_at: new.expires_at,
        rate_limit_per_minute: new.rate_limit_per_minute,
        ip_allowlist: new.ip_allowlist,
        metadata: new.metadata,
        last_used_at: None,
        request_count: 0,
    };
    match store.insert_api_key(&key, &phc, limit.max_api_keys).await {
        Err(StorageError::LimitReached) => Err(RegistryError::PlanLimitReached),
        other => Ok(other.map(|()| (key, secret))?),
    }
}

/// Deactivates or reactivates an API key; every node hears of it through the change log.
pub async fn set_api_key_status(
    store: &dyn Store,
    org: &OrgId,
    id: &ApiKeyId,
    status: ApiKeyStatus,
) -> Result<ApiKey, StorageError> {
    let key = store.get_api_key(org, id).await?;
    let changed = ApiKey {
        status,
        updated_at: chrono::Utc::now().timestamp(),
        ..key
    };
    store.update_api_key(&changed, None).await?;
    Ok(changed)
}

/// A new key with `old`'s settings; the old key keeps working for `grace`
/// seconds, never past its own expiry. Only a live key of an organisation
/// with API access rolls. Returns (old, new, the new key).
pub async fn roll_api_key(
    store: &dyn Store,
    hasher: &SecretHasher,
    plans: &PlanLimits,
    old: ApiKey,
    grace: i64,
) -> Result<(ApiKey, ApiKey, ApiKeySecret), RegistryError> {
    let now = chrono::Utc::now().timestamp();
    if old.status == ApiKeyStatus::Deactivated {
        return Err(RegistryError::KeyDeactivated);
    }
    if old.is_expired(now) {
        return Err(RegistryError::KeyExpired);
    }
    let limits = plans.of(store.get_organisation(&old.org_id).await?.plan);
    if !limits.api_access {
        return Err(RegistryError::ApiAccessNotAvailable);
    }
    // Keys in a grace period are the plan's only overflow, one per key the
    // plan allows: a roll needs the usable keys (grace ones too) to number
    // under twice the limit.
    let room_under = limits.max_api_keys.map(|max| max.saturating_mul(2));
    let secret = ApiKeySecret::generate();
    let phc = hasher.digest(secret.expose());
    let new = ApiKey {
        id: secret.id().clone(),
        created_at: now,
        updated_at: now,
        last_used_at: None,
        request_count: 0,
        ..old.clone()
    };
    let end_of_grace = now + grace;
    let old = ApiKey {
        expires_at: Some(
            old.expires_at
                .map_or(end_of_grace, |at| at.min(end_of_grace)),
        ),
        updated_at: now,
        ..old
    };
    store.roll_api_key(&old, &new, &phc, room_under).await?;
    Ok((old, new, secret))
}

/// A new secret for a client: `imported`, or else a generated one, which
/// is returned to be shown once. Its other secrets keep working for
/// `grace` seconds (0 ends them at once), never past their own end.
pub async fn rotate_client_secret(
    store: &dyn Store,
    hasher: &SecretHasher,
    id: &ClientId,
    imported: Option<ImportedSecret>,
    grace: i64,
) -> Result<Option<ClientSecret>, RegistryError> {
    let (hash, secret) = new_secret(hasher, imported, None).await;
    let now = chrono::Utc::now().timestamp();
    match store
        .rotate_client_secret(id, &hash, now + grace, now)
        .await
    {
        Err(StorageError::NotFound) => Err(RegistryError::UnknownClient(id.clone())),
        other => Ok(other.map(|()| secret)?),
    }
}
