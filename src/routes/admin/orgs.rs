//! `/admin/v1/orgs`: organisations (`management::organisations` does the
//! work). Only the operator creates and lists them or changes a plan.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use serde::Serialize;

use super::input::{org_id, page_of, page_request, query_params, read_json};
use super::problem::Problem;
use crate::management::views::OrganisationView;
use crate::management::{Caller, Management};

/// An organisation's view with its webhook signing secret, shown once
/// when its first webhook URL is set.
#[derive(Serialize)]
struct WithWebhookSecret {
    #[serde(flatten)]
    organisation: OrganisationView,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_secret: Option<String>,
}

pub async fn create(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let body = read_json(&req, payload).await?;
    let org = management.create_organisation(&caller, body).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/admin/v1/orgs/{}", org.id)))
        .json(OrganisationView::of(&org)))
}

pub async fn list(
    caller: Caller,
    req: HttpRequest,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let page = page_request(&query_params(&req, &["limit", "cursor"])?)?;
    let orgs = management.list_organisations(&caller, &page).await?;
    let body = page_of(
        &page,
        &orgs,
        |o| (o.created_at, o.id.as_str()),
        OrganisationView::of,
    );
    Ok(HttpResponse::Ok().json(body))
}

pub async fn get(
    caller: Caller,
    path: web::Path<String>,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let org = management
        .get_organisation(&caller, &org_id(&path)?)
        .await?;
    Ok(HttpResponse::Ok().json(OrganisationView::of(&org)))
}

pub async fn update(
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let id = org_id(&path)?;
    let changes = read_json(&req, payload).await?;
    let updated = management
        .update_organisation(&caller, &id, changes)
        .await?;
    Ok(HttpResponse::Ok().json(WithWebhookSecret {
        organisation: OrganisationView::of(&updated.organisation),
        webhook_secret: updated.webhook_secret.map(|s| s.expose_secret().to_owned()),
    }))
}

/// `POST /admin/v1/orgs/{org_id}/webhook-secret`: a new signing secret for
/// the organisation's webhooks, shown once; the old one stops signing.
pub async fn rotate_webhook_secret(
    caller: Caller,
    path: web::Path<String>,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let id = org_id(&path)?;
    let secret = management.rotate_webhook_secret(&caller, &id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "org_id": id.as_str(),
        "webhook_secret": secret.expose_secret(),
    })))
}
