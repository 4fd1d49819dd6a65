//! An organisation's OAuth clients. A secret is shown once, by the call
//! that creates or rotates it, and stored only as a digest (or, imported
//! from another server, as argon2id).

use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;

use super::audit_trail::{self, Target};
use super::fields;
use super::views::{self, ClientView};
use super::{Caller, Management, ManagementError};
use crate::crypto::secret::generate_client_secret;
use crate::domain::management_scope::{CLIENTS_READ, CLIENTS_WRITE};
use crate::domain::{
    Change, Client, ClientId, ClientSecret, ClientStatus, ImportedSecret, OrgId, SecretHash,
    SecretOrigin,
};
use crate::storage::PageRequest;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub name: String,
    pub scopes: Vec<String>,
    #[serde(default)]
    pub audiences: Vec<String>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Unlimited when unset.
    pub rate_limit_per_minute: Option<u32>,
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    #[serde(default)]
    pub resource_server: bool,
    /// A secret brought from another server; else one is generated.
    pub client_secret: Option<SecretString>,
    /// `private_key_jwt` to refuse the secret; unset allows either.
    pub token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    pub public_keys: Vec<KeyRegistration>,
    /// Where the client publishes its keys (a JWK Set), fetched as needed.
    pub jwks_uri: Option<String>,
    /// Refuse its token requests without a DPoP proof.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
}

/// A public key to register: a JWK, or a PEM `PUBLIC KEY` with an
/// optional kid (the key's thumbprint when absent).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRegistration {
    pub jwk: Option<serde_json::Value>,
    pub pem: Option<String>,
    pub kid: Option<String>,
}

impl KeyRegistration {
    /// A key as a person pastes or saves it: a JWK when the text is a JSON
    /// object, else PEM.
    pub fn from_text(text: &str, kid: Option<String>) -> Result<Self, ManagementError> {
        let text = text.trim();
        if !text.starts_with('{') {
            return Ok(Self {
                jwk: None,
                pem: Some(text.to_owned()),
                kid,
            });
        }
        let jwk = serde_json::from_str(text)
            .map_err(|e| ManagementError::invalid("public_key", format!("not JSON: {e}")))?;
        Ok(Self {
            jwk: Some(jwk),
            pem: None,
            kid,
        })
    }
}

/// What an update may change; `null` removes an expiry or a rate limit.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub audiences: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::fields::present")]
    pub expires_at: Option<Option<chrono::DateTime<chrono::Utc>>>,
    #[serde(default, deserialize_with = "super::fields::present")]
    pub rate_limit_per_minute: Option<Option<u32>>,
    pub ip_allowlist: Option<Vec<String>>,
    pub resource_server: Option<bool>,
    /// `null` lets the client use whatever it holds again.
    #[serde(default, deserialize_with = "super::fields::present")]
    pub token_endpoint_auth_method: Option<Option<String>>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "super::fields::present")]
    pub jwks_uri: Option<Option<String>>,
    pub dpop_bound_access_tokens: Option<bool>,
}

/// A secret rotation: the new secret when it is imported rather than
/// generated, and how long the others keep working (default a day).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRotation {
    pub grace_period_seconds: Option<i64>,
    pub client_secret: Option<SecretString>,
}

pub struct CreatedClient {
    pub client: Client,
    /// Generated, shown this once; none for an imported secret.
    pub secret: Option<ClientSecret>,
}

pub struct RotatedSecret {
    pub client: Client,
    pub secret: Option<ClientSecret>,
    /// When the client's other secrets stop working.
    pub previous_secret_expires_at: i64,
}

impl Management {
    pub async fn create_client(
        &self,
        caller: &Caller,
        org: &OrgId,
        new: NewClient,
    ) -> Result<CreatedClient, ManagementError> {
        caller.actor.require(org, CLIENTS_WRITE)?;
        if new.resource_server {
            // A resource server checks every organisation's keys: operator only.
            caller.actor.require_operator()?;
        }
        self.require_api_access(org).await?;
        let now = self.now();
        let client = Client {
            id: ClientId::generate(),
            org_id: org.clone(),
            name: fields::name(&new.name)?,
            scopes: fields::scopes(&new.scopes)?,
            audiences: fields::audiences(&new.audiences)?,
            status: ClientStatus::Active,
            resource_server: new.resource_server,
            created_at: now,
            updated_at: now,
            expires_at: fields::expiry(new.expires_at, now)?,
            ip_allowlist: fields::allowlist(&new.ip_allowlist)?,
            rate_limit_per_minute: new
                .rate_limit_per_minute
                .map(|n| fields::rate_limit(n, self.max_rate_limit_per_minute))
                .transpose()?,
            last_used_at: None,
            request_count: 0,
            auth_method: fields::auth_method(new.token_endpoint_auth_method.as_deref())?,
            public_keys: fields::client_keys(&new.public_keys)?,
            jwks_uri: self.jwks_uri(new.jwks_uri.as_deref())?,
            dpop_bound_access_tokens: new.dpop_bound_access_tokens,
            federated_subjects: Default::default(),
        };
        let imported = fields::imported_secret(new.client_secret.as_ref())?;
        caller.actor.require_covers(&client.scopes)?;
        let (hash, secret) = self.new_secret(imported, None).await;
        self.store.insert_client(&client, &hash).await?;
        let changes =
            audit_trail::initial(&views::json(&ClientView::of(&client, &self.rate_tiers)));
        self.record(caller, "client.created", target(&client), changes)
            .await;
        Ok(CreatedClient { client, secret })
    }

