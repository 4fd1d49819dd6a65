//! Reading management API input: a JSON body, query parameters and a page.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;

use super::problem::Problem;
use crate::routes::body::read_body;
use crate::routes::token_request::media_type;
use crate::storage::PageRequest;

pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 200;

/// The JSON body as `T`; a malformed body, an unknown field or a wrong
/// type is a 400 that names the field.
pub async fn read_json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, Problem> {
    let body = read_admin_body(payload).await?;
    parse_json(req, &body)
}

/// Like `read_json`, for calls whose body may be left out entirely.
pub async fn read_optional_json<T: DeserializeOwned + Default>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, Problem> {
    let body = read_admin_body(payload).await?;
    if body.is_empty() {
        return Ok(T::default());
    }
    parse_json(req, &body)
}

async fn read_admin_body(payload: web::Payload) -> Result<web::BytesMut, Problem> {
    read_body(payload).await.map_err(|e| {
        let code = match e.status {
            StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
            StatusCode::REQUEST_TIMEOUT => "REQUEST_TIMEOUT",
            _ => "INVALID_REQUEST",
        };
        Problem::new(e.status, code, e.description.into_owned())
    })
}

fn parse_json<T: DeserializeOwned>(req: &HttpRequest, body: &[u8]) -> Result<T, Problem> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if media_type(content_type).as_deref() != Some("application/json") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "the body must be application/json",
        ));
    }
    let mut json = serde_json::Deserializer::from_slice(body);
    let parsed: T = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let field = match e.path().to_string() {
            path if path == "." => named_field(&e.inner().to_string())
                .unwrap_or("body")
                .to_owned(),
            path => path,
        };
        Problem::invalid_field(&field, e.inner())
    })?;
    json.end().map_err(|e| Problem::invalid_field("body", e))?;
    Ok(parsed)
}

/// The field a top-level error is about: serde says "missing field `x`".
fn named_field(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split('`').next()
}

/// An organisation id from a path; one that does not parse names nothing
/// there is.
pub fn org_id(raw: &str) -> Result<crate::domain::OrgId, Problem> {
    crate::domain::OrgId::parse(raw).map_err(|_| Problem::not_found())
}

/// 201 for a new resource whose body carries a one-time secret: never
/// cached, with the resource's `Location`.
pub fn created_with_secret(
    location: String,
    body: impl serde::Serialize,
) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// The query parameters, each at most once, only among `known`.
pub fn query_params(req: &HttpRequest, known: &[&str]) -> Result<Vec<(String, String)>, Problem> {
    let mut params: Vec<(String, String)> = Vec::new();
    for (name, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        if !known.contains(&name.as_ref()) {
            return Err(Problem::invalid_field(&name, "unknown query parameter"));
        }
        if params.iter().any(|(n, _)| *n == name) {
            return Err(Problem::invalid_field(&name, "given more than once"));
        }
        params.push((name.into_owned(), value.into_owned()));
    }
    Ok(params)
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// `limit` (default 50, at most 200) and the opaque `cursor` of a list.
pub fn page_request(params: &[(String, String)]) -> Result<PageRequest, Problem> {
    let limit = match param(params, "limit") {
        None => DEFAULT_PAGE,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                Problem::invalid_field("limit", format!("must be between 1 and {MAX_PAGE}"))
            })?,
    };
    let after = param(params, "cursor")
        .map(|raw| {
            decode_cursor(raw)
                .ok_or_else(|| Problem::invalid_field("cursor", "not a cursor of this list"))
        })
        .transpose()?;
    Ok(PageRequest { limit, after })
}

/// One page of a list as JSON, `{items, next_cursor}`: `position` gives an
/// item's (time, id) order, `view` its JSON. A full page has a cursor.
pub fn page_of<T, V: serde::Serialize>(
    page: &PageRequest,
    items: &[T],
    position: impl Fn(&T) -> (i64, &str),
    view: impl Fn(&T) -> V,
) -> serde_json::Value {
    let next_cursor = items
        .last()
        .filter(|_| items.len() as i64 == page.limit)
        .map(|last| {
            let (time, id) = position(last);
            URL_SAFE_NO_PAD.encode(format!("{time}:{id}"))
        });
    let items: Vec<_> = items.iter().map(view).collect();
    serde_json::json!({ "items": items, "next_cursor": next_cursor })
}

fn decode_cursor(raw: &str) -> Option<(i64, String)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).ok()?).ok()?;
    let (created_at, id) = text.split_once(':')?;
    Some((created_at.parse().ok()?, id.to_owned()))
}

#[cfg(test)]
mod tests;
