//! `/admin/v1/orgs/{org_id}/clients`: an organisation's OAuth clients
//! (`management::clients` does the work). A secret is shown once, by the
//! call that creates or rotates it.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::input::{
    created_with_secret, org_id, page_of, page_request, query_params, read_json, read_optional_json,
};
use super::problem::Problem;
use crate::domain::{ClientId, ClientSecret, ClientStatus, OrgId};
use crate::management::views::ClientView;
use crate::management::{Caller, Management};

/// A client's view with its new secret, when Keyward generated it: an
/// imported one is the caller's own and is not echoed back.
#[derive(Serialize)]
struct WithSecret {
    #[serde(flatten)]
    client: ClientView,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_secret_expires_at: Option<String>,
}

fn exposed(secret: Option<&ClientSecret>) -> Option<String> {
    secret.map(|s| s.expose().to_owned())
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
    let created = management.create_client(&caller, &org, body).await?;
    let location = format!("/admin/v1/orgs/{org}/clients/{}", created.client.id);
    let view = WithSecret {
        client: ClientView::of(&created.client, &management.rate_tiers),
        client_secret: exposed(created.secret.as_ref()),
        previous_secret_expires_at: None,
    };
    Ok(created_with_secret(location, view))
}

pub async fn list(
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let org = org_id(&path)?;
    let page = page_request(&query_params(&req, &["limit", "cursor"])?)?;
    let clients = management.list_clients(&caller, Some(&org), &page).await?;
    let body = page_of(
        &page,
        &clients,
        |c| (c.created_at, c.id.as_str()),
        |c| ClientView::of(c, &management.rate_tiers),
    );
    Ok(HttpResponse::Ok().json(body))
}

pub async fn get(
    caller: Caller,
    path: web::Path<(String, String)>,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = client_path(&path)?;
    let client = management.get_client(&caller, &org, &id).await?;
    Ok(HttpResponse::Ok().json(ClientView::of(&client, &management.rate_tiers)))
}

pub async fn update(
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = client_path(&path)?;
    let changes = read_json(&req, payload).await?;
    let client = management
        .update_client(&caller, &org, &id, changes)
        .await?;
    Ok(HttpResponse::Ok().json(ClientView::of(&client, &management.rate_tiers)))
}

pub async fn rotate_secret(
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = client_path(&path)?;
    let rotation = read_optional_json(&req, payload).await?;
    let rotated = management
        .rotate_client_secret(&caller, &org, &id, rotation)
        .await?;
    let view = WithSecret {
        client: ClientView::of(&rotated.client, &management.rate_tiers),
        client_secret: exposed(rotated.secret.as_ref()),
        previous_secret_expires_at: Some(crate::time::rfc3339(rotated.previous_secret_expires_at)),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

pub async fn deactivate(
    caller: Caller,
    path: web::Path<(String, String)>,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    set_status(caller, path, management, ClientStatus::Deactivated).await
}

pub async fn activate(
    caller: Caller,
    path: web::Path<(String, String)>,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    set_status(caller, path, management, ClientStatus::Active).await
}

async fn set_status(
    caller: Caller,
    path: web::Path<(String, String)>,
    management: web::Data<Management>,
    status: ClientStatus,
) -> Result<HttpResponse, Problem> {
    let (org, id) = client_path(&path)?;
    let client = management
        .set_client_status(&caller, &org, &id, status)
        .await?;
    Ok(HttpResponse::Ok().json(ClientView::of(&client, &management.rate_tiers)))
}

pub async fn delete(
    caller: Caller,
    path: web::Path<(String, String)>,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = client_path(&path)?;
    management.delete_client(&caller, &org, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(super) fn client_path(path: &(String, String)) -> Result<(OrgId, ClientId), Problem> {
    let id = ClientId::parse(&path.1).map_err(|_| Problem::not_found())?;
    Ok((org_id(&path.0)?, id))
}
