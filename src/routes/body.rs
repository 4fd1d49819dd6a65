//! Reads a request body up to a size limit.

use actix_web::http::StatusCode;
use actix_web::web;
use futures_util::StreamExt;

use crate::error::OAuthError;

pub const MAX_BODY_BYTES: usize = 16 * 1024;

fn too_large() -> OAuthError {
    OAuthError::invalid_request(format!("the body must be at most {MAX_BODY_BYTES} bytes"))
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
}

pub async fn read_body(mut payload: web::Payload) -> Result<web::BytesMut, OAuthError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            if super::body_deadline::timed_out(&e) {
                OAuthError::invalid_request("the body did not arrive in time")
                    .with_status(StatusCode::REQUEST_TIMEOUT)
            } else {
                OAuthError::invalid_request("the body could not be read")
            }
        })?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
