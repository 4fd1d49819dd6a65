//! `keyward client …`: a client is named by its id alone; its
//! organisation is looked up.

use serde_json::json;

use super::{read_secret_from_stdin, Output};
use crate::cli::{ClientCommand, ClientCreate, ClientUpdate};
use crate::domain::{Client, ClientId, ClientSecret, ClientStatus, OrgId, RateTiers, SubjectMatch};
use crate::management::views::ClientView;
use crate::management::{
    Caller, ClientChanges, KeyRegistration, Management, NewClient, NewFederatedSubject,
    SecretRotation,
};
use crate::storage::PageRequest;

pub(super) async fn run(command: ClientCommand, management: &Management) -> anyhow::Result<Output> {
    let caller = Caller::cli();
    Ok(match command {
        ClientCommand::Create(args) => create(args, management, &caller).await?,
        ClientCommand::List { org } => {
            let org = org.as_deref().map(super::orgs::id).transpose()?;
            let everything = PageRequest::everything();
            let clients = management
                .list_clients(&caller, org.as_ref(), &everything)
                .await?;
            Output::list(
                "clients",
                &clients,
                |c| ClientView::of(c, &management.rate_tiers),
                line,
            )
        }
        ClientCommand::Get { client_id } => {
            let (org, id) = owned(management, &caller, &client_id).await?;
            let client = management.get_client(&caller, &org, &id).await?;
            Output::view(
                &ClientView::of(&client, &management.rate_tiers),
                line(&client),
            )
        }
        ClientCommand::Update(args) => update(args, management, &caller).await?,
        ClientCommand::RotateSecret {
            client_id,
            grace_period_seconds,
            secret_stdin,
        } => {
            let (org, id) = owned(management, &caller, &client_id).await?;
            let rotation = SecretRotation {
                grace_period_seconds,
                client_secret: secret_stdin.then(read_secret_from_stdin).transpose()?,
            };
            let rotated = management
                .rotate_client_secret(&caller, &org, &id, rotation)
                .await?;
            let ends = crate::time::rfc3339(rotated.previous_secret_expires_at);
            let mut out = with_secret(
                &rotated.client,
                rotated.secret.as_ref(),
                "new secret",
                &management.rate_tiers,
            );
            out.json["previous_secret_expires_at"] = ends.clone().into();
            out.text += &format!("\nthe previous secrets work until {ends}");
            out
        }
        ClientCommand::Deactivate { client_id } => {
            set_status(management, &caller, &client_id, ClientStatus::Deactivated).await?
        }
        ClientCommand::Activate { client_id } => {
            set_status(management, &caller, &client_id, ClientStatus::Active).await?
        }
        ClientCommand::AddKey {
            client_id,
            file,
            kid,
        } => {
            let (org, id) = owned(management, &caller, &client_id).await?;
            let registration = key_file(&file, kid)?;
            let (client, kid) = management
                .add_client_key(&caller, &org, &id, registration)
                .await?;
            Output::view(
                &ClientView::of(&client, &management.rate_tiers),
                format!("added key {kid} to client {id}"),
            )
        }
        ClientCommand::RemoveKey { client_id, kid } => {
            let (org, id) = owned(management, &caller, &client_id).await?;
            let client = management
                .remove_client_key(&caller, &org, &id, &kid)
                .await?;
            Output::view(
                &ClientView::of(&client, &management.rate_tiers),
                format!("removed key {kid} from client {id}"),
            )
        }
        ClientCommand::Bind {
            client_id,
            issuer,
            subject,
            glob,
            claims,
        } => {
            let (org, id) = owned(management, &caller, &client_id).await?;
            let new = NewFederatedSubject {
                issuer,
                subject,
                subject_match: if glob {
                    SubjectMatch::Glob
                } else {
                    SubjectMatch::Exact
                },
                claims: claims
                    .iter()
                    .map(|pair| {
                        pair.split_once('=')
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .ok_or_else(|| anyhow::anyhow!("--claim {pair:?}: use NAME=VALUE"))
                    })
                    .collect::<anyhow::Result<_>>()?,
            };
            let (client, subject_id) = management
                .add_federated_subject(&caller, &org, &id, new)
                .await?;
            let mut out = Output::view(
                &ClientView::of(&client, &management.rate_tiers),
                format!("bound client {id} to a workload: {subject_id}"),
            );
            out.json["subject_id"] = subject_id.into();
            out
        }
        ClientCommand::Unbind {
            client_id,
            subject_id,
        } => {
            let (org, id) = owned(management, &caller, &client_id).await?;
            let client = management
                .remove_federated_subject(&caller, &org, &id, &subject_id)
                .await?;
            Output::view(
                &ClientView::of(&client, &management.rate_tiers),
                format!("removed binding {subject_id} from client {id}"),
            )
        }
        ClientCommand::Delete { client_id } => {
            let (org, id) = owned(management, &caller, &client_id).await?;
            management.delete_client(&caller, &org, &id).await?;
            Output::new(
                json!({"client_id": id.as_str(), "deleted": true}),
                format!("client {id} deleted"),
            )
        }
    })
}

