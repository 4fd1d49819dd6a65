use actix_web::http::header;
use actix_web::{web, HttpResponse};

use arc_swap::ArcSwap;

use crate::crypto::keyring::KeySet;

/// Published keys may change at a rotation; resource servers refetch soon.
const JWKS_CACHE_CONTROL: &str = "public, max-age=60";

/// `GET /.well-known/jwks.json`: every key that may still verify a live token.
pub async fn jwks(keys: web::Data<ArcSwap<KeySet>>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, JWKS_CACHE_CONTROL))
        .content_type("application/jwk-set+json")
        .body(keys.load().jwks_json().clone())
}
