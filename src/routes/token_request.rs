//! Turns a token request (form or JSON body, optional Basic header) into
//! typed parts, rejecting anything ambiguous.

use serde::Deserialize;

use super::client_credentials::{presented_proof, BodyCredentials, PresentedProof};
use super::form::parse_pairs;
use crate::domain::{Audience, ScopeSet};
use crate::error::{OAuthError, OAuthErrorCode};
use crate::services::TokenRequest;

pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
/// RFC 7523 §2.1: a JWT as the authorization grant.
pub const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A token request as presented: who claims to call, and what they ask for.
#[derive(Debug)]
pub struct PresentedTokenRequest {
    pub proof: PresentedProof,
    pub request: TokenRequest,
    /// Through the JWT-bearer grant: the proof is a platform token, and
    /// its refusals are `invalid_grant`.
    pub jwt_bearer: bool,
}

/// The body parameters we understand; others are ignored (RFC 6749 §3.2).
#[derive(Debug, Default, Deserialize)]
struct BodyParams {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
    assertion: Option<String>,
    scope: Option<String>,
    #[serde(default, deserialize_with = "crate::crypto::jwt::one_or_many")]
    resource: Vec<String>,
    audience: Option<String>,
}

pub fn parse_token_request(
    content_type: Option<&str>,
    authorization: Option<&[u8]>,
    body: &[u8],
) -> Result<PresentedTokenRequest, OAuthError> {
    let params = match media_type(content_type).as_deref() {
        Some("application/x-www-form-urlencoded") => form_params(body)?,
        Some("application/json") => serde_json::from_slice::<BodyParams>(body).map_err(|_| {
            OAuthError::invalid_request("the body is not a valid JSON token request")
        })?,
        _ => {
            return Err(OAuthError::invalid_request(
                "Content-Type must be application/x-www-form-urlencoded or application/json",
            ))
        }
    };
    let params = BodyParams {
        scope: params.scope.filter(|s| !s.is_empty()),
        ..params
    };

    let jwt_bearer = match params.grant_type.as_deref() {
        None | Some("") => return Err(OAuthError::invalid_request("grant_type is required")),
        Some(GRANT_CLIENT_CREDENTIALS) => false,
        Some(GRANT_JWT_BEARER) => true,
        Some(_) => {
            return Err(OAuthError::new(
                OAuthErrorCode::UnsupportedGrantType,
                "the grants supported are client_credentials and urn:ietf:params:oauth:grant-type:jwt-bearer",
            ))
        }
    };
    let proof = if jwt_bearer {
        jwt_bearer_proof(authorization, &params)?
    } else {
        presented_proof(
            authorization,
            BodyCredentials {
                client_id: params.client_id.as_deref(),
                client_secret: params.client_secret.as_deref(),
                assertion_type: params.client_assertion_type.as_deref(),
                assertion: params.client_assertion.as_deref(),
            },
        )?
    };
    let scope = params
        .scope
        .as_deref()
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|e| OAuthError::new(OAuthErrorCode::InvalidScope, e.to_string()))?;
    Ok(PresentedTokenRequest {
        proof,
        request: TokenRequest {
            scope,
            audiences: audiences(&params)?,
        },
        jwt_bearer,
    })
}

/// The JWT-bearer grant (RFC 7523 §2.1): a platform token as `assertion`
/// and the `client_id` it is to sign in as, with no other credential.
fn jwt_bearer_proof(
    authorization: Option<&[u8]>,
    params: &BodyParams,
) -> Result<PresentedProof, OAuthError> {
    let others = authorization.is_some()
        || params.client_secret.is_some()
        || params.client_assertion.is_some()
        || params.client_assertion_type.is_some();
    if others {
        return Err(OAuthError::invalid_request(
            "the jwt-bearer grant takes the assertion and client_id, and no other client credential",
        ));
    }
    let (Some(assertion), Some(id)) = (&params.assertion, &params.client_id) else {
        return Err(OAuthError::invalid_request(
            "the jwt-bearer grant needs assertion and client_id",
        ));
    };
    Ok(PresentedProof::Assertion {
        id: Some(id.clone()),
        assertion: assertion.clone(),
    })
}

/// `type/subtype` of a Content-Type, lower-cased, without parameters.
pub(super) fn media_type(content_type: Option<&str>) -> Option<String> {
    let essence = content_type?.split(';').next()?.trim();
    Some(essence.to_ascii_lowercase())
}

