//! The client credentials a request presents (RFC 6749 §2.3.1): a Basic
//! header, or `client_id` and `client_secret` in the body, never both.

use actix_web::http::header;
use actix_web::HttpRequest;

use super::basic_auth::{parse_basic, BasicAuthError};
use crate::error::OAuthError;

/// The one Authorization header of a request, if any.
pub fn single_authorization(req: &HttpRequest) -> Result<Option<&[u8]>, OAuthError> {
    let mut headers = req.headers().get_all(header::AUTHORIZATION);
    let first = headers.next().map(|v| v.as_bytes());
    if headers.next().is_some() {
        return Err(OAuthError::invalid_request(
            "only one Authorization header is allowed",
        ));
    }
    Ok(first)
}

/// The client id and secret, from exactly one authentication method.
pub fn presented_credentials(
    authorization: Option<&[u8]>,
    body_id: Option<&str>,
    body_secret: Option<&str>,
) -> Result<(String, String), OAuthError> {
    if let Some(header) = authorization {
        let (id, secret) = parse_basic(header).map_err(|e| match e {
            BasicAuthError::NotBasic => {
                OAuthError::invalid_client("unsupported client authentication scheme; use Basic")
            }
            BasicAuthError::Malformed => {
                OAuthError::invalid_request("malformed Basic authorization header")
            }
        })?;
        if body_secret.is_some() || body_id.is_some_and(|body_id| body_id != id) {
            return Err(OAuthError::invalid_request(
                "use exactly one client authentication method",
            ));
        }
        return Ok((id, secret));
    }
    match (body_id, body_secret) {
        (Some(id), Some(secret)) => Ok((id.to_owned(), secret.to_owned())),
        (None, _) => Err(OAuthError::invalid_client(
            "client authentication is required",
        )),
        (Some(_), None) => Err(OAuthError::invalid_client("client_secret is required")),
    }
}
