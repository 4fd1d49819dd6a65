//! `/admin/v1/orgs`: organisations. Only the operator creates and lists
//! them or changes a plan.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::audit::{self, Target};
use super::auth::{AdminCaller, CLIENTS_WRITE};
use super::input::{page_of, page_request, query_params, read_json};
use super::problem::Problem;
use super::views;
use crate::crypto::webhook_signing;
use crate::domain::{Name, OrgId, Plan};
use crate::services::registry;
use crate::startup::AppState;
use secrecy::ExposeSecret;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrganisation {
    name: String,
    plan: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrganisationChanges {
    name: Option<String>,
    plan: Option<String>,
    /// A URL, or `null` to remove it.
    #[serde(default, deserialize_with = "super::input::present")]
    webhook_url: Option<Option<String>>,
}

pub async fn create(
    caller: AdminCaller,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller.require_root()?;
    let body: NewOrganisation = read_json(&req, payload).await?;
    let name = Name::parse(&body.name).map_err(|e| Problem::invalid_field("name", e))?;
    let plan = parse_plan(&body.plan)?;
    let org = registry::create_organisation(&*state.store, name, plan).await?;
    let view = views::organisation(&org);
    let changes = audit::initial(&view);
    record(
        &state,
        &req,
        &caller,
        "organisation.created",
        &org.id,
        changes,
    )
    .await;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/admin/v1/orgs/{}", org.id)))
        .json(view))
}

pub async fn list(
    caller: AdminCaller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller.require_root()?;
    let page = page_request(&query_params(&req, &["limit", "cursor"])?)?;
    let orgs = state.store.list_organisations(&page).await?;
    let body = page_of(
        &page,
        &orgs,
        |o| (o.created_at, o.id.as_str()),
        views::organisation,
    );
    Ok(HttpResponse::Ok().json(body))
}

pub async fn get(
    caller: AdminCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let org = org_of(&caller, &path)?;
    caller.require_any(&org)?;
    let org = state.store.get_organisation(&org).await?;
    Ok(HttpResponse::Ok().json(views::organisation(&org)))
}

pub async fn update(
    caller: AdminCaller,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = org_of(&caller, &path)?;
    caller.require(&id, CLIENTS_WRITE)?;
    let changes: OrganisationChanges = read_json(&req, payload).await?;
    let mut org = state.store.get_organisation(&id).await?;
    let before = views::organisation(&org);
    if let Some(name) = &changes.name {
        org.name = Name::parse(name).map_err(|e| Problem::invalid_field("name", e))?;
    }
    if let Some(plan) = &changes.plan {
        caller.require_root()?;
        org.plan = parse_plan(plan)?;
    }
    if let Some(url) = changes.webhook_url {
        org.webhook_url = url
            .as_deref()
            .map(|raw| state.webhook_urls.parse(raw))
            .transpose()
            .map_err(|e| Problem::invalid_field("webhook_url", e))?;
    }
    // The first webhook URL brings the signing secret, shown in this response.
    let new_secret =
        (org.webhook_url.is_some() && org.webhook_signing_nonce.is_none()).then(|| {
            let nonce = webhook_signing::new_nonce();
            org.webhook_signing_nonce = Some(nonce.clone());
            state.webhook_signer.secret(&org.id, &nonce)
        });
    state
        .store
        .update_organisation(&org, chrono::Utc::now().timestamp())
        .await?;
    let mut view = views::organisation(&org);
    let changes = audit::diff(&before, &view);
    record(
        &state,
        &req,
        &caller,
        "organisation.updated",
        &org.id,
        changes,
    )
    .await;
    if let Some(secret) = new_secret {
        view["webhook_secret"] = secret.expose_secret().into();
    }
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /admin/v1/orgs/{org_id}/webhook-secret`: a new signing secret for
/// the organisation's webhooks, shown once; the old one stops signing.
pub async fn rotate_webhook_secret(
    caller: AdminCaller,
    path: web::Path<String>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = org_of(&caller, &path)?;
    caller.require(&id, CLIENTS_WRITE)?;
    let mut org = state.store.get_organisation(&id).await?;
    let nonce = webhook_signing::new_nonce();
    org.webhook_signing_nonce = Some(nonce.clone());
    state
        .store
        .update_organisation(&org, chrono::Utc::now().timestamp())
        .await?;
    record(
        &state,
        &req,
        &caller,
        "organisation.webhook_secret_rotated",
        &org.id,
        serde_json::Map::new(),
    )
    .await;
    let secret = state.webhook_signer.secret(&org.id, &nonce);
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "org_id": org.id.as_str(),
        "webhook_secret": secret.expose_secret(),
    })))
}

/// Records `action` on the organisation `id` in the audit trail.
async fn record(
    state: &AppState,
    req: &HttpRequest,
    caller: &AdminCaller,
    action: &str,
    id: &OrgId,
    changes: serde_json::Map<String, serde_json::Value>,
) {
    let target = Target {
        org_id: Some(id),
        kind: "organisation",
        id: id.as_str(),
    };
    audit::record(state, req, caller.identity(), action, target, changes).await;
}

/// The organisation a path names, if the caller may see it at all.
pub(super) fn org_of(caller: &AdminCaller, raw: &str) -> Result<OrgId, Problem> {
    let org = OrgId::parse(raw).map_err(|_| Problem::not_found())?;
    match caller {
        AdminCaller::OrgAdmin { org_id, .. } if *org_id != org => Err(Problem::not_found()),
        _ => Ok(org),
    }
}

fn parse_plan(raw: &str) -> Result<Plan, Problem> {
    raw.parse().map_err(|e| Problem::invalid_field("plan", e))
}
