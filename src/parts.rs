//! The parts the server and the CLI both build from the settings: the
//! store, the secret hasher, the server secret and the keyring.

use std::sync::Arc;
use std::time::Duration;

use crate::configuration::Settings;
use crate::crypto::{Keyring, PasswordHasher, SecretDigests, SecretHasher, ServerSecret};
use crate::metrics::Counters;
use crate::storage::{self, Store};
use crate::time::Clock;

/// Leeway for clock skew between us and resource servers.
pub const CLOCK_LEEWAY_SECONDS: u64 = 60;

/// The keyring a configuration describes.
pub fn keyring(settings: &Settings, clock: Arc<dyn Clock>) -> Keyring {
    let retire_after = Duration::from_secs(settings.token_ttl_seconds + CLOCK_LEEWAY_SECONDS);
    Keyring::new(
        &settings.keys_dir,
        settings.signing_alg,
        retire_after,
        clock,
    )
}

/// The `server_secret` setting, or else the secret in the keys directory,
/// generated there on the first start.
pub fn server_secret(settings: &Settings) -> anyhow::Result<ServerSecret> {
    match &settings.server_secret {
        Some(secret) => Ok(secret.clone()),
        None => Ok(ServerSecret::load_or_init(&settings.keys_dir)?),
    }
}

/// What stores and checks secrets: digests under the server secret (and
/// the previous one, while it is set), and argon2id within the
/// `argon2_concurrency` bound.
pub fn secret_hasher(settings: &Settings, counters: Arc<Counters>) -> anyhow::Result<SecretHasher> {
    let current = server_secret(settings)?;
    let digests = SecretDigests::new(&current, settings.server_secret_previous.as_ref());
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let argon2 = PasswordHasher::new(
        settings.argon2_concurrency.unwrap_or(cpus),
        counters.clone(),
    );
    Ok(SecretHasher::new(Arc::new(digests), argon2, counters))
}

/// Refuses to start when stored digests were made under a server secret
/// this server does not hold: every client and key they belong to would
/// fail to authenticate.
pub async fn check_digest_keys(store: &dyn Store, digests: &SecretDigests) -> anyhow::Result<()> {
    let known: Vec<&str> = digests.key_ids().collect();
    let unknown: Vec<(String, i64)> = store
        .digest_key_ids()
        .await?
        .into_iter()
        .filter(|(id, _)| !known.contains(&id.as_str()))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let count: i64 = unknown.iter().map(|(_, n)| n).sum();
    let ids: Vec<&str> = unknown.iter().map(|(id, _)| id.as_str()).collect();
    anyhow::bail!(
        "{count} stored client secrets and API keys were digested under another server secret \
         (key id {}; this server's is {}). The server secret has changed: restore it, or set \
         the old one as server_secret_previous (KEYWARD_SERVER_SECRET_PREVIOUS) so that they \
         keep working and move to the new one on their next use",
        ids.join(", "),
        known[0]
    )
}

/// Opens the configured database and brings its schema up to date.
pub async fn open_store(
    settings: &Settings,
    counters: Arc<Counters>,
) -> anyhow::Result<Arc<dyn Store>> {
    let store = storage::connect(settings.database_url.expose(), counters)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "database {:?}: {}",
                settings.database_url,
                crate::error::error_chain(&e)
            )
        })?;
    store.migrate().await?;
    Ok(store)
}