fn form_params(body: &[u8]) -> Result<BodyParams, OAuthError> {
    let body = std::str::from_utf8(body)
        .map_err(|_| OAuthError::invalid_request("the body is not valid UTF-8"))?;
    let pairs = parse_pairs(body).ok_or_else(|| {
        OAuthError::invalid_request("the body is not valid form-urlencoded UTF-8")
    })?;
    let mut params = BodyParams::default();
    for (name, value) in pairs {
        // A parameter without a value is treated as omitted (RFC 6749 §3.1).
        if value.is_empty() {
            continue;
        }
        let slot = match name.as_str() {
            "resource" => {
                params.resource.push(value);
                continue;
            }
            "grant_type" => &mut params.grant_type,
            "client_id" => &mut params.client_id,
            "client_secret" => &mut params.client_secret,
            "client_assertion_type" => &mut params.client_assertion_type,
            "client_assertion" => &mut params.client_assertion,
            "assertion" => &mut params.assertion,
            "scope" => &mut params.scope,
            "audience" => &mut params.audience,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(OAuthError::invalid_request(format!(
                "parameter {name} must not be repeated"
            )));
        }
    }
    Ok(params)
}

fn audiences(params: &BodyParams) -> Result<Vec<Audience>, OAuthError> {
    let target = |msg: String| OAuthError::new(OAuthErrorCode::InvalidTarget, msg);
    if !params.resource.is_empty() && params.audience.is_some() {
        return Err(OAuthError::invalid_request(
            "use resource or audience, not both",
        ));
    }
    let mut out = Vec::new();
    for resource in &params.resource {
        // RFC 8707 §2: an absolute URI without a fragment.
        let valid = url::Url::parse(resource).is_ok_and(|u| u.fragment().is_none());
        if !valid {
            return Err(target(
                "resource must be an absolute URI without a fragment".into(),
            ));
        }
        let audience = Audience::parse(resource).map_err(|e| target(e.to_string()))?;
        if !out.contains(&audience) {
            out.push(audience);
        }
    }
    if let Some(audience) = &params.audience {
        out.push(Audience::parse(audience).map_err(|e| target(e.to_string()))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    fn code(result: Result<PresentedTokenRequest, OAuthError>) -> &'static str {
        result.unwrap_err().code.as_str()
    }

    #[test]
    fn post_credentials_and_scope() {
        let body = b"grant_type=client_credentials&client_id=a&client_secret=b&scope=x:read+y";
        let parsed = parse_token_request(FORM, None, body).unwrap();
        assert!(matches!(parsed.proof, PresentedProof::Secret { ref id, .. } if id == "a"));
        assert_eq!(parsed.request.scope.unwrap().to_string(), "x:read y");
    }

    #[test]
    fn json_body_with_resource_list() {
        let body = br#"{"grant_type":"client_credentials","client_id":"a","client_secret":"b","resource":["https://a.test","https://b.test"]}"#;
        let parsed =
            parse_token_request(Some("application/json; charset=utf-8"), None, body).unwrap();
        assert_eq!(parsed.request.audiences.len(), 2);
    }

    #[test]
    fn rejects_ambiguity_and_garbage() {
        let dup = b"grant_type=client_credentials&grant_type=client_credentials";
        assert_eq!(
            code(parse_token_request(FORM, None, dup)),
            "invalid_request"
        );
        let json_dup = br#"{"grant_type":"client_credentials","grant_type":"x"}"#;
        assert_eq!(
            code(parse_token_request(
                Some("application/json"),
                None,
                json_dup
            )),
            "invalid_request"
        );
        assert_eq!(
            code(parse_token_request(Some("text/plain"), None, b"")),
            "invalid_request"
        );
        assert_eq!(
            code(parse_token_request(FORM, None, b"grant_type=password")),
            "unsupported_grant_type"
        );
        assert_eq!(
            code(parse_token_request(
                FORM,
                None,
                b"grant_type=client_credentials&client_id=a&client_secret=b&scope=a%00"
            )),
            "invalid_scope"
        );
        assert_eq!(
            code(parse_token_request(
                FORM,
                None,
                b"grant_type=client_credentials"
            )),
            "invalid_client"
        );
        let basic_and_post = b"grant_type=client_credentials&client_secret=x";
        assert_eq!(
            code(parse_token_request(
                FORM,
                Some(b"Basic YTpi"),
                basic_and_post
            )),
            "invalid_request"
        );
        let bad_resource =
            b"grant_type=client_credentials&client_id=a&client_secret=b&resource=not-a-uri";
        assert_eq!(
            code(parse_token_request(FORM, None, bad_resource)),
            "invalid_target"
        );
    }
}

#[cfg(test)]
mod fuzz_tests;