async fn create(
    args: ClientCreate,
    management: &Management,
    caller: &Caller,
) -> anyhow::Result<Output> {
    let org = super::orgs::id(&args.org)?;
    let new = NewClient {
        name: args.name,
        scopes: args.scopes,
        audiences: args.audiences,
        expires_at: args.expires_at,
        rate_limit_per_minute: args.rate_limit_per_minute,
        ip_allowlist: args.ip_allowlist,
        resource_server: args.resource_server,
        client_secret: args.secret_stdin.then(read_secret_from_stdin).transpose()?,
        token_endpoint_auth_method: args.auth_method,
        public_keys: args
            .public_keys
            .iter()
            .map(|path| key_file(path, None))
            .collect::<anyhow::Result<_>>()?,
        jwks_uri: args.jwks_uri,
        dpop_bound_access_tokens: args.require_dpop,
    };
    let created = management.create_client(caller, &org, new).await?;
    Ok(with_secret(
        &created.client,
        created.secret.as_ref(),
        "created client",
        &management.rate_tiers,
    ))
}

async fn update(
    args: ClientUpdate,
    management: &Management,
    caller: &Caller,
) -> anyhow::Result<Output> {
    let (org, id) = owned(management, caller, &args.client_id).await?;
    let changes = ClientChanges {
        name: args.name,
        scopes: args.scopes,
        audiences: args.audiences,
        expires_at: if args.no_expiry {
            Some(None)
        } else {
            args.expires_at.map(Some)
        },
        rate_limit_per_minute: if args.no_rate_limit {
            Some(None)
        } else {
            args.rate_limit_per_minute.map(Some)
        },
        ip_allowlist: args.ip_allowlist,
        resource_server: args.resource_server,
        token_endpoint_auth_method: if args.any_auth_method {
            Some(None)
        } else {
            args.auth_method.map(Some)
        },
        jwks_uri: if args.no_jwks_uri {
            Some(None)
        } else {
            args.jwks_uri.map(Some)
        },
        dpop_bound_access_tokens: args.require_dpop,
    };
    let client = management.update_client(caller, &org, &id, changes).await?;
    Ok(Output::view(
        &ClientView::of(&client, &management.rate_tiers),
        line(&client),
    ))
}

/// A public key from a file: a JWK when it holds a JSON object, else PEM.
fn key_file(path: &std::path::Path, kid: Option<String>) -> anyhow::Result<KeyRegistration> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--file {}: {e}", path.display()))?;
    Ok(KeyRegistration::from_text(&text, kid)?)
}

async fn set_status(
    management: &Management,
    caller: &Caller,
    raw: &str,
    status: ClientStatus,
) -> anyhow::Result<Output> {
    let (org, id) = owned(management, caller, raw).await?;
    let client = management
        .set_client_status(caller, &org, &id, status)
        .await?;
    Ok(Output::view(
        &ClientView::of(&client, &management.rate_tiers),
        line(&client),
    ))
}

/// The client's view with its new secret, printed this once; an imported
/// secret is not printed back.
fn with_secret(
    client: &Client,
    secret: Option<&ClientSecret>,
    what: &str,
    tiers: &RateTiers,
) -> Output {
    let mut out = Output::view(&ClientView::of(client, tiers), String::new());
    out.text = match secret {
        Some(secret) => {
            out.json["client_secret"] = secret.expose().into();
            format!(
                "{what} {}\nclient_secret: {}\n(the secret is shown only now; store it safely)",
                client.id,
                secret.expose()
            )
        }
        None => format!(
            "{what} {} with the secret read from standard input",
            client.id
        ),
    };
    out
}

/// The client `raw` names, and its organisation.
async fn owned(
    management: &Management,
    caller: &Caller,
    raw: &str,
) -> anyhow::Result<(OrgId, ClientId)> {
    let id = ClientId::parse(raw).map_err(|_| anyhow::anyhow!("{raw:?} is not a client id"))?;
    let org = management.client_owner(caller, &id).await?;
    Ok((org, id))
}

fn line(c: &Client) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}",
        c.id,
        c.org_id,
        c.status.as_str(),
        c.scopes,
        c.name.as_str()
    )
}
