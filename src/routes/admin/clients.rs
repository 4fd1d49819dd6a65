//! `/admin/v1/orgs/{org_id}/clients`: an organisation's OAuth clients. A
//! secret is shown once, by the call that creates or rotates it.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::audit::{self, Target};
use super::auth::{AdminCaller, CLIENTS_READ, CLIENTS_WRITE};
use super::fields::{allowlist, future, imported_secret, rate_limit, scopes, SecretRotation};
use super::input::{page_of, page_request, query_params, read_json};
use super::orgs::org_of;
use super::problem::Problem;
use super::views;
use crate::domain::{Audience, Client, ClientId, ClientStatus, Name, OrgId};
use crate::services::registry::{self, NewClient};
use crate::startup::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewClientBody {
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    audiences: Vec<String>,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    rate_limit_per_minute: Option<u32>,
    #[serde(default)]
    ip_allowlist: Vec<String>,
    #[serde(default)]
    resource_server: bool,
    /// A secret brought from another server; else one is generated.
    client_secret: Option<String>,
}

/// Fields a PATCH may change; `null` removes an expiry or a rate limit.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientChanges {
    name: Option<String>,
    scopes: Option<Vec<String>>,
    audiences: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::input::present")]
    expires_at: Option<Option<chrono::DateTime<chrono::Utc>>>,
    #[serde(default, deserialize_with = "super::input::present")]
    rate_limit_per_minute: Option<Option<u32>>,
    ip_allowlist: Option<Vec<String>>,
    resource_server: Option<bool>,
}

pub async fn create(
    caller: AdminCaller,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let org = org_of(&caller, &path)?;
    caller.require(&org, CLIENTS_WRITE)?;
    let body: NewClientBody = read_json(&req, payload).await?;
    if body.resource_server {
        // A resource server checks every organisation's keys: operator only.
        caller.require_root()?;
    }
    let plan = state.store.get_organisation(&org).await?.plan;
    if !state.plans.of(plan).api_access {
        return Err(registry::RegistryError::ApiAccessNotAvailable.into());
    }
    let now = chrono::Utc::now().timestamp();
    let new = NewClient {
        org_id: org.clone(),
        name: Name::parse(&body.name).map_err(|e| Problem::invalid_field("name", e))?,
        scopes: scopes(&body.scopes)?,
        audiences: audiences(&body.audiences)?,
        resource_server: body.resource_server,
        expires_at: body
            .expires_at
            .map(|t| future("expires_at", t, now))
            .transpose()?,
        ip_allowlist: allowlist(&body.ip_allowlist)?,
        rate_limit_per_minute: body
            .rate_limit_per_minute
            .map(|n| rate_limit(Some(n), state.max_rate_limit_per_minute))
            .transpose()?,
        secret: imported_secret(body.client_secret.as_deref())?,
    };
    caller.require_covers(&new.scopes)?;
    let (client, secret) = registry::create_client(&*state.store, &state.secrets, new).await?;
    let mut view = views::client(&client);
    let changes = audit::initial(&view);
    record(&state, &req, &caller, "client.created", &client, changes).await;
    show_secret(&mut view, secret.as_ref());
    Ok(views::created_with_secret(location(&org, &client.id), view))
}

pub async fn list(
    caller: AdminCaller,
    path: web::Path<String>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let org = org_of(&caller, &path)?;
    caller.require(&org, CLIENTS_READ)?;
    let page = page_request(&query_params(&req, &["limit", "cursor"])?)?;
    let clients = state.store.list_clients(Some(&org), &page).await?;
    let body = page_of(
        &page,
        &clients,
        |c| (c.created_at, c.id.as_str()),
        views::client,
    );
    Ok(HttpResponse::Ok().json(body))
}

pub async fn get(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let client = found(&caller, &path, CLIENTS_READ, &state).await?;
    Ok(HttpResponse::Ok().json(views::client(&client)))
}

