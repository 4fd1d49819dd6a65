//! `/admin/v1/trusted-issuers` (root only): the issuers whose tokens may
//! sign workloads in; and `/admin/v1/orgs/{org_id}/clients/{client_id}/federated-subjects`:
//! the workloads a client is bound to.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::clients::client_path;
use super::input::read_json;
use super::problem::Problem;
use crate::management::views::TrustedIssuerView;
use crate::management::{Caller, Management};

pub async fn list_issuers(
    caller: Caller,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let issuers = management.trusted_issuers(&caller).await?;
    let views: Vec<TrustedIssuerView> = issuers.iter().map(TrustedIssuerView::of).collect();
    Ok(HttpResponse::Ok().json(json!({ "trusted_issuers": views })))
}

pub async fn add_issuer(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let new = read_json(&req, payload).await?;
    let issuer = management.add_trusted_issuer(&caller, new).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/admin/v1/trusted-issuers/{}", issuer.id),
        ))
        .json(TrustedIssuerView::of(&issuer)))
}

pub async fn remove_issuer(
    caller: Caller,
    path: web::Path<String>,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    management.remove_trusted_issuer(&caller, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn list_subjects(
    caller: Caller,
    path: web::Path<(String, String)>,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = client_path(&path)?;
    let client = management.get_client(&caller, &org, &id).await?;
    let subjects: Vec<_> = client.federated_subjects.iter().collect();
    Ok(HttpResponse::Ok().json(json!({ "federated_subjects": subjects })))
}

pub async fn add_subject(
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = client_path(&path)?;
    let new = read_json(&req, payload).await?;
    let (client, subject_id) = management
        .add_federated_subject(&caller, &org, &id, new)
        .await?;
    let added = client
        .federated_subjects
        .iter()
        .find(|s| s.id == subject_id);
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/admin/v1/orgs/{org}/clients/{id}/federated-subjects/{subject_id}"),
        ))
        .json(added))
}

pub async fn remove_subject(
    caller: Caller,
    path: web::Path<(String, String, String)>,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = client_path(&(path.0.clone(), path.1.clone()))?;
    management
        .remove_federated_subject(&caller, &org, &id, &path.2)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
