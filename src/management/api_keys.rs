//! An organisation's API keys. A key is shown once, by the call that
//! creates or rolls it, and stored only as a digest.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::audit_trail::{self, Target};
use super::fields;
use super::views::{self, ApiKeyView};
use super::{Caller, Management, ManagementError};
use crate::domain::management_scope::{KEYS_READ, KEYS_WRITE};
use crate::domain::{ApiKey, ApiKeyId, ApiKeySecret, ApiKeyStatus, Change, OrgId};
use crate::storage::{ApiKeyQuery, PageRequest};
use crate::time::rfc3339;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub rate_limit_per_minute: Option<u32>,
    pub ip_allowlist: Option<Vec<String>>,
    pub metadata: Option<Map<String, Value>>,
}

/// What an update may change; `null` removes the expiry or the own rate limit.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyChanges {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::fields::present")]
    pub expires_at: Option<Option<chrono::DateTime<chrono::Utc>>>,
    /// `null` removes the key's own limit: it follows its tier again.
    #[serde(default, deserialize_with = "super::fields::present")]
    pub rate_limit_per_minute: Option<Option<u32>>,
    pub ip_allowlist: Option<Vec<String>>,
    pub metadata: Option<Map<String, Value>>,
}

/// Which keys a listing shows: by status as of now (`active`,
/// `deactivated`, `expired`), and those expiring within a duration (`7d`).
#[derive(Debug, Default)]
pub struct ApiKeyList {
    pub status: Option<String>,
    pub expiring_within: Option<String>,
}

/// A usage series: `[from, to)` in RFC 3339 (by default the last 24
/// hours) per `minute`, `hour` (the default) or `day`.
#[derive(Debug, Default)]
pub struct UsageQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub granularity: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct UsageSeries {
    pub key_id: String,
    pub granularity: &'static str,
    pub from: String,
    pub to: String,
    pub items: Vec<UsageItem>,
}

#[derive(Debug, Serialize)]
pub struct UsageItem {
    pub start: String,
    pub count: i64,
    pub rate_limited: i64,
}

pub struct RolledKey {
    /// The old key, now ending with the grace period.
    pub old: ApiKey,
    pub new: ApiKey,
    pub secret: ApiKeySecret,
}

impl Management {
    pub async fn create_api_key(
        &self,
        caller: &Caller,
        org: &OrgId,
        new: NewApiKey,
    ) -> Result<(ApiKey, ApiKeySecret), ManagementError> {
        caller.actor.require(org, KEYS_WRITE)?;
        let now = self.now();
        let secret = ApiKeySecret::generate();
        let key = ApiKey {
            id: secret.id().clone(),
            org_id: org.clone(),
            name: fields::name(&new.name)?,
            scopes: fields::scopes(&new.scopes)?,
            status: ApiKeyStatus::Active,
            created_at: now,
            updated_at: now,
            expires_at: fields::expiry(new.expires_at, now)?,
            rate_limit_per_minute: new
                .rate_limit_per_minute
                .map(|n| fields::rate_limit(n, self.max_rate_limit_per_minute))
                .transpose()?,
            ip_allowlist: fields::allowlist(new.ip_allowlist.as_deref().unwrap_or_default())?,
            metadata: fields::metadata(new.metadata)?,
            last_used_at: None,
            request_count: 0,
        };
        caller.actor.require_covers(&key.scopes)?;
        let limit = self.plans.of(self.store.get_organisation(org).await?.plan);
        if !limit.api_access {
            return Err(ManagementError::ApiAccessNotAvailable);
        }
        let digest = self.secrets.digest(secret.expose());
        self.store
            .insert_api_key(&key, &digest, limit.max_api_keys)
            .await?;
        let changes =
            audit_trail::initial(&views::json(&ApiKeyView::at(&key, now, &self.rate_tiers)));
        self.record(caller, "api_key.created", target(&key), changes)
            .await;
        Ok((key, secret))
    }

