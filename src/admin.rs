//! Runs the admin commands of the CLI and prints their results, as text or
//! as exactly one JSON object.

use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;
use serde_json::{json, Map, Value};

use crate::cli::{ApiKeyCommand, ClientCommand, ClientCreate, Command, KeysCommand, OrgCommand};
use crate::configuration::Settings;
use crate::crypto::SecretHasher;
use crate::domain::IpAllowlist;
use crate::domain::{
    Audience, AuditEvent, AuditTarget, ClientId, ClientStatus, ImportedSecret, Name, OrgId,
    ScopeSet,
};
use crate::routes::admin::{audit, views};
use crate::services::registry::{self, NewApiKey, NewClient};
use crate::startup::{check_digest_keys, keyring, open_store, secret_hasher};
use crate::stats::Counters;

pub async fn run(command: Command, settings: &Settings, as_json: bool) -> anyhow::Result<()> {
    let output = match command {
        Command::Serve | Command::Healthcheck => {
            unreachable!("serve and healthcheck are not admin commands")
        }
        Command::Keys(keys) => keys_command(keys, settings)?,
        other => {
            let store = open_store(settings, Arc::new(Counters::default())).await?;
            match other {
                Command::Migrate => Output::new(
                    json!({"migrated": true, "backend": store.backend()}),
                    "migrations applied".into(),
                ),
                Command::Org(org) => org_command(org, &*store).await?,
                Command::Client(client) => client_command(client, &*store, settings).await?,
                Command::ApiKey(ApiKeyCommand::Create(args)) => {
                    create_api_key(args, &*store, settings).await?
                }
                _ => unreachable!(),
            }
        }
    };
    if as_json {
        println!("{}", output.json);
    } else {
        println!("{}", output.text);
    }
    Ok(())
}

struct Output {
    json: Value,
    text: String,
}

impl Output {
    fn new(json: Value, text: String) -> Self {
        Self { json, text }
    }
}

async fn org_command(
    command: OrgCommand,
    store: &dyn crate::storage::Store,
) -> anyhow::Result<Output> {
    match command {
        OrgCommand::Create { name, plan } => {
            let name = Name::parse(&name).context("--name")?;
            let plan = plan.parse().context("--plan")?;
            let org = registry::create_organisation(store, name, plan).await?;
            let view = views::organisation(&org);
            let target = ("organisation", org.id.as_str());
            record(
                store,
                &org.id,
                "organisation.created",
                target,
                audit::initial(&view),
            )
            .await;
            Ok(Output::new(
                views::organisation(&org),
                format!(
                    "created organisation {} ({}, plan {})",
                    org.id,
                    org.name.as_str(),
                    org.plan.as_str()
                ),
            ))
        }
        OrgCommand::List => {
            let orgs = store
                .list_organisations(&crate::storage::PageRequest::everything())
                .await?;
            let text = orgs
                .iter()
                .map(|o| format!("{}\t{}\t{}", o.id, o.plan.as_str(), o.name.as_str()))
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Output::new(
                json!({"organisations": orgs.iter().map(views::organisation).collect::<Vec<_>>()}),
                text,
            ))
        }
    }
}

