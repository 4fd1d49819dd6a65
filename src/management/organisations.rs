//! Organisations: only the operator creates and lists them or changes a
//! plan; an organisation's admins rename it and set its webhook and its
//! notification email.

use secrecy::SecretString;
use serde::Deserialize;

use super::audit_trail::{self, Target};
use super::fields;
use super::views::{self, OrganisationView};
use super::{Caller, Management, ManagementError};
use crate::crypto::webhook_signing;
use crate::domain::management_scope::CLIENTS_WRITE;
use crate::domain::{OrgId, Organisation};
use crate::storage::PageRequest;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrganisation {
    pub name: String,
    pub plan: String,
    /// Where its notification emails go; its owners and admins when unset.
    #[serde(default)]
    pub notification_email: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganisationChanges {
    pub name: Option<String>,
    pub plan: Option<String>,
    /// A URL, or `null` to remove it.
    #[serde(default, deserialize_with = "super::fields::present")]
    pub webhook_url: Option<Option<String>>,
    /// An address, or `null` to send to the owners and admins again.
    #[serde(default, deserialize_with = "super::fields::present")]
    pub notification_email: Option<Option<String>>,
}

pub struct UpdatedOrganisation {
    pub organisation: Organisation,
    /// The webhook signing secret, made when the first webhook URL is set
    /// and shown this once.
    pub webhook_secret: Option<SecretString>,
}

impl Management {
    pub async fn create_organisation(
        &self,
        caller: &Caller,
        new: NewOrganisation,
    ) -> Result<Organisation, ManagementError> {
        caller.actor.require_operator()?;
        let org = Organisation {
            id: OrgId::generate(),
            name: fields::name(&new.name)?,
            plan: fields::plan(&new.plan)?,
            created_at: self.now(),
            webhook_url: None,
            webhook_signing_nonce: None,
            notification_email: new
                .notification_email
                .as_deref()
                .map(fields::notification_email)
                .transpose()?,
        };
        self.store.insert_organisation(&org).await?;
        let changes = audit_trail::initial(&views::json(&OrganisationView::of(&org)));
        self.record(caller, "organisation.created", target(&org.id), changes)
            .await;
        Ok(org)
    }

    pub async fn list_organisations(
        &self,
        caller: &Caller,
        page: &PageRequest,
    ) -> Result<Vec<Organisation>, ManagementError> {
        caller.actor.require_operator()?;
        Ok(self.store.list_organisations(page).await?)
    }

    pub async fn get_organisation(
        &self,
        caller: &Caller,
        id: &OrgId,
    ) -> Result<Organisation, ManagementError> {
        caller.actor.require_any(id)?;
        Ok(self.store.get_organisation(id).await?)
    }

    pub async fn update_organisation(
        &self,
        caller: &Caller,
        id: &OrgId,
        changes: OrganisationChanges,
    ) -> Result<UpdatedOrganisation, ManagementError> {
        caller.actor.require(id, CLIENTS_WRITE)?;
        let mut org = self.store.get_organisation(id).await?;
        let before = views::json(&OrganisationView::of(&org));
        if let Some(name) = &changes.name {
            org.name = fields::name(name)?;
        }
        if let Some(plan) = &changes.plan {
            caller.actor.require_operator()?;
            org.plan = fields::plan(plan)?;
        }
        if let Some(url) = changes.webhook_url {
            org.webhook_url = url
                .as_deref()
                .map(|raw| self.webhook_urls.parse(raw))
                .transpose()
                .map_err(|e| ManagementError::invalid("webhook_url", e))?;
        }
        if let Some(address) = changes.notification_email {
            org.notification_email = address
                .as_deref()
                .map(fields::notification_email)
                .transpose()?;
        }
        // The first webhook URL brings the signing secret.
        let webhook_secret = (org.webhook_url.is_some() && org.webhook_signing_nonce.is_none())
            .then(|| {
                let nonce = webhook_signing::new_nonce();
                org.webhook_signing_nonce = Some(nonce.clone());
                self.webhook_signer.secret(&org.id, &nonce)
            });
        self.store.update_organisation(&org, self.now()).await?;
        let after = views::json(&OrganisationView::of(&org));
        let changes = audit_trail::diff(&before, &after);
        self.record(caller, "organisation.updated", target(&org.id), changes)
            .await;
        Ok(UpdatedOrganisation {
            organisation: org,
            webhook_secret,
        })
    }

    /// A new signing secret for the organisation's webhooks, shown once;
    /// the old one stops signing.
    pub async fn rotate_webhook_secret(
        &self,
        caller: &Caller,
        id: &OrgId,
    ) -> Result<SecretString, ManagementError> {
        caller.actor.require(id, CLIENTS_WRITE)?;
        let mut org = self.store.get_organisation(id).await?;
        let nonce = webhook_signing::new_nonce();
        org.webhook_signing_nonce = Some(nonce.clone());
        self.store.update_organisation(&org, self.now()).await?;
        let action = "organisation.webhook_secret_rotated";
        self.record(caller, action, target(&org.id), Default::default())
            .await;
        Ok(self.webhook_signer.secret(&org.id, &nonce))
    }
}

fn target(id: &OrgId) -> Target<'_> {
    Target {
        org_id: Some(id),
        kind: "organisation",
        id: Some(id.as_str()),
    }
}
