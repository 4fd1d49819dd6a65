//! `keyward api-key …`: a key is named by its organisation and id.

use anyhow::Context;
use serde_json::{json, Map, Value};

use super::Output;
use crate::cli::{ApiKeyCommand, ApiKeyCreate, ApiKeyRef, ApiKeyUpdate};
use crate::domain::{ApiKey, ApiKeyId, ApiKeySecret, ApiKeyStatus, OrgId, RateTiers};
use crate::management::views::ApiKeyView;
use crate::management::{ApiKeyChanges, ApiKeyList, Caller, Management, NewApiKey, UsageQuery};
use crate::storage::PageRequest;

pub(super) async fn run(command: ApiKeyCommand, management: &Management) -> anyhow::Result<Output> {
    let caller = Caller::cli();
    let now = management.clock.unix();
    Ok(match command {
        ApiKeyCommand::Create(args) => create(args, management, &caller).await?,
        ApiKeyCommand::List {
            org,
            status,
            expiring_within,
        } => {
            let org = super::orgs::id(&org)?;
            let filter = ApiKeyList {
                status,
                expiring_within,
            };
            let keys = management
                .list_api_keys(&caller, &org, filter, PageRequest::everything())
                .await?;
            Output::list(
                "api_keys",
                &keys,
                |k| ApiKeyView::at(k, now, &management.rate_tiers),
                |k| line(k, now),
            )
        }
        ApiKeyCommand::Get(key) => {
            let (org, id) = named(&key)?;
            let key = management.get_api_key(&caller, &org, &id).await?;
            Output::view(
                &ApiKeyView::at(&key, now, &management.rate_tiers),
                line(&key, now),
            )
        }
        ApiKeyCommand::Update(args) => update(args, management, &caller).await?,
        ApiKeyCommand::Roll {
            key,
            grace_period_seconds,
        } => {
            let (org, id) = named(&key)?;
            let rolled = management
                .roll_api_key(&caller, &org, &id, grace_period_seconds)
                .await?;
            let mut out = with_key(
                &rolled.new,
                &rolled.secret,
                "new API key",
                now,
                &management.rate_tiers,
            );
            out.json["previous"] =
                serde_json::to_value(ApiKeyView::at(&rolled.old, now, &management.rate_tiers))?;
            out
        }
        ApiKeyCommand::Deactivate(key) => {
            set_status(management, &caller, &key, ApiKeyStatus::Deactivated).await?
        }
        ApiKeyCommand::Activate(key) => {
            set_status(management, &caller, &key, ApiKeyStatus::Active).await?
        }
        ApiKeyCommand::Delete(key) => {
            let (org, id) = named(&key)?;
            management.delete_api_key(&caller, &org, &id).await?;
            Output::new(
                json!({"id": id.as_str(), "deleted": true}),
                format!("API key {id} deleted"),
            )
        }
        ApiKeyCommand::Usage {
            key,
            from,
            to,
            granularity,
        } => {
            let (org, id) = named(&key)?;
            let query = UsageQuery {
                from,
                to,
                granularity,
            };
            let series = management.api_key_usage(&caller, &org, &id, query).await?;
            let text = series
                .items
                .iter()
                .map(|b| format!("{}\t{}\t{}", b.start, b.count, b.rate_limited))
                .collect::<Vec<_>>()
                .join("\n");
            Output::view(&series, text)
        }
    })
}

async fn create(
    args: ApiKeyCreate,
    management: &Management,
    caller: &Caller,
) -> anyhow::Result<Output> {
    let org = super::orgs::id(&args.org)?;
    let new = NewApiKey {
        name: args.name,
        scopes: args.scopes,
        expires_at: args.expires_at,
        rate_limit_per_minute: args.rate_limit_per_minute,
        ip_allowlist: Some(args.ip_allowlist),
        metadata: args.metadata.as_deref().map(metadata).transpose()?,
    };
    let (key, secret) = management.create_api_key(caller, &org, new).await?;
    Ok(with_key(
        &key,
        &secret,
        "created API key",
        management.clock.unix(),
        &management.rate_tiers,
    ))
}

async fn update(
    args: ApiKeyUpdate,
    management: &Management,
    caller: &Caller,
) -> anyhow::Result<Output> {
    let (org, id) = named(&args.key)?;
    let changes = ApiKeyChanges {
        name: args.name,
        scopes: args.scopes,
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
        metadata: args.metadata.as_deref().map(metadata).transpose()?,
    };
    let key = management
        .update_api_key(caller, &org, &id, changes)
        .await?;
    let now = management.clock.unix();
    Ok(Output::view(
        &ApiKeyView::at(&key, now, &management.rate_tiers),
        line(&key, now),
    ))
}

async fn set_status(
    management: &Management,
    caller: &Caller,
    key: &ApiKeyRef,
    status: ApiKeyStatus,
) -> anyhow::Result<Output> {
    let (org, id) = named(key)?;
    let key = management
        .set_api_key_status(caller, &org, &id, status)
        .await?;
    let now = management.clock.unix();
    Ok(Output::view(
        &ApiKeyView::at(&key, now, &management.rate_tiers),
        line(&key, now),
    ))
}

/// The key's view with the key itself, printed this once.
fn with_key(
    key: &ApiKey,
    secret: &ApiKeySecret,
    what: &str,
    now: i64,
    tiers: &RateTiers,
) -> Output {
    let mut out = Output::view(
        &ApiKeyView::at(key, now, tiers),
        format!(
            "{what} {}\nkey: {}\n(the key is shown only now; store it safely)",
            key.id,
            secret.expose()
        ),
    );
    out.json["key"] = secret.expose().into();
    out
}

fn named(key: &ApiKeyRef) -> anyhow::Result<(OrgId, ApiKeyId)> {
    let org = super::orgs::id(&key.org)?;
    let id = ApiKeyId::parse(&key.key_id)
        .map_err(|_| anyhow::anyhow!("{:?} is not an API key id", key.key_id))?;
    Ok((org, id))
}

/// `--metadata`, a JSON object.
fn metadata(raw: &str) -> anyhow::Result<Map<String, Value>> {
    serde_json::from_str(raw).context("--metadata must be a JSON object")
}

fn line(k: &ApiKey, now: i64) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}",
        k.id,
        k.id.key_prefix(),
        k.display_status(now),
        k.scopes,
        k.name.as_str()
    )
}