async fn client_command(
    command: ClientCommand,
    store: &dyn crate::storage::Store,
    settings: &Settings,
) -> anyhow::Result<Output> {
    match command {
        ClientCommand::Create(args) => create_client(args, store, settings).await,
        ClientCommand::Deactivate { client_id } => {
            let id = client_id_arg(&client_id)?;
            let org = org_of_client(store, &id).await?;
            registry::set_client_status(store, &id, ClientStatus::Deactivated).await?;
            let changes = audit::change("status", "active".into(), "deactivated".into());
            let target = ("client", id.as_str());
            record(store, &org, "client.deactivated", target, changes).await;
            Ok(client_changed(&id, "deactivated"))
        }
        ClientCommand::Activate { client_id } => {
            let id = client_id_arg(&client_id)?;
            let org = org_of_client(store, &id).await?;
            registry::set_client_status(store, &id, ClientStatus::Active).await?;
            let changes = audit::change("status", "deactivated".into(), "active".into());
            let target = ("client", id.as_str());
            record(store, &org, "client.activated", target, changes).await;
            Ok(client_changed(&id, "activated"))
        }
        ClientCommand::Delete { client_id } => {
            let id = client_id_arg(&client_id)?;
            let org = org_of_client(store, &id).await?;
            registry::delete_client(store, &id).await?;
            let target = ("client", id.as_str());
            record(store, &org, "client.deleted", target, Map::new()).await;
            Ok(client_changed(&id, "deleted"))
        }
        ClientCommand::List { org } => {
            let org = org
                .as_deref()
                .map(OrgId::parse)
                .transpose()
                .context("--org")?;
            let clients = store
                .list_clients(org.as_ref(), &crate::storage::PageRequest::everything())
                .await?;
            let text = clients
                .iter()
                .map(|c| {
                    format!(
                        "{}\t{}\t{}\t{}\t{}",
                        c.id,
                        c.org_id,
                        c.status.as_str(),
                        c.scopes,
                        c.name.as_str()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Output::new(
                json!({"clients": clients.iter().map(views::client).collect::<Vec<_>>()}),
                text,
            ))
        }
    }
}

fn client_id_arg(raw: &str) -> anyhow::Result<ClientId> {
    ClientId::parse(raw).context("client id")
}

/// `{"client_id", "<what>": true}`, and a line of text.
fn client_changed(id: &ClientId, what: &str) -> Output {
    Output::new(
        json!({"client_id": id.as_str(), what: true}),
        format!("client {id} {what}"),
    )
}

async fn create_client(
    args: ClientCreate,
    store: &dyn crate::storage::Store,
    settings: &Settings,
) -> anyhow::Result<Output> {
    if let Some(limit) = args.rate_limit_per_minute {
        check_rate_limit(limit, settings)?;
    }
    let imported = args.secret_stdin.then(read_secret_from_stdin).transpose()?;
    let new = NewClient {
        org_id: OrgId::parse(&args.org).context("--org")?,
        name: Name::parse(&args.name).context("--name")?,
        scopes: ScopeSet::from_strs(args.scopes.iter().map(String::as_str)).context("--scope")?,
        audiences: args
            .audiences
            .iter()
            .map(|a| Audience::parse(a))
            .collect::<Result<_, _>>()
            .context("--audience")?,
        resource_server: args.resource_server,
        expires_at: expiry(args.expires_at)?,
        ip_allowlist: IpAllowlist::parse(args.ip_allowlist.iter().map(String::as_str))
            .context("--ip-allow")?,
        rate_limit_per_minute: args.rate_limit_per_minute,
        secret: imported,
    };
    let hasher = hasher_for(store, settings).await?;
    let (client, secret) = registry::create_client(store, &hasher, new).await?;
    let mut out = views::client(&client);
    let target = ("client", client.id.as_str());
    let changes = audit::initial(&out);
    record(store, &client.org_id, "client.created", target, changes).await;
    let text = match &secret {
        Some(secret) => {
            out["client_secret"] = json!(secret.expose());
            format!(
                "created client {}\nclient_secret: {}\n(the secret is shown only now; store it safely)",
                client.id,
                secret.expose()
            )
        }
        None => format!(
            "created client {} with the secret read from standard input",
            client.id
        ),
    };
    Ok(Output::new(out, text))
}

/// A client secret brought from another server, as the first line of
/// standard input.
fn read_secret_from_stdin() -> anyhow::Result<ImportedSecret> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the secret from standard input")?;
    // Zeroed when dropped, like every copy of a secret.
    let line = secrecy::SecretString::from(line);
    ImportedSecret::parse(line.expose_secret().trim_end_matches(['\n', '\r']))
        .context("the secret on standard input")
}

async fn create_api_key(
    args: crate::cli::ApiKeyCreate,
    store: &dyn crate::storage::Store,
    settings: &Settings,
) -> anyhow::Result<Output> {
    check_rate_limit(args.rate_limit_per_minute, settings)?;
    let new = NewApiKey {
        org_id: OrgId::parse(&args.org).context("--org")?,
        name: Name::parse(&args.name).context("--name")?,
        scopes: ScopeSet::from_strs(args.scopes.iter().map(String::as_str)).context("--scope")?,
        expires_at: expiry(args.expires_at)?,
        rate_limit_per_minute: args.rate_limit_per_minute,
        ip_allowlist: IpAllowlist::parse(args.ip_allowlist.iter().map(String::as_str))
            .context("--ip-allow")?,
        metadata: serde_json::Map::new(),
    };
    let hasher = hasher_for(store, settings).await?;
    let (key, secret) = registry::create_api_key(store, &hasher, &settings.plans, new).await?;
    let mut out = json!({
        "id": key.id.as_str(),
        "org_id": key.org_id.as_str(),
        "name": key.name.as_str(),
        "prefix": key.id.key_prefix(),
        "scopes": key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "expires_at": key.expires_at.map_or(Value::Null, rfc3339),
    });
    let target = ("api_key", key.id.as_str());
    let changes = audit::initial(&out);
    record(store, &key.org_id, "api_key.created", target, changes).await;
    out["key"] = secret.expose().into();
    let text = format!(
        "created API key {}\nkey: {}\n(the key is shown only now; store it safely)",
        key.id,
        secret.expose()
    );
    Ok(Output::new(out, text))
}

/// The server's secret hasher, refused when the database holds digests
/// under another server secret: what this command stored would not verify.
async fn hasher_for(
    store: &dyn crate::storage::Store,
    settings: &Settings,
) -> anyhow::Result<SecretHasher> {
    let hasher = secret_hasher(settings, Arc::new(Counters::default()))?;
    check_digest_keys(store, hasher.digests()).await?;
    Ok(hasher)
}

/// Records a change made from the command line in the audit trail, with
/// `cli` as its actor. A failure to record is reported, not fatal: the change
/// is made.
async fn record(
    store: &dyn crate::storage::Store,
    org: &OrgId,
    action: &str,
    (kind, id): (&str, &str),
    changes: Map<String, Value>,
) {
    let now = chrono::Utc::now();
    let event = AuditEvent {
        id: AuditEvent::new_id(now),
        org_id: Some(org.clone()),
        actor: "cli".into(),
        action: action.into(),
        target: Some(AuditTarget {
            kind: kind.into(),
            id: id.into(),
        }),
        occurred_at: now.timestamp(),
        source_ip: None,
        request_id: format!("cli-{}", uuid::Uuid::new_v4()),
        changes,
    };
    if let Err(e) = store.append_audit_event(&event).await {
        eprintln!(
            "keyward: recording {action} in the audit trail failed: {}",
            crate::error::error_chain(&e)
        );
    }
}

async fn org_of_client(store: &dyn crate::storage::Store, id: &ClientId) -> anyhow::Result<OrgId> {
    let now = chrono::Utc::now().timestamp();
    match store.client_credentials(id, now).await? {
        Some(found) => Ok(found.client.org_id),
        None => Err(registry::RegistryError::UnknownClient(id.clone()).into()),
    }
}

/// Clients take the same bounds as API keys.
fn check_rate_limit(limit: u32, settings: &Settings) -> anyhow::Result<()> {
    let max = settings.max_rate_limit_per_minute;
    if !(1..=max).contains(&limit) {
        anyhow::bail!("--rate-limit-per-minute must be between 1 and {max}");
    }
    Ok(())
}

fn keys_command(command: KeysCommand, settings: &Settings) -> anyhow::Result<Output> {
    let keyring = keyring(settings);
    match command {
        KeysCommand::Rotate => {
            let key = keyring.rotate()?;
            let text = format!(
                "new signing key {} ({}); running servers pick it up within seconds",
                key.kid, key.alg
            );
            Ok(Output::new(serde_json::to_value(&key)?, text))
        }
        KeysCommand::List => {
            let keys = keyring.list()?;
            let text = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}\t{}\t{}\t{}",
                        k.kid,
                        k.alg,
                        serde_json::to_value(k.state)
                            .unwrap_or_default()
                            .as_str()
                            .unwrap_or(""),
                        k.created_at.to_rfc3339()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Output::new(json!({"keys": keys}), text))
        }
    }
}

fn rfc3339(ts: i64) -> Value {
    json!(crate::time::rfc3339(ts))
}

/// `--expires-at`, in the bounds the management API keeps.
fn expiry(at: Option<chrono::DateTime<chrono::Utc>>) -> anyhow::Result<Option<i64>> {
    let now = chrono::Utc::now().timestamp();
    at.map(|t| crate::domain::bounds::expiry(t.timestamp(), now))
        .transpose()
        .context("--expires-at")
}