    /// An organisation's clients, or every client (the operator only).
    pub async fn list_clients(
        &self,
        caller: &Caller,
        org: Option<&OrgId>,
        page: &PageRequest,
    ) -> Result<Vec<Client>, ManagementError> {
        match org {
            Some(org) => caller.actor.require(org, CLIENTS_READ)?,
            None => caller.actor.require_operator()?,
        }
        Ok(self.store.list_clients(org, page).await?)
    }

    pub async fn get_client(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ClientId,
    ) -> Result<Client, ManagementError> {
        caller.actor.require(org, CLIENTS_READ)?;
        Ok(self.store.get_client(org, id).await?)
    }

    /// The organisation of a client, for the operator, who may name a
    /// client by its id alone.
    pub async fn client_owner(
        &self,
        caller: &Caller,
        id: &ClientId,
    ) -> Result<OrgId, ManagementError> {
        caller.actor.require_operator()?;
        match self.store.client_credentials(id, self.now()).await? {
            Some(found) => Ok(found.client.org_id),
            None => Err(ManagementError::NotFound),
        }
    }

    pub async fn update_client(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ClientId,
        changes: ClientChanges,
    ) -> Result<Client, ManagementError> {
        caller.actor.require(org, CLIENTS_WRITE)?;
        let mut client = self.store.get_client(org, id).await?;
        let now = self.now();
        let before = views::json(&ClientView::of(&client, &self.rate_tiers));
        if let Some(name) = &changes.name {
            client.name = fields::name(name)?;
        }
        if let Some(list) = &changes.scopes {
            client.scopes = fields::scopes(list)?;
            caller.actor.require_covers(&client.scopes)?;
        }
        if let Some(list) = &changes.audiences {
            client.audiences = fields::audiences(list)?;
        }
        if let Some(expiry) = changes.expires_at {
            client.expires_at = fields::expiry(expiry, now)?;
        }
        if let Some(limit) = changes.rate_limit_per_minute {
            client.rate_limit_per_minute = limit
                .map(|n| fields::rate_limit(n, self.max_rate_limit_per_minute))
                .transpose()?;
        }
        if let Some(list) = &changes.ip_allowlist {
            client.ip_allowlist = fields::allowlist(list)?;
        }
        if let Some(resource_server) = changes.resource_server {
            caller.actor.require_operator()?;
            client.resource_server = resource_server;
        }
        if let Some(method) = &changes.token_endpoint_auth_method {
            client.auth_method = fields::auth_method(method.as_deref())?;
        }
        if let Some(uri) = &changes.jwks_uri {
            client.jwks_uri = self.jwks_uri(uri.as_deref())?;
        }
        if let Some(required) = changes.dpop_bound_access_tokens {
            client.dpop_bound_access_tokens = required;
        }
        self.store_change(caller, client, before, "client.updated", now)
            .await
    }

    /// Registers a public key the client signs `private_key_jwt`
    /// assertions with.
    pub async fn add_client_key(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ClientId,
        registration: KeyRegistration,
    ) -> Result<(Client, String), ManagementError> {
        caller.actor.require(org, CLIENTS_WRITE)?;
        let key = fields::public_key(&registration)?;
        let kid = key.kid().to_owned();
        let mut client = self.store.get_client(org, id).await?;
        let before = views::json(&ClientView::of(&client, &self.rate_tiers));
        client
            .public_keys
            .add(key)
            .map_err(|e| ManagementError::invalid("public_key", e))?;
        let client = self
            .store_change(caller, client, before, "client.key_added", self.now())
            .await?;
        Ok((client, kid))
    }

    /// Removes a client's key: assertions signed with it fail at once.
    pub async fn remove_client_key(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ClientId,
        kid: &str,
    ) -> Result<Client, ManagementError> {
        caller.actor.require(org, CLIENTS_WRITE)?;
        let mut client = self.store.get_client(org, id).await?;
        let before = views::json(&ClientView::of(&client, &self.rate_tiers));
        if !client.public_keys.remove(kid) {
            return Err(ManagementError::NotFound);
        }
        self.store_change(caller, client, before, "client.key_removed", self.now())
            .await
    }

    /// Stores a changed client, forgets it in the caches and records the
    /// change against the view it had `before`.
    pub(super) async fn store_change(
        &self,
        caller: &Caller,
        mut client: Client,
        before: Value,
        action: &'static str,
        now: i64,
    ) -> Result<Client, ManagementError> {
        client.updated_at = now;
        self.store.update_client(&client).await?;
        self.forget(Change::Client(client.id.clone()));
        let changes = audit_trail::diff(
            &before,
            &views::json(&ClientView::of(&client, &self.rate_tiers)),
        );
        self.record(caller, action, target(&client), changes).await;
        Ok(client)
    }

