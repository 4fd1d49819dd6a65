//! Workload identity federation's use cases: the issuers the operator
//! trusts (root only), and the workloads a client is bound to.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::audit_trail::{self, Target};
use super::views::{self, ClientView, TrustedIssuerView};
use super::{Caller, Management, ManagementError};
use crate::domain::management_scope::CLIENTS_WRITE;
use crate::domain::{
    Client, ClientId, FederatedSubject, IssuerKeys, OrgId, PublicJwk, SubjectMatch, TrustedIssuer,
};

/// A trusted issuer to register. Keys come from `jwks_uri`, or from the
/// static `jwks`, or else from the issuer's OIDC discovery document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTrustedIssuer {
    pub issuer: String,
    pub jwks_uri: Option<String>,
    pub jwks: Option<Value>,
    pub audience: Option<String>,
}

/// A workload to bind a client to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewFederatedSubject {
    pub issuer: String,
    pub subject: String,
    #[serde(default)]
    pub subject_match: SubjectMatch,
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
}

const MAX_URL_LEN: usize = 2048;
const MAX_STATIC_KEYS: usize = 10;

impl Management {
    pub async fn add_trusted_issuer(
        &self,
        caller: &Caller,
        new: NewTrustedIssuer,
    ) -> Result<TrustedIssuer, ManagementError> {
        caller.actor.require_operator()?;
        let issuer = url_field("issuer", &new.issuer)?;
        let keys = match (new.jwks_uri, new.jwks) {
            (Some(_), Some(_)) => {
                return Err(ManagementError::invalid(
                    "jwks",
                    "give jwks_uri or jwks, not both",
                ))
            }
            (Some(uri), None) => IssuerKeys::JwksUri(url_field("jwks_uri", &uri)?),
            (None, Some(set)) => IssuerKeys::Static(static_key_set(set)?),
            (None, None) => IssuerKeys::Discovery,
        };
        if new
            .audience
            .as_ref()
            .is_some_and(|a| a.is_empty() || a.len() > MAX_URL_LEN)
        {
            return Err(ManagementError::invalid("audience", "1 to 2048 characters"));
        }
        let trusted = TrustedIssuer {
            id: TrustedIssuer::new_id(),
            issuer,
            keys,
            audience: new.audience,
            created_at: self.now(),
        };
        self.store.insert_trusted_issuer(&trusted).await?;
        let view = views::json(&TrustedIssuerView::of(&trusted));
        self.record(
            caller,
            "trusted_issuer.added",
            issuer_target(&trusted.id),
            audit_trail::initial(&view),
        )
        .await;
        self.reload_issuers().await;
        Ok(trusted)
    }

    pub async fn trusted_issuers(
        &self,
        caller: &Caller,
    ) -> Result<Vec<TrustedIssuer>, ManagementError> {
        caller.actor.require_operator()?;
        Ok(self.store.trusted_issuers().await?)
    }

    /// Stops trusting an issuer: its tokens sign no one in from then on
    /// (on other nodes within their reload interval).
    pub async fn remove_trusted_issuer(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<(), ManagementError> {
        caller.actor.require_operator()?;
        if !self.store.delete_trusted_issuer(id).await? {
            return Err(ManagementError::NotFound);
        }
        self.record(
            caller,
            "trusted_issuer.removed",
            issuer_target(id),
            Default::default(),
        )
        .await;
        self.reload_issuers().await;
        Ok(())
    }

    /// Binds a client to a workload of a trusted issuer.
    pub async fn add_federated_subject(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ClientId,
        new: NewFederatedSubject,
    ) -> Result<(Client, String), ManagementError> {
        caller.actor.require(org, CLIENTS_WRITE)?;
        let trusted = self.store.trusted_issuers().await?;
        if !trusted.iter().any(|t| t.issuer == new.issuer) {
            return Err(ManagementError::invalid(
                "issuer",
                "not a trusted issuer; the operator registers those",
            ));
        }
        let subject = FederatedSubject::new(new.issuer, new.subject, new.subject_match, new.claims)
            .map_err(|e| ManagementError::invalid("subject", e))?;
        let subject_id = subject.id.clone();
        let mut client = self.store.get_client(org, id).await?;
        let before = views::json(&ClientView::of(&client, &self.rate_tiers));
        client
            .federated_subjects
            .add(subject)
            .map_err(|e| ManagementError::invalid("subject", e))?;
        let client = self
            .store_change(caller, client, before, "client.subject_bound", self.now())
            .await?;
        Ok((client, subject_id))
    }

    pub async fn remove_federated_subject(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ClientId,
        subject_id: &str,
    ) -> Result<Client, ManagementError> {
        caller.actor.require(org, CLIENTS_WRITE)?;
        let mut client = self.store.get_client(org, id).await?;
        let before = views::json(&ClientView::of(&client, &self.rate_tiers));
        if !client.federated_subjects.remove(subject_id) {
            return Err(ManagementError::NotFound);
        }
        self.store_change(caller, client, before, "client.subject_unbound", self.now())
            .await
    }

    async fn reload_issuers(&self) {
        if let Some(issuers) = &self.issuers {
            issuers.reload().await;
        }
    }
}

fn issuer_target(id: &str) -> Target<'_> {
    Target {
        org_id: None,
        kind: "trusted_issuer",
        id: Some(id),
    }
}

/// An absolute `http(s)` URL. The operator registers issuers, so private
/// and plain-HTTP addresses (an in-cluster issuer, a test issuer) are
/// allowed.
fn url_field(field: &'static str, raw: &str) -> Result<String, ManagementError> {
    let parsed = url::Url::parse(raw).map_err(|e| ManagementError::invalid(field, e))?;
    if raw.len() > MAX_URL_LEN || !matches!(parsed.scheme(), "https" | "http") {
        return Err(ManagementError::invalid(
            field,
            "an http or https URL of at most 2048 characters",
        ));
    }
    Ok(raw.to_owned())
}

/// A JWK Set of 1 to 10 public signing keys we can use.
fn static_key_set(set: Value) -> Result<Value, ManagementError> {
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| ManagementError::invalid("jwks", "a JWK Set: {\"keys\": [...]}"))?;
    if keys.is_empty() || keys.len() > MAX_STATIC_KEYS {
        return Err(ManagementError::invalid("jwks", "1 to 10 keys"));
    }
    for key in keys {
        PublicJwk::from_json(key).map_err(|e| ManagementError::invalid("jwks", e))?;
    }
    Ok(set)
}
