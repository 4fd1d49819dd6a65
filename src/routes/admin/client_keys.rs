//! `/admin/v1/orgs/{org_id}/clients/{client_id}/keys`: the public keys a
//! client signs its `private_key_jwt` assertions with.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::clients::client_path;
use super::input::read_json;
use super::problem::Problem;
use crate::management::views::ClientKeyView;
use crate::management::{Caller, Management};

pub async fn list(
    caller: Caller,
    path: web::Path<(String, String)>,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = client_path(&path)?;
    let client = management.get_client(&caller, &org, &id).await?;
    let keys: Vec<ClientKeyView> = client.public_keys.iter().map(ClientKeyView::of).collect();
    Ok(HttpResponse::Ok().json(json!({ "keys": keys })))
}

pub async fn add(
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = client_path(&path)?;
    let registration = read_json(&req, payload).await?;
    let (client, kid) = management
        .add_client_key(&caller, &org, &id, registration)
        .await?;
    let view = client.public_keys.get(&kid).map(ClientKeyView::of);
    let location = format!(
        "/admin/v1/orgs/{org}/clients/{id}/keys/{}",
        percent_encoding::utf8_percent_encode(&kid, percent_encoding::NON_ALPHANUMERIC)
    );
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(view))
}

pub async fn remove(
    caller: Caller,
    path: web::Path<(String, String, String)>,
    management: web::Data<Management>,
) -> Result<HttpResponse, Problem> {
    let (org, id) = client_path(&(path.0.clone(), path.1.clone()))?;
    management
        .remove_client_key(&caller, &org, &id, &path.2)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
