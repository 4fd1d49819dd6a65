//! The JSON the management API shows for each resource. Secrets and their
//! hashes never appear here; a one-time secret is added by the create call.

use serde_json::{json, Value};

use crate::domain::{ApiKey, Audience, Client, Organisation};
use crate::time::rfc3339;

fn time(unix: Option<i64>) -> Value {
    unix.map_or(Value::Null, |t| json!(rfc3339(t)))
}

pub fn organisation(org: &Organisation) -> Value {
    json!({
        "id": org.id.as_str(),
        "name": org.name.as_str(),
        "plan": org.plan.as_str(),
        "webhook_url": org.webhook_url,
        "created_at": rfc3339(org.created_at),
    })
}

pub fn client(client: &Client) -> Value {
    json!({
        "client_id": client.id.as_str(),
        "org_id": client.org_id.as_str(),
        "name": client.name.as_str(),
        "scopes": client.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "audiences": client.audiences.iter().map(Audience::as_str).collect::<Vec<_>>(),
        "status": client.status.as_str(),
        "resource_server": client.resource_server,
        "created_at": rfc3339(client.created_at),
        "updated_at": rfc3339(client.updated_at),
        "expires_at": time(client.expires_at),
        "ip_allowlist": client.ip_allowlist.entries().collect::<Vec<_>>(),
        "rate_limit_per_minute": client.rate_limit_per_minute,
        "last_used_at": time(client.last_used_at),
        "request_count": client.request_count,
    })
}

pub fn api_key(key: &ApiKey, now: i64) -> Value {
    json!({
        "id": key.id.as_str(),
        "org_id": key.org_id.as_str(),
        "name": key.name.as_str(),
        "prefix": key.id.key_prefix(),
        "status": key.display_status(now),
        "scopes": key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "created_at": rfc3339(key.created_at),
        "updated_at": rfc3339(key.updated_at),
        "expires_at": time(key.expires_at),
        "last_used_at": time(key.last_used_at),
        "request_count": key.request_count,
        "rate_limit_per_minute": key.rate_limit_per_minute,
        "ip_allowlist": key.ip_allowlist.entries().collect::<Vec<_>>(),
        "metadata": key.metadata,
    })
}

/// 201 for a new resource whose view carries a one-time secret: never
/// cached, with the resource's `Location`.
pub fn created_with_secret(location: String, view: Value) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, location))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(view)
}
