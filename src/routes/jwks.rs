use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::startup::AppState;

/// Published keys may change at a rotation; resource servers refetch soon.
const JWKS_CACHE_CONTROL: &str = "public, max-age=60";

/// `GET /.well-known/jwks.json`: every key that may still verify a live token.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, JWKS_CACHE_CONTROL))
        .content_type("application/jwk-set+json")
        .body(state.keys.load().jwks_json().clone())
}
