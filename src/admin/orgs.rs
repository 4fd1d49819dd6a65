//! `keyward org …`

use secrecy::ExposeSecret;

use super::Output;
use crate::cli::OrgCommand;
use crate::domain::{OrgId, Organisation};
use crate::management::views::OrganisationView;
use crate::management::{Caller, Management, NewOrganisation, OrganisationChanges};
use crate::storage::PageRequest;

pub(super) async fn run(command: OrgCommand, management: &Management) -> anyhow::Result<Output> {
    let caller = Caller::cli();
    Ok(match command {
        OrgCommand::Create { name, plan } => {
            let org = management
                .create_organisation(
                    &caller,
                    NewOrganisation {
                        name,
                        plan,
                        notification_email: None,
                    },
                )
                .await?;
            let text = format!(
                "created organisation {} ({}, plan {})",
                org.id,
                org.name.as_str(),
                org.plan.as_str()
            );
            Output::view(&OrganisationView::of(&org), text)
        }
        OrgCommand::List => {
            let everything = PageRequest::everything();
            let orgs = management.list_organisations(&caller, &everything).await?;
            Output::list("organisations", &orgs, OrganisationView::of, line)
        }
        OrgCommand::Get { org_id } => {
            let org = management.get_organisation(&caller, &id(&org_id)?).await?;
            Output::view(&OrganisationView::of(&org), line(&org))
        }
        OrgCommand::Update {
            org_id,
            name,
            plan,
            webhook_url,
            no_webhook_url,
            notification_email,
            no_notification_email,
        } => {
            let changes = OrganisationChanges {
                name,
                plan,
                webhook_url: if no_webhook_url {
                    Some(None)
                } else {
                    webhook_url.map(Some)
                },
                notification_email: if no_notification_email {
                    Some(None)
                } else {
                    notification_email.map(Some)
                },
            };
            let updated = management
                .update_organisation(&caller, &id(&org_id)?, changes)
                .await?;
            let org = &updated.organisation;
            let mut out = Output::view(&OrganisationView::of(org), line(org));
            if let Some(secret) = updated.webhook_secret {
                out.json["webhook_secret"] = secret.expose_secret().into();
                out.text += &format!(
                    "\nwebhook_secret: {}\n(the secret is shown only now; store it safely)",
                    secret.expose_secret()
                );
            }
            out
        }
        OrgCommand::RotateWebhookSecret { org_id } => {
            let org = id(&org_id)?;
            let secret = management.rotate_webhook_secret(&caller, &org).await?;
            Output::new(
                serde_json::json!({
                    "org_id": org.as_str(),
                    "webhook_secret": secret.expose_secret(),
                }),
                format!(
                    "webhook_secret: {}\n(the secret is shown only now; store it safely)",
                    secret.expose_secret()
                ),
            )
        }
    })
}

pub(super) fn id(raw: &str) -> anyhow::Result<OrgId> {
    OrgId::parse(raw).map_err(|_| anyhow::anyhow!("{raw:?} is not an organisation id"))
}

fn line(org: &Organisation) -> String {
    format!("{}\t{}\t{}", org.id, org.plan.as_str(), org.name.as_str())
}
