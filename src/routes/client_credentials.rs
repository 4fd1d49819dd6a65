//! The client credentials a request presents (RFC 6749 §2.3.1): a Basic
//! header, `client_id` and `client_secret` in the body, or a client
//! assertion (RFC 7521 §4.2), never more than one.

use actix_web::http::header;
use actix_web::HttpRequest;

use super::basic_auth::{parse_basic, BasicAuthError};
use crate::domain::{AuthMethod, ClientSecret};
use crate::error::OAuthError;
use crate::services::client_assertion::ASSERTION_TYPE;
use crate::services::ClientProof;

/// A client's proof as the request carried it.
#[derive(Debug)]
pub enum PresentedProof {
    Secret {
        id: String,
        secret: ClientSecret,
        method: AuthMethod,
    },
    Assertion {
        id: Option<String>,
        assertion: String,
    },
}

impl PresentedProof {
    pub fn as_proof(&self) -> ClientProof<'_> {
        match self {
            Self::Secret { id, secret, method } => ClientProof::Secret {
                id,
                secret,
                method: *method,
            },
            Self::Assertion { id, assertion } => ClientProof::Assertion {
                id: id.as_deref(),
                assertion,
            },
        }
    }
}

/// The body's client authentication parameters.
#[derive(Debug, Default)]
pub struct BodyCredentials<'a> {
    pub client_id: Option<&'a str>,
    pub client_secret: Option<&'a str>,
    pub assertion_type: Option<&'a str>,
    pub assertion: Option<&'a str>,
}

/// The one proof a request presents: a client assertion, or a secret.
pub fn presented_proof(
    authorization: Option<&[u8]>,
    body: BodyCredentials<'_>,
) -> Result<PresentedProof, OAuthError> {
    if body.assertion.is_none() && body.assertion_type.is_none() {
        let (id, secret) =
            presented_credentials(authorization, body.client_id, body.client_secret)?;
        let method = if authorization.is_some() {
            AuthMethod::ClientSecretBasic
        } else {
            AuthMethod::ClientSecretPost
        };
        return Ok(PresentedProof::Secret {
            id,
            secret: ClientSecret::new(secret),
            method,
        });
    }
    if authorization.is_some() || body.client_secret.is_some() {
        return Err(OAuthError::invalid_request(
            "use exactly one client authentication method",
        ));
    }
    match (body.assertion_type, body.assertion) {
        (Some(ASSERTION_TYPE), Some(assertion)) => Ok(PresentedProof::Assertion {
            id: body.client_id.map(str::to_owned),
            assertion: assertion.to_owned(),
        }),
        (Some(ASSERTION_TYPE), None) => Err(OAuthError::invalid_request(
            "client_assertion is required with client_assertion_type",
        )),
        (None, _) => Err(OAuthError::invalid_request(
            "client_assertion_type is required with client_assertion",
        )),
        (Some(_), _) => Err(OAuthError::invalid_client(format!(
            "unsupported client_assertion_type; use {ASSERTION_TYPE}"
        ))),
    }
}

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