    pub async fn list_api_keys(
        &self,
        caller: &Caller,
        org: &OrgId,
        list: ApiKeyList,
        page: PageRequest,
    ) -> Result<Vec<ApiKey>, ManagementError> {
        caller.actor.require(org, KEYS_READ)?;
        let status = match list.status.as_deref() {
            None => None,
            Some("active") => Some("active"),
            Some("deactivated") => Some("deactivated"),
            Some("expired") => Some("expired"),
            Some(_) => {
                return Err(ManagementError::invalid(
                    "status",
                    "must be active, deactivated or expired",
                ))
            }
        };
        let query = ApiKeyQuery {
            page,
            status,
            expiring_within: list
                .expiring_within
                .as_deref()
                .map(|raw| fields::duration("expiring_within", raw))
                .transpose()?,
            now: self.now(),
        };
        Ok(self.store.list_api_keys(org, &query).await?)
    }

    pub async fn get_api_key(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ApiKeyId,
    ) -> Result<ApiKey, ManagementError> {
        caller.actor.require(org, KEYS_READ)?;
        Ok(self.store.get_api_key(org, id).await?)
    }

    pub async fn update_api_key(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ApiKeyId,
        changes: ApiKeyChanges,
    ) -> Result<ApiKey, ManagementError> {
        caller.actor.require(org, KEYS_WRITE)?;
        let now = self.now();
        let mut key = self.store.get_api_key(org, id).await?;
        let before = views::json(&ApiKeyView::at(&key, now, &self.rate_tiers));
        if let Some(name) = &changes.name {
            key.name = fields::name(name)?;
        }
        if let Some(list) = &changes.scopes {
            key.scopes = fields::scopes(list)?;
            caller.actor.require_covers(&key.scopes)?;
        }
        let mut room_under = None;
        if let Some(expiry) = changes.expires_at {
            let expires_at = fields::expiry(expiry, now)?;
            if lasts_longer(key.expires_at, expires_at) {
                // Reviving or prolonging a key counts it against the plan, as
                // creating one does; a key in a roll's grace period is thus held
                // to its end while the plan is full.
                let plan = self.store.get_organisation(org).await?.plan;
                room_under = self.plans.of(plan).max_api_keys;
            }
            key.expires_at = expires_at;
        }
        if let Some(limit) = changes.rate_limit_per_minute {
            key.rate_limit_per_minute = limit
                .map(|n| fields::rate_limit(n, self.max_rate_limit_per_minute))
                .transpose()?;
        }
        if let Some(list) = &changes.ip_allowlist {
            key.ip_allowlist = fields::allowlist(list)?;
        }
        if changes.metadata.is_some() {
            key.metadata = fields::metadata(changes.metadata)?;
        }
        key.updated_at = now;
        self.store.update_api_key(&key, room_under).await?;
        self.forget(Change::ApiKey(key.id.clone()));
        let changes = audit_trail::diff(
            &before,
            &views::json(&ApiKeyView::at(&key, now, &self.rate_tiers)),
        );
        self.record(caller, "api_key.updated", target(&key), changes)
            .await;
        Ok(key)
    }

    /// Deactivates or reactivates a key; every node hears of it through
    /// the change log.
    pub async fn set_api_key_status(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ApiKeyId,
        status: ApiKeyStatus,
    ) -> Result<ApiKey, ManagementError> {
        caller.actor.require(org, KEYS_WRITE)?;
        let key = self.store.get_api_key(org, id).await?;
        let old = key.status;
        let key = ApiKey {
            status,
            updated_at: self.now(),
            ..key
        };
        self.store.update_api_key(&key, None).await?;
        self.forget(Change::ApiKey(key.id.clone()));
        let changes = audit_trail::change("status", old.as_str().into(), status.as_str().into());
        let action = match status {
            ApiKeyStatus::Active => "api_key.activated",
            ApiKeyStatus::Deactivated => "api_key.deactivated",
        };
        self.record(caller, action, target(&key), changes).await;
        Ok(key)
    }

