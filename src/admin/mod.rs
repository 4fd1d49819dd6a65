//! The admin commands of the CLI: each parses its arguments, calls its
//! use case in `crate::management` as the operator (`cli` in the audit
//! trail) on the configured database, and prints the result, as text or
//! as exactly one JSON object.

mod api_keys;
mod clients;
mod issuers;
mod keys;
mod orgs;
mod records;
mod users;

use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::{json, Value};

use crate::cli::Command;
use crate::configuration::Settings;
use crate::crypto::webhook_signing::WebhookSigner;
use crate::domain::ImportedSecret;
use crate::management::{Management, ManagementError};
use crate::metrics::Counters;
use crate::parts::{check_digest_keys, open_store, secret_hasher, server_secret};
use crate::services::audit_writer::AuditWriter;
use crate::services::email::{EmailOutbox, EmailPolicy, Links};
use crate::time::SystemClock;

pub async fn run(command: Command, settings: &Settings, as_json: bool) -> anyhow::Result<()> {
    let output = match command {
        Command::Serve | Command::Healthcheck => {
            unreachable!("serve and healthcheck are not admin commands")
        }
        Command::Keys(command) => keys::run(command, settings)?,
        Command::Migrate => {
            let store = open_store(settings, Arc::new(Counters::default())).await?;
            Output::new(
                json!({"migrated": true, "backend": store.backend()}),
                "migrations applied".into(),
            )
        }
        other => {
            let management = management(settings).await?;
            let done = match other {
                Command::Org(command) => orgs::run(command, &management).await,
                Command::Client(command) => clients::run(command, &management).await,
                Command::Issuer(command) => issuers::run(command, &management).await,
                Command::ApiKey(command) => api_keys::run(command, &management).await,
                Command::AuditEvents(args) => records::audit_events(args, &management).await,
                Command::User(command) => users::run(command, &management, settings).await,
                Command::WebhookDeliveries(args) => {
                    records::webhook_deliveries(args, &management).await
                }
                _ => unreachable!("handled above"),
            };
            done.map_err(for_the_command_line)?
        }
    };
    if as_json {
        println!("{}", output.json);
    } else {
        println!("{}", output.text);
    }
    Ok(())
}

/// The management core on the configured database, refused when the
/// database holds digests under another server secret: what a command
/// stored would not verify.
async fn management(settings: &Settings) -> anyhow::Result<Management> {
    let counters = Arc::new(Counters::default());
    let store = open_store(settings, counters.clone()).await?;
    let secrets = secret_hasher(settings, counters.clone())?;
    check_digest_keys(&*store, secrets.digests()).await?;
    Ok(Management {
        audit: AuditWriter::new(store.clone(), counters),
        store,
        secrets,
        plans: settings.plans,
        max_rate_limit_per_minute: settings.max_rate_limit_per_minute,
        rate_tiers: Arc::new(settings.rate_tiers()),
        webhook_urls: settings.webhook_url_rules(),
        webhook_signer: Arc::new(WebhookSigner::new(&server_secret(settings)?)),
        caches: None,
        issuers: None,
        email: email_outbox(settings)?,
        clock: Arc::new(SystemClock),
    })
}

/// When email is on, invitations made here are queued for the servers to
/// send, as the console's are.
fn email_outbox(settings: &Settings) -> anyhow::Result<Option<Arc<EmailOutbox>>> {
    if settings.smtp()?.is_none() {
        return Ok(None);
    }
    let links = Links {
        issuer: settings.issuer(),
        console: settings.console_enabled,
    };
    let policy = EmailPolicy {
        warning_days: settings.expiry_warning_days,
        max_per_org_per_hour: settings.email_max_per_org_per_hour,
    };
    Ok(Some(Arc::new(EmailOutbox::new(
        &server_secret(settings)?,
        links,
        policy,
    ))))
}

struct Output {
    json: Value,
    text: String,
}

impl Output {
    fn new(json: Value, text: String) -> Self {
        Self { json, text }
    }

    /// A view as JSON, with `text` for people.
    fn view(view: &impl Serialize, text: String) -> Self {
        Self::new(serde_json::to_value(view).unwrap_or(Value::Null), text)
    }

    /// `{"<list>": [views]}`, and a line of text for each.
    fn list<T, V: Serialize>(
        name: &str,
        items: &[T],
        view: impl Fn(&T) -> V,
        line: impl Fn(&T) -> String,
    ) -> Self {
        let views: Vec<V> = items.iter().map(view).collect();
        let text = items.iter().map(line).collect::<Vec<_>>().join("\n");
        Self::new(json!({ name: views }), text)
    }
}

/// A refusal of the management core in the command line's words: a field
/// by its option.
fn for_the_command_line(err: anyhow::Error) -> anyhow::Error {
    match err.downcast::<ManagementError>() {
        Ok(ManagementError::InvalidField { field, reason }) => {
            let option = match field {
                "scopes" => "--scope".to_owned(),
                "audiences" => "--audience".to_owned(),
                "ip_allowlist" => "--ip-allow".to_owned(),
                "client_secret" => "the secret on standard input".to_owned(),
                other => format!("--{}", other.replace('_', "-")),
            };
            anyhow::anyhow!("{option}: {reason}")
        }
        Ok(ManagementError::NotFound) => {
            anyhow::anyhow!("the organisation, client or API key named does not exist")
        }
        Ok(other) => other.into(),
        Err(other) => other,
    }
}

/// A secret brought from another server, as the first line of standard
/// input.
fn read_secret_from_stdin() -> anyhow::Result<secrecy::SecretString> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the secret from standard input")?;
    // Zeroed when dropped, like every copy of a secret.
    let line = secrecy::SecretString::from(line);
    let secret = line.expose_secret().trim_end_matches(['\n', '\r']);
    // Checked here too, so that the error names standard input.
    ImportedSecret::parse(secret).context("the secret on standard input")?;
    Ok(secret.into())
}
