use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::domain::{JwsAlgorithm, Scope};

/// The metadata document, built once at start.
pub struct MetadataDocument(pub web::Bytes);

/// The RFC 8414 document; it changes only with the configuration. It names
/// only what Keyward does: no authorization endpoint, so no response types,
/// and no ID tokens, so none of OpenID Connect Discovery's ID token fields.
pub fn build_metadata(issuer: &str, scopes_supported: Option<&[Scope]>) -> web::Bytes {
    let assertion_algs = JwsAlgorithm::NAMES;
    let mut doc = json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "dpop_signing_alg_values_supported": assertion_algs,
        "response_types_supported": [],
    });
    if let Some(scopes) = scopes_supported {
        doc["scopes_supported"] = json!(scopes.iter().map(Scope::as_str).collect::<Vec<_>>());
    }
    web::Bytes::from(doc.to_string())
}

/// `GET /.well-known/oauth-authorization-server`, and the same document at
/// `/.well-known/openid-configuration` (RFC 8414 §5), where OpenID Connect
/// libraries that resource servers use look for the issuer's `jwks_uri`.
pub async fn metadata(document: web::Data<MetadataDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .content_type("application/json")
        .body(document.0.clone())
}
