//! `keyward user …`: the console's users.

use serde_json::json;

use super::orgs::id;
use super::Output;
use crate::cli::UserCommand;
use crate::configuration::Settings;
use crate::management::{password_link, Caller, Management, NewMember};

pub(super) async fn run(
    command: UserCommand,
    management: &Management,
    settings: &Settings,
) -> anyhow::Result<Output> {
    let caller = Caller::cli();
    match command {
        UserCommand::Create {
            org,
            email,
            role,
            name,
        } => {
            let org = id(&org)?;
            let new = NewMember {
                email,
                display_name: name,
                role,
            };
            let invitation = management.invite_member(&caller, &org, new).await?;
            let link = invitation
                .password_link
                .as_ref()
                .map(|token| password_link(&settings.issuer(), token));
            let mut text = format!(
                "{} is {} of {org}",
                invitation.email.as_str(),
                invitation.role.as_str()
            );
            if let Some(link) = &link {
                text.push_str(&format!(
                    "\nset a password within 24 hours at:\n{link}\n(the link is shown only now)"
                ));
            }
            if invitation.emailed {
                text.push_str("\nan invitation email is on its way to them");
            }
            Ok(Output::new(
                json!({
                    "user_id": invitation.user_id.as_str(),
                    "org_id": org.as_str(),
                    "email": invitation.email.as_str(),
                    "role": invitation.role.as_str(),
                    "password_link": link,
                    "emailed": invitation.emailed,
                }),
                text,
            ))
        }
    }
}