    /// A new key with the old one's settings; the old key keeps working
    /// for the grace period (`grace_period_seconds`, default a day), never
    /// past its own expiry. Only a live key of an organisation with API
    /// access rolls.
    pub async fn roll_api_key(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ApiKeyId,
        grace_period_seconds: Option<i64>,
    ) -> Result<RolledKey, ManagementError> {
        caller.actor.require(org, KEYS_WRITE)?;
        let grace = fields::grace_period(grace_period_seconds)?;
        let old = self.store.get_api_key(org, id).await?;
        caller.actor.require_covers(&old.scopes)?;
        let now = self.now();
        let before = views::json(&ApiKeyView::at(&old, now, &self.rate_tiers));
        if old.status == ApiKeyStatus::Deactivated {
            return Err(ManagementError::KeyDeactivated);
        }
        if old.is_expired(now) {
            return Err(ManagementError::KeyExpired);
        }
        let limits = self.plans.of(self.store.get_organisation(org).await?.plan);
        if !limits.api_access {
            return Err(ManagementError::ApiAccessNotAvailable);
        }
        // Keys in a grace period are the plan's only overflow, one per key the
        // plan allows: a roll needs the usable keys (grace ones too) to number
        // under twice the limit.
        let room_under = limits.max_api_keys.map(|max| max.saturating_mul(2));
        let secret = ApiKeySecret::generate();
        let digest = self.secrets.digest(secret.expose());
        let new = ApiKey {
            id: secret.id().clone(),
            created_at: now,
            updated_at: now,
            last_used_at: None,
            request_count: 0,
            ..old.clone()
        };
        let end_of_grace = now + grace;
        let old = ApiKey {
            expires_at: Some(
                old.expires_at
                    .map_or(end_of_grace, |at| at.min(end_of_grace)),
            ),
            updated_at: now,
            ..old
        };
        self.store
            .roll_api_key(&old, &new, &digest, room_under)
            .await?;
        self.forget(Change::ApiKey(old.id.clone()));
        let mut changes = audit_trail::diff(
            &before,
            &views::json(&ApiKeyView::at(&old, now, &self.rate_tiers)),
        );
        changes.extend(audit_trail::change(
            "rolled_to",
            Value::Null,
            new.id.as_str().into(),
        ));
        self.record(caller, "api_key.rolled", target(&old), changes)
            .await;
        Ok(RolledKey { old, new, secret })
    }

    pub async fn delete_api_key(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ApiKeyId,
    ) -> Result<(), ManagementError> {
        caller.actor.require(org, KEYS_WRITE)?;
        self.store.delete_api_key(org, id, self.now()).await?;
        self.forget(Change::ApiKey(id.clone()));
        let target = Target {
            org_id: Some(org),
            kind: "api_key",
            id: Some(id.as_str()),
        };
        self.record(caller, "api_key.deleted", target, Default::default())
            .await;
        Ok(())
    }

    pub async fn api_key_usage(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ApiKeyId,
        query: UsageQuery,
    ) -> Result<UsageSeries, ManagementError> {
        caller.actor.require(org, KEYS_READ)?;
        let time = |field: &'static str, raw: Option<&str>| {
            raw.map(|raw| {
                chrono::DateTime::parse_from_rfc3339(raw)
                    .map(|t| t.timestamp())
                    .map_err(|e| ManagementError::invalid(field, e))
            })
            .transpose()
        };
        let to = time("to", query.to.as_deref())?.unwrap_or_else(|| self.now());
        let from = time("from", query.from.as_deref())?.unwrap_or(to - 86_400);
        let (granularity, bucket_minutes) = match query.granularity.as_deref().unwrap_or("hour") {
            "minute" => ("minute", 1),
            "hour" => ("hour", 60),
            "day" => ("day", 1440),
            _ => {
                return Err(ManagementError::invalid(
                    "granularity",
                    "must be minute, hour or day",
                ))
            }
        };
        if from >= to || (to - from) / 60 / bucket_minutes > 10_000 {
            return Err(ManagementError::invalid(
                "from",
                "must be before `to`, within 10000 buckets of it",
            ));
        }
        self.store.get_api_key(org, id).await?;
        let buckets = self
            .store
            .usage_series(
                id.as_str(),
                from.div_euclid(60),
                to.div_euclid(60) + 1,
                bucket_minutes,
            )
            .await?;
        Ok(UsageSeries {
            key_id: id.as_str().to_owned(),
            granularity,
            from: rfc3339(from),
            to: rfc3339(to),
            items: buckets
                .iter()
                .map(|b| UsageItem {
                    start: rfc3339(b.minute * 60),
                    count: b.count,
                    rate_limited: b.rate_limited,
                })
                .collect(),
        })
    }
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

fn target(key: &ApiKey) -> Target<'_> {
    Target {
        org_id: Some(&key.org_id),
        kind: "api_key",
        id: Some(key.id.as_str()),
    }
}