pub async fn update(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let mut client = found(&caller, &path, CLIENTS_WRITE, &state).await?;
    let changes: ClientChanges = read_json(&req, payload).await?;
    let now = chrono::Utc::now().timestamp();
    let before = views::client(&client);
    if let Some(name) = &changes.name {
        client.name = Name::parse(name).map_err(|e| Problem::invalid_field("name", e))?;
    }
    if let Some(list) = &changes.scopes {
        client.scopes = scopes(list)?;
        caller.require_covers(&client.scopes)?;
    }
    if let Some(list) = &changes.audiences {
        client.audiences = audiences(list)?;
    }
    if let Some(expiry) = changes.expires_at {
        client.expires_at = expiry.map(|t| future("expires_at", t, now)).transpose()?;
    }
    if let Some(limit) = changes.rate_limit_per_minute {
        client.rate_limit_per_minute = limit
            .map(|n| rate_limit(Some(n), state.max_rate_limit_per_minute))
            .transpose()?;
    }
    if let Some(list) = &changes.ip_allowlist {
        client.ip_allowlist = allowlist(list)?;
    }
    if let Some(resource_server) = changes.resource_server {
        caller.require_root()?;
        client.resource_server = resource_server;
    }
    client.updated_at = now;
    state.store.update_client(&client).await?;
    state.authenticator.evict(client.id.as_str());
    let view = views::client(&client);
    let changes = audit::diff(&before, &view);
    record(&state, &req, &caller, "client.updated", &client, changes).await;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn rotate_secret(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let mut client = found(&caller, &path, CLIENTS_WRITE, &state).await?;
    caller.require_covers(&client.scopes)?;
    let (grace, imported) = SecretRotation::read(&req, payload).await?;
    let secret =
        registry::rotate_client_secret(&*state.store, &state.secrets, &client.id, imported, grace)
            .await?;
    state.authenticator.evict(client.id.as_str());
    client.updated_at = chrono::Utc::now().timestamp();
    let ends = crate::time::rfc3339(client.updated_at + grace);
    let changes = audit::change("previous_secret_expires_at", Value::Null, ends.into());
    record(
        &state,
        &req,
        &caller,
        "client.secret_rotated",
        &client,
        changes,
    )
    .await;
    let mut view = views::client(&client);
    show_secret(&mut view, secret.as_ref());
    view["previous_secret_expires_at"] =
        Value::from(crate::time::rfc3339(client.updated_at + grace));
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

pub async fn deactivate(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    set_status(caller, path, req, state, ClientStatus::Deactivated).await
}

pub async fn activate(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    set_status(caller, path, req, state, ClientStatus::Active).await
}

async fn set_status(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    state: web::Data<AppState>,
    status: ClientStatus,
) -> Result<HttpResponse, Problem> {
    let mut client = found(&caller, &path, CLIENTS_WRITE, &state).await?;
    registry::set_client_status(&*state.store, &client.id, status).await?;
    state.authenticator.evict(client.id.as_str());
    let changes = audit::change(
        "status",
        client.status.as_str().into(),
        status.as_str().into(),
    );
    let action = match status {
        ClientStatus::Active => "client.activated",
        ClientStatus::Deactivated => "client.deactivated",
    };
    record(&state, &req, &caller, action, &client, changes).await;
    client.status = status;
    client.updated_at = chrono::Utc::now().timestamp();
    Ok(HttpResponse::Ok().json(views::client(&client)))
}

pub async fn delete(
    caller: AdminCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let client = found(&caller, &path, CLIENTS_WRITE, &state).await?;
    registry::delete_client(&*state.store, &client.id).await?;
    state.authenticator.evict(client.id.as_str());
    record(&state, &req, &caller, "client.deleted", &client, Map::new()).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Records `action` on `client` in the audit trail.
async fn record(
    state: &AppState,
    req: &HttpRequest,
    caller: &AdminCaller,
    action: &str,
    client: &Client,
    changes: Map<String, Value>,
) {
    let target = Target {
        org_id: Some(&client.org_id),
        kind: "client",
        id: client.id.as_str(),
    };
    audit::record(state, req, caller.identity(), action, target, changes).await;
}

/// The client a path names, within the caller's reach.
async fn found(
    caller: &AdminCaller,
    path: &(String, String),
    scope: &str,
    state: &AppState,
) -> Result<Client, Problem> {
    let org = org_of(caller, &path.0)?;
    caller.require(&org, scope)?;
    let id = ClientId::parse(&path.1).map_err(|_| Problem::not_found())?;
    Ok(state.store.get_client(&org, &id).await?)
}

fn location(org: &OrgId, id: &ClientId) -> String {
    format!("/admin/v1/orgs/{org}/clients/{id}")
}

fn audiences(list: &[String]) -> Result<Vec<Audience>, Problem> {
    let mut out = Vec::new();
    for raw in list {
        let audience = Audience::parse(raw).map_err(|e| Problem::invalid_field("audiences", e))?;
        if !out.contains(&audience) {
            out.push(audience);
        }
    }
    Ok(out)
}

/// A generated secret goes in the create or rotate answer, shown this
/// once; an imported one is the caller's own and is not echoed back.
fn show_secret(view: &mut Value, generated: Option<&crate::domain::ClientSecret>) {
    if let Some(secret) = generated {
        view["client_secret"] = Value::from(secret.expose());
    }
}
