//! `keyward issuer …`: the issuers whose tokens sign workloads in.

use serde_json::json;

use super::Output;
use crate::cli::IssuerCommand;
use crate::domain::TrustedIssuer;
use crate::management::views::TrustedIssuerView;
use crate::management::{Caller, Management, NewTrustedIssuer};

pub async fn run(command: IssuerCommand, management: &Management) -> anyhow::Result<Output> {
    let caller = Caller::cli();
    Ok(match command {
        IssuerCommand::Add {
            issuer,
            jwks_uri,
            jwks_file,
            audience,
        } => {
            let jwks = jwks_file
                .map(|path| {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| anyhow::anyhow!("--jwks-file {}: {e}", path.display()))?;
                    serde_json::from_str(&text)
                        .map_err(|e| anyhow::anyhow!("--jwks-file {}: {e}", path.display()))
                })
                .transpose()?;
            let new = NewTrustedIssuer {
                issuer,
                jwks_uri,
                jwks,
                audience,
            };
            let added = management.add_trusted_issuer(&caller, new).await?;
            Output::view(&TrustedIssuerView::of(&added), line(&added))
        }
        IssuerCommand::List => {
            let issuers = management.trusted_issuers(&caller).await?;
            Output::list("trusted_issuers", &issuers, TrustedIssuerView::of, line)
        }
        IssuerCommand::Remove { issuer_id } => {
            management
                .remove_trusted_issuer(&caller, &issuer_id)
                .await?;
            Output::new(
                json!({"id": issuer_id, "removed": true}),
                format!("no longer trusting issuer {issuer_id}"),
            )
        }
    })
}

fn line(issuer: &TrustedIssuer) -> String {
    let view = TrustedIssuerView::of(issuer);
    format!("{}  {}  keys from {}", view.id, view.issuer, view.keys_from)
}
