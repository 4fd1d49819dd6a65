//! What the middleware reads from a request: the key, the caller and the
//! fingerprinted body.

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpMessage, HttpResponse};
use aws_lc_rs::digest;
use futures_util::StreamExt;

use super::stored::problem;
use super::{IdempotencyCaller, IDEMPOTENCY_KEY_HEADER};
use crate::domain::IdempotencyKey;
use crate::routes::body::MAX_BODY_BYTES;

pub(super) fn parse_key(req: &ServiceRequest) -> Option<IdempotencyKey> {
    let mut values = req.headers().get_all(IDEMPOTENCY_KEY_HEADER);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    IdempotencyKey::parse(value.to_str().ok()?).ok()
}

/// The caller's identity as bytes; each kind is tagged so that kinds never collide.
pub(super) fn caller_identity(req: &ServiceRequest) -> Vec<u8> {
    if let Some(IdempotencyCaller(caller)) = req.extensions().get::<IdempotencyCaller>() {
        return [b"caller\0".as_slice(), caller.as_bytes()].concat();
    }
    let mut credentials = req.headers().get_all(header::AUTHORIZATION).peekable();
    if credentials.peek().is_none() {
        return b"anonymous".to_vec();
    }
    let mut ctx = digest::Context::new(&digest::SHA256);
    for value in credentials {
        ctx.update(value.as_bytes());
        ctx.update(&[0]);
    }
    [b"authorization\0".as_slice(), ctx.finish().as_ref()].concat()
}

/// SHA-256 of the method, the path with its query, and the body.
pub(super) fn request_digest(req: &ServiceRequest, body: &[u8]) -> digest::Digest {
    let path = req
        .uri()
        .path_and_query()
        .map_or(req.path(), |pq| pq.as_str());
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(req.method().as_str().as_bytes());
    ctx.update(&[0]);
    ctx.update(path.as_bytes());
    ctx.update(&[0]);
    ctx.update(body);
    ctx.finish()
}

/// The whole body, at most the management API's limit.
pub(super) async fn read_body(mut payload: Payload) -> Result<web::Bytes, HttpResponse> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            if crate::routes::body_deadline::timed_out(&e) {
                problem(
                    StatusCode::REQUEST_TIMEOUT,
                    "REQUEST_TIMEOUT",
                    "The request body did not arrive in time.",
                )
            } else {
                problem(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST",
                    "The request body could not be read.",
                )
            }
        })?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                &format!("The request body must be at most {MAX_BODY_BYTES} bytes."),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
