//! `/admin/v1/orgs/{org_id}/api-keys`: an organisation's API keys. A key is
//! shown once, in the answer to the call that creates it (or rolls it).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::audit::{self, Target};
use super::auth::{AdminCaller, KEYS_READ, KEYS_WRITE};
use super::fields::{allowlist, future, metadata, rate_limit, scopes, GracePeriod};
use super::input::{page_of, page_request, param, parse_duration, query_params, read_json};
use super::orgs::org_of;
use super::problem::Problem;
use super::views;
use crate::domain::{ApiKey, ApiKeyId, ApiKeyStatus, Name, OrgId};
use crate::services::registry::{self, NewApiKey};
use crate::startup::AppState;
use crate::storage::ApiKeyQuery;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    scopes: Vec<String>,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    rate_limit_per_minute: Option<u32>,
    ip_allowlist: Option<Vec<String>>,
    metadata: Option<Map<String, Value>>,
}

/// Fields a PATCH may change; `expires_at: null` removes the expiry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyChanges {
    name: Option<String>,
    scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::input::present")]
    expires_at: Option<Option<chrono::DateTime<chrono::Utc>>>,
    rate_limit_per_minute: Option<u32>,
    ip_allowlist: Option<Vec<String>>,
    metadata: Option<Map<String, Value>>,
}

pub async fn create(
    caller: AdminCaller,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let org = org_of(&caller, &path)?;
    caller.require(&org, KEYS_WRITE)?;
    let body: NewKey = read_json(&req, payload).await?;
    let now = chrono::Utc::now().timestamp();
    let new = NewApiKey {
        org_id: org.clone(),
        name: Name::parse(&body.name).map_err(|e| Problem::invalid_field("name", e))?,
        scopes: scopes(&body.scopes)?,
        expires_at: body
            .expires_at
            .map(|t| future("expires_at", t, now))
            .transpose()?,
        rate_limit_per_minute: rate_limit(
            body.rate_limit_per_minute,
            state.max_rate_limit_per_minute,
        )?,
        ip_allowlist: allowlist(body.ip_allowlist.as_deref().unwrap_or_default())?,
        metadata: metadata(body.metadata)?,
    };
    caller.require_covers(&new.scopes)?;
    let (key, secret) =
        registry::create_api_key(&*state.store, &state.secrets, &state.plans, new).await?;
    let mut view = views::api_key(&key, now);
    let changes = audit::initial(&view);
    record(&state, &req, &caller, "api_key.created", &key, changes).await;
    view["key"] = Value::from(secret.expose());
    Ok(views::created_with_secret(location(&org, &key.id), view))
}

pub async fn list(
    caller: AdminCaller,
    path: web::Path<String>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let org = org_of(&caller, &path)?;
    caller.require(&org, KEYS_READ)?;
    let params = query_params(&req, &["limit", "cursor", "status", "expiring_within"])?;
    let status = match param(&params, "status") {
        None => None,
        Some("active") => Some("active"),
        Some("deactivated") => Some("deactivated"),
        Some("expired") => Some("expired"),
        Some(_) => {
            return Err(Problem::invalid_field(
                "status",
                "must be active, deactivated or expired",
            ))
        }
    };
    let now = chrono::Utc::now().timestamp();
    let query = ApiKeyQuery {
        page: page_request(&params)?,
        status,
        expiring_within: param(&params, "expiring_within")
            .map(|raw| parse_duration("expiring_within", raw))
            .transpose()?,
        now,
    };
    let keys = state.store.list_api_keys(&org, &query).await?;
    let body = page_of(
        &query.page,
        &keys,
        |k| (k.created_at, k.id.as_str()),
        |k| views::api_key(k, now),
    );
    Ok(HttpResponse::Ok().json(body))
}