    /// A new secret: imported, or else generated and shown once. The
    /// client's other secrets keep working for the grace period (0 ends
    /// them at once), never past their own end.
    pub async fn rotate_client_secret(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ClientId,
        rotation: SecretRotation,
    ) -> Result<RotatedSecret, ManagementError> {
        caller.actor.require(org, CLIENTS_WRITE)?;
        let mut client = self.store.get_client(org, id).await?;
        caller.actor.require_covers(&client.scopes)?;
        let grace = fields::grace_period(rotation.grace_period_seconds)?;
        let imported = fields::imported_secret(rotation.client_secret.as_ref())?;
        let (hash, secret) = self.new_secret(imported, None).await;
        let now = self.now();
        self.store
            .rotate_client_secret(&client.id, &hash, now + grace, now)
            .await?;
        self.forget(Change::Client(client.id.clone()));
        client.updated_at = now;
        let ends = now + grace;
        let changes = audit_trail::change(
            "previous_secret_expires_at",
            Value::Null,
            crate::time::rfc3339(ends).into(),
        );
        self.record(caller, "client.secret_rotated", target(&client), changes)
            .await;
        Ok(RotatedSecret {
            client,
            secret,
            previous_secret_expires_at: ends,
        })
    }

    /// Deactivates (no new tokens, and its live tokens introspect
    /// inactive) or reactivates a client.
    pub async fn set_client_status(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ClientId,
        status: ClientStatus,
    ) -> Result<Client, ManagementError> {
        caller.actor.require(org, CLIENTS_WRITE)?;
        let mut client = self.store.get_client(org, id).await?;
        let now = self.now();
        self.store
            .set_client_status(&client.id, status, now)
            .await?;
        self.forget(Change::Client(client.id.clone()));
        let changes = audit_trail::change(
            "status",
            client.status.as_str().into(),
            status.as_str().into(),
        );
        let action = match status {
            ClientStatus::Active => "client.activated",
            ClientStatus::Deactivated => "client.deactivated",
        };
        self.record(caller, action, target(&client), changes).await;
        client.status = status;
        client.updated_at = now;
        Ok(client)
    }

    /// Deletes a client and its secrets; its tokens stop introspecting as active.
    pub async fn delete_client(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ClientId,
    ) -> Result<(), ManagementError> {
        caller.actor.require(org, CLIENTS_WRITE)?;
        let client = self.store.get_client(org, id).await?;
        self.store.delete_client(&client.id, self.now()).await?;
        self.forget(Change::Client(client.id.clone()));
        self.record(
            caller,
            "client.deleted",
            target(&client),
            Default::default(),
        )
        .await;
        Ok(())
    }

    /// A key set URL: where webhooks may go may be fetched from, under
    /// the same rules (https, public addresses, unless the operator allows
    /// otherwise).
    fn jwks_uri(&self, raw: Option<&str>) -> Result<Option<String>, ManagementError> {
        raw.map(|raw| self.webhook_urls.parse(raw))
            .transpose()
            .map_err(|e| ManagementError::invalid("jwks_uri", e))
    }

    /// Refuses a client for an organisation whose plan has no API access.
    async fn require_api_access(&self, org: &OrgId) -> Result<(), ManagementError> {
        let plan = self.store.get_organisation(org).await?.plan;
        if !self.plans.of(plan).api_access {
            return Err(ManagementError::ApiAccessNotAvailable);
        }
        Ok(())
    }

    /// The stored hash of a client's new secret, and the secret when
    /// Keyward generated it (an imported one is not shown back).
    async fn new_secret(
        &self,
        imported: Option<ImportedSecret>,
        expires_at: Option<i64>,
    ) -> (SecretHash, Option<ClientSecret>) {
        match imported {
            Some(imported) => {
                let hash = SecretHash {
                    phc: self.secrets.hash_imported(imported.expose()).await,
                    origin: SecretOrigin::Imported,
                    expires_at,
                };
                (hash, None)
            }
            None => {
                let secret = generate_client_secret();
                let hash = SecretHash {
                    phc: self.secrets.digest(secret.expose()),
                    origin: SecretOrigin::Generated,
                    expires_at,
                };
                (hash, Some(secret))
            }
        }
    }
}

fn target(client: &Client) -> Target<'_> {
    Target {
        org_id: Some(&client.org_id),
        kind: "client",
        id: Some(client.id.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_imported_secret_stays_out_of_debug_output() {
        let secret = "hydra-Zq8xV2mLp0R7tYc4NbWk1sDf";
        let new: NewClient = serde_json::from_value(serde_json::json!({
            "name": "moved", "scopes": ["a"], "client_secret": secret,
        }))
        .unwrap();
        let rotation: SecretRotation =
            serde_json::from_value(serde_json::json!({ "client_secret": secret })).unwrap();
        for debug in [format!("{new:?}"), format!("{rotation:?}")] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
}
