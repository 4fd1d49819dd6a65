//! `/admin/v1/orgs/{org_id}/api-keys`: an organisation's API keys
//! (`management::api_keys` does the work). A key is shown once, in the
//! answer to the call that creates (or rolls) it.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::input::{
    created_with_secret, org_id, page_of, page_request, param, query_params, read_json,
    read_optional_json,
};
use super::problem::Problem;
use crate::domain::{ApiKeyId, ApiKeySecret, ApiKeyStatus, OrgId};
use crate::management::views::ApiKeyView;
use crate::management::{ApiKeyList, Caller, Management, UsageQuery};

/// A new key's view with the key itself, shown this once.
#[derive(Serialize)]
struct WithKey {
    #[serde(flatten)]
    view: ApiKeyView,
    key: String,
    /// After a roll: the old key, working until its grace period ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<ApiKeyView>,
}

fn created(
    org: &OrgId,
    view: ApiKeyView,
    secret: &ApiKeySecret,
    previous: Option<ApiKeyView>,
) -> HttpResponse {
    let location = format!("/admin/v1/orgs/{org}/api-keys/{}", view.id);
    let body = WithKey {
        view,
        key: secret.expose().to_owned(),
        previous,
    };
    created_with_secret(location, body)
}

pub async fn create(
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let org = org_id(&path)?;
    let body = read_json(&req, payload).await?;
    let (key, secret) = management.create_api_key(&caller, &org, body).await?;
    let view = ApiKeyView::at(&key, management.clock.unix(), &management.rate_tiers);
    Ok(created(&org, view, &secret, None))
}

pub async fn list(
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let org = org_id(&path)?;
    let params = query_params(&req, &["limit", "cursor", "status", "expiring_within"])?;
    let page = page_request(&params)?;
    let filter = ApiKeyList {
        status: param(&params, "status").map(str::to_owned),
        expiring_within: param(&params, "expiring_within").map(str::to_owned),
    };
    let keys = management
        .list_api_keys(&caller, &org, filter, page.clone())
        .await?;
    let now = management.clock.unix();
    let body = page_of(
        &page,
        &keys,
        |k| (k.created_at, k.id.as_str()),
        |k| ApiKeyView::at(k, now, &management.rate_tiers),
    );
    Ok(HttpResponse::Ok().json(body))
}

pub async fn get(
    caller: Caller,
    path: web::Path<(String, String)>,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = key_path(&path)?;
    let key = management.get_api_key(&caller, &org, &id).await?;
    Ok(HttpResponse::Ok().json(ApiKeyView::at(
        &key,
        management.clock.unix(),
        &management.rate_tiers,
    )))
}

pub async fn update(
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = key_path(&path)?;
    let changes = read_json(&req, payload).await?;
    let key = management
        .update_api_key(&caller, &org, &id, changes)
        .await?;
    Ok(HttpResponse::Ok().json(ApiKeyView::at(
        &key,
        management.clock.unix(),
        &management.rate_tiers,
    )))
}

pub async fn deactivate(
    caller: Caller,
    path: web::Path<(String, String)>,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    set_status(caller, path, management, ApiKeyStatus::Deactivated).await
}

pub async fn activate(
    caller: Caller,
    path: web::Path<(String, String)>,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    set_status(caller, path, management, ApiKeyStatus::Active).await
}

async fn set_status(
    caller: Caller,
    path: web::Path<(String, String)>,
    management: web::Data<Management>,
    status: ApiKeyStatus,
) -> Result<HttpResponse, Problem> {
    let (org, id) = key_path(&path)?;
    let key = management
        .set_api_key_status(&caller, &org, &id, status)
        .await?;
    Ok(HttpResponse::Ok().json(ApiKeyView::at(
        &key,
        management.clock.unix(),
        &management.rate_tiers,
    )))
}

/// The optional body of a roll.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Roll {
    grace_period_seconds: Option<i64>,
}

/// A new key with the same settings; the old one keeps working for the
/// grace period, never past its own expiry.
pub async fn roll(
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = key_path(&path)?;
    let body: Roll = read_optional_json(&req, payload).await?;
    let rolled = management
        .roll_api_key(&caller, &org, &id, body.grace_period_seconds)
        .await?;
    let now = management.clock.unix();
    let previous = Some(ApiKeyView::at(&rolled.old, now, &management.rate_tiers));
    Ok(created(
        &org,
        ApiKeyView::at(&rolled.new, now, &management.rate_tiers),
        &rolled.secret,
        previous,
    ))
}

pub async fn delete(
    caller: Caller,
    path: web::Path<(String, String)>,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = key_path(&path)?;
    management.delete_api_key(&caller, &org, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET …/api-keys/{key_id}/usage`: the key's usage per minute, hour or day
/// in `[from, to)` (RFC 3339; by default the last 24 hours).
pub async fn usage(
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = key_path(&path)?;
    let params = query_params(&req, &["from", "to", "granularity"])?;
    let query = UsageQuery {
        from: param(&params, "from").map(str::to_owned),
        to: param(&params, "to").map(str::to_owned),
        granularity: param(&params, "granularity").map(str::to_owned),
    };
    let series = management.api_key_usage(&caller, &org, &id, query).await?;
    Ok(HttpResponse::Ok().json(series))
}

fn key_path(path: &(String, String)) -> Result<(OrgId, ApiKeyId), Problem> {
    let id = ApiKeyId::parse(&path.1).map_err(|_| Problem::not_found())?;
    Ok((org_id(&path.0)?, id))
}