pub async fn get(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = key_path(&caller, &path, KEYS_READ)?;
    let key = state.store.get_api_key(&org, &id).await?;
    Ok(HttpResponse::Ok().json(views::api_key(&key, chrono::Utc::now().timestamp())))
}

pub async fn update(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = key_path(&caller, &path, KEYS_WRITE)?;
    let changes: KeyChanges = read_json(&req, payload).await?;
    let now = chrono::Utc::now().timestamp();
    let mut key = state.store.get_api_key(&org, &id).await?;
    let before = views::api_key(&key, now);
    if let Some(name) = &changes.name {
        key.name = Name::parse(name).map_err(|e| Problem::invalid_field("name", e))?;
    }
    if let Some(list) = &changes.scopes {
        key.scopes = scopes(list)?;
        caller.require_covers(&key.scopes)?;
    }
    let mut room_under = None;
    if let Some(expiry) = changes.expires_at {
        let expires_at = expiry.map(|t| future("expires_at", t, now)).transpose()?;
        if lasts_longer(key.expires_at, expires_at) {
            // Reviving or prolonging a key counts it against the plan, as
            // creating one does; a key in a roll's grace period is thus held
            // to its end while the plan is full.
            let plan = state.store.get_organisation(&org).await?.plan;
            room_under = state.plans.of(plan).max_api_keys;
        }
        key.expires_at = expires_at;
    }
    if changes.rate_limit_per_minute.is_some() {
        key.rate_limit_per_minute = rate_limit(
            changes.rate_limit_per_minute,
            state.max_rate_limit_per_minute,
        )?;
    }
    if let Some(list) = &changes.ip_allowlist {
        key.ip_allowlist = allowlist(list)?;
    }
    if changes.metadata.is_some() {
        key.metadata = metadata(changes.metadata)?;
    }
    key.updated_at = now;
    state.store.update_api_key(&key, room_under).await?;
    state.api_keys.evict(&key.id);
    let view = views::api_key(&key, now);
    let changes = audit::diff(&before, &view);
    record(&state, &req, &caller, "api_key.updated", &key, changes).await;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn deactivate(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    set_status(caller, path, req, state, ApiKeyStatus::Deactivated).await
}

pub async fn activate(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    set_status(caller, path, req, state, ApiKeyStatus::Active).await
}

async fn set_status(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    state: web::Data<AppState>,
    status: ApiKeyStatus,
) -> Result<HttpResponse, Problem> {
    let (org, id) = key_path(&caller, &path, KEYS_WRITE)?;
    let old = state.store.get_api_key(&org, &id).await?.status;
    let key = registry::set_api_key_status(&*state.store, &org, &id, status).await?;
    state.api_keys.evict(&key.id);
    let changes = audit::change("status", old.as_str().into(), status.as_str().into());
    let action = match status {
        ApiKeyStatus::Active => "api_key.activated",
        ApiKeyStatus::Deactivated => "api_key.deactivated",
    };
    record(&state, &req, &caller, action, &key, changes).await;
    Ok(HttpResponse::Ok().json(views::api_key(&key, chrono::Utc::now().timestamp())))
}

/// A new key with the same settings; the old one keeps working for the
/// grace period, never past its own expiry.
pub async fn roll(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = key_path(&caller, &path, KEYS_WRITE)?;
    let grace = GracePeriod::read(&req, payload).await?;
    let key = state.store.get_api_key(&org, &id).await?;
    caller.require_covers(&key.scopes)?;
    let before = views::api_key(&key, chrono::Utc::now().timestamp());
    let (old, new, secret) =
        registry::roll_api_key(&*state.store, &state.secrets, &state.plans, key, grace).await?;
    state.api_keys.evict(&old.id);
    let now = chrono::Utc::now().timestamp();
    let mut changes = audit::diff(&before, &views::api_key(&old, now));
    changes.extend(audit::change(
        "rolled_to",
        Value::Null,
        new.id.as_str().into(),
    ));
    record(&state, &req, &caller, "api_key.rolled", &old, changes).await;
    let mut view = views::api_key(&new, now);
    view["key"] = Value::from(secret.expose());
    view["previous"] = views::api_key(&old, now);
    Ok(views::created_with_secret(location(&org, &new.id), view))
}

pub async fn delete(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = key_path(&caller, &path, KEYS_WRITE)?;
    state
        .store
        .delete_api_key(&org, &id, chrono::Utc::now().timestamp())
        .await?;
    state.api_keys.evict(&id);
    let target = Target {
        org_id: Some(&org),
        kind: "api_key",
        id: id.as_str(),
    };
    audit::record(
        &state,
        &req,
        caller.identity(),
        "api_key.deleted",
        target,
        Map::new(),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Records `action` on `key` in the audit trail.
async fn record(
    state: &AppState,
    req: &HttpRequest,
    caller: &AdminCaller,
    action: &str,
    key: &ApiKey,
    changes: Map<String, Value>,
) {
    let target = Target {
        org_id: Some(&key.org_id),
        kind: "api_key",
        id: key.id.as_str(),
    };
    audit::record(state, req, caller.identity(), action, target, changes).await;
}

/// Whether an expiry of `new` instead of `old` (`None`: never) keeps a key
/// usable for longer.
fn lasts_longer(old: Option<i64>, new: Option<i64>) -> bool {
    match (old, new) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(old), Some(new)) => new > old,
    }
}

fn key_path(
    caller: &AdminCaller,
    path: &(String, String),
    scope: &str,
) -> Result<(OrgId, ApiKeyId), Problem> {
    let org = org_of(caller, &path.0)?;
    caller.require(&org, scope)?;
    let id = ApiKeyId::parse(&path.1).map_err(|_| Problem::not_found())?;
    Ok((org, id))
}

fn location(org: &OrgId, id: &ApiKeyId) -> String {
    format!("/admin/v1/orgs/{org}/api-keys/{id}")
}

/// `GET …/api-keys/{key_id}/usage`: the key's usage per minute, hour or day
/// in `[from, to)` (RFC 3339; by default the last 24 hours).
pub async fn usage(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = key_path(&caller, &path, KEYS_READ)?;
    let params = query_params(&req, &["from", "to", "granularity"])?;
    let time = |field: &str| {
        param(&params, field)
            .map(|raw| {
                chrono::DateTime::parse_from_rfc3339(raw)
                    .map(|t| t.timestamp())
                    .map_err(|e| Problem::invalid_field(field, e))
            })
            .transpose()
    };
    let to = time("to")?.unwrap_or_else(|| chrono::Utc::now().timestamp());
    let from = time("from")?.unwrap_or(to - 86_400);
    let (granularity, bucket_minutes) = match param(&params, "granularity").unwrap_or("hour") {
        "minute" => ("minute", 1),
        "hour" => ("hour", 60),
        "day" => ("day", 1440),
        _ => {
            return Err(Problem::invalid_field(
                "granularity",
                "must be minute, hour or day",
            ))
        }
    };
    if from >= to || (to - from) / 60 / bucket_minutes > 10_000 {
        return Err(Problem::invalid_field(
            "from",
            "must be before `to`, within 10000 buckets of it",
        ));
    }
    state.store.get_api_key(&org, &id).await?;
    let buckets = state
        .store
        .usage_series(
            id.as_str(),
            from.div_euclid(60),
            to.div_euclid(60) + 1,
            bucket_minutes,
        )
        .await?;
    let items: Vec<Value> = buckets
        .iter()
        .map(|b| {
            serde_json::json!({
                "start": crate::time::rfc3339(b.minute * 60),
                "count": b.count,
                "rate_limited": b.rate_limited,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "key_id": id.as_str(),
        "granularity": granularity,
        "from": crate::time::rfc3339(from),
        "to": crate::time::rfc3339(to),
        "items": items,
    })))
}
