//! Checks of management API fields, shared by clients and API keys; each
//! failure is a 400 that names its field.

use actix_web::{web, HttpRequest};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::input::read_optional_json;
use super::problem::Problem;
use crate::domain::api_key::{DEFAULT_KEY_RATE_LIMIT, MAX_METADATA_BYTES};
use crate::domain::bounds;
use crate::domain::{ImportedSecret, IpAllowlist, ScopeSet};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GracePeriod {
    grace_period_seconds: Option<i64>,
}

impl GracePeriod {
    /// The optional body of a roll call; default one day.
    pub async fn read(req: &HttpRequest, payload: web::Payload) -> Result<i64, Problem> {
        let body: GracePeriod = read_optional_json(req, payload).await?;
        grace_period(body.grace_period_seconds)
    }
}

/// The optional body of a client's secret rotation: a grace period, and
/// the new secret when it is imported rather than generated.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SecretRotation {
    grace_period_seconds: Option<i64>,
    client_secret: Option<String>,
}

impl SecretRotation {
    pub async fn read(
        req: &HttpRequest,
        payload: web::Payload,
    ) -> Result<(i64, Option<ImportedSecret>), Problem> {
        let body: SecretRotation = read_optional_json(req, payload).await?;
        let grace = grace_period(body.grace_period_seconds)?;
        Ok((grace, imported_secret(body.client_secret.as_deref())?))
    }
}

fn grace_period(seconds: Option<i64>) -> Result<i64, Problem> {
    let grace = match seconds {
        None => bounds::GracePeriod::DEFAULT,
        Some(seconds) => bounds::GracePeriod::from_seconds(seconds)
            .map_err(|e| Problem::invalid_field("grace_period_seconds", e))?,
    };
    Ok(grace.seconds())
}

/// A `client_secret` brought from another server, if one was given.
pub fn imported_secret(raw: Option<&str>) -> Result<Option<ImportedSecret>, Problem> {
    raw.map(ImportedSecret::parse)
        .transpose()
        .map_err(|e| Problem::invalid_field("client_secret", e))
}

pub fn scopes(list: &[String]) -> Result<ScopeSet, Problem> {
    let set = ScopeSet::from_strs(list.iter().map(String::as_str))
        .map_err(|e| Problem::invalid_field("scopes", e))?;
    if set.is_empty() {
        return Err(Problem::invalid_field(
            "scopes",
            "at least one scope is needed",
        ));
    }
    Ok(set)
}

/// An expiry: in the future, within 100 years.
pub fn future(field: &str, at: chrono::DateTime<chrono::Utc>, now: i64) -> Result<i64, Problem> {
    bounds::expiry(at.timestamp(), now).map_err(|e| Problem::invalid_field(field, e))
}

/// A credential's rate, between 1 and the `max_rate_limit_per_minute` setting.
pub fn rate_limit(value: Option<u32>, max: u32) -> Result<u32, Problem> {
    let value = value.unwrap_or(DEFAULT_KEY_RATE_LIMIT);
    if !(1..=max).contains(&value) {
        return Err(Problem::invalid_field(
            "rate_limit_per_minute",
            format!("must be between 1 and {max}"),
        ));
    }
    Ok(value)
}

pub fn allowlist(list: &[String]) -> Result<IpAllowlist, Problem> {
    IpAllowlist::parse(list.iter().map(String::as_str))
        .map_err(|e| Problem::invalid_field("ip_allowlist", e))
}

pub fn metadata(map: Option<Map<String, Value>>) -> Result<Map<String, Value>, Problem> {
    let map = map.unwrap_or_default();
    let size = Value::Object(map.clone()).to_string().len();
    if size > MAX_METADATA_BYTES {
        return Err(Problem::invalid_field(
            "metadata",
            format!("must be at most {MAX_METADATA_BYTES} bytes of JSON"),
        ));
    }
    Ok(map)
}
