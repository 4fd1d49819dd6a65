//! Why a request is refused, and its RFC 6750 §3 answer: the status, the
//! `WWW-Authenticate` challenge and a JSON body. The web adapters only copy
//! these out. No answer echoes the credential.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// No credential in any accepted header.
    #[error("no credential")]
    MissingCredential,
    #[error("{0}")]
    InvalidToken(&'static str),
    #[error("the token lacks the required scope")]
    InsufficientScope { required: String, actual: String },
    /// The API key is over its rate limit; `headers` are Keyward's
    /// `Retry-After` and rate-limit headers, passed on as they came.
    #[error("the API key is over its rate limit")]
    RateLimited { headers: Vec<(String, String)> },
    /// Keyward could not be asked (the cause is logged where it happened):
    /// not the caller's fault, so not a 401.
    #[error("the authorization server could not be reached")]
    Unavailable,
}

/// The JSON body of a refusal.
#[derive(Debug, Serialize)]
pub struct DenialBody {
    pub error: &'static str,
    pub error_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
}

impl Denial {
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingCredential | Self::InvalidToken(_) => 401,
            Self::InsufficientScope { .. } => 403,
            Self::RateLimited { .. } => 429,
            Self::Unavailable => 503,
        }
    }

    /// The RFC 6750 error code, if the answer carries one.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            // RFC 6750 §3.1: no error code when the request carried no credential.
            Self::MissingCredential => None,
            Self::InvalidToken(_) => Some("invalid_token"),
            Self::InsufficientScope { .. } => Some("insufficient_scope"),
            Self::RateLimited { .. } => Some("rate_limited"),
            Self::Unavailable => Some("temporarily_unavailable"),
        }
    }

    /// Headers the answer carries besides the challenge: a 429's
    /// `Retry-After` and rate-limit headers.
    pub fn headers(&self) -> &[(String, String)] {
        match self {
            Self::RateLimited { headers } => headers,
            _ => &[],
        }
    }

    /// The `WWW-Authenticate` value; a 429 or a 503 has none.
    pub fn challenge(&self, realm: Option<&str>) -> Option<String> {
        let mut params = Vec::new();
        if let Some(realm) = realm {
            params.push(format!(r#"realm="{realm}""#));
        }
        match self {
            Self::MissingCredential => {}
            Self::InvalidToken(description) => {
                params.push(r#"error="invalid_token""#.to_owned());
                params.push(format!(r#"error_description="{description}""#));
            }
            Self::InsufficientScope { required, .. } => {
                params.push(r#"error="insufficient_scope""#.to_owned());
                params.push(format!(r#"scope="{required}""#));
            }
            Self::RateLimited { .. } | Self::Unavailable => return None,
        }
        Some(match params.is_empty() {
            true => "Bearer".to_owned(),
            false => format!("Bearer {}", params.join(", ")),
        })
    }

    /// The JSON body; a request without a credential gets an empty one.
    pub fn body(&self) -> Option<DenialBody> {
        let error = self.error_code()?;
        let (required, actual) = match self {
            Self::InsufficientScope { required, actual } => {
                (Some(required.clone()), Some(actual.clone()))
            }
            _ => (None, None),
        };
        Some(DenialBody {
            error,
            error_description: self.to_string(),
            required,
            actual,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn without_a_credential_the_challenge_is_bare() {
        let denial = Denial::MissingCredential;
        assert_eq!(denial.status(), 401);
        assert_eq!(denial.challenge(None).unwrap(), "Bearer");
        assert_eq!(
            denial.challenge(Some("api")).unwrap(),
            r#"Bearer realm="api""#
        );
        assert!(denial.body().is_none());
    }

    #[test]
    fn an_invalid_token_is_a_401_with_its_description() {
        let denial = Denial::InvalidToken("the token has expired");
        assert_eq!(denial.status(), 401);
        assert_eq!(
            denial.challenge(None).unwrap(),
            r#"Bearer error="invalid_token", error_description="the token has expired""#
        );
        assert_eq!(
            serde_json::to_value(denial.body()).unwrap(),
            json!({"error": "invalid_token", "error_description": "the token has expired"})
        );
    }

    #[test]
    fn insufficient_scope_is_a_403_naming_required_and_actual() {
        let denial = Denial::InsufficientScope {
            required: "payouts:read".into(),
            actual: "wallets:read".into(),
        };
        assert_eq!(denial.status(), 403);
        assert_eq!(
            denial.challenge(Some("example")).unwrap(),
            r#"Bearer realm="example", error="insufficient_scope", scope="payouts:read""#
        );
        assert_eq!(
            serde_json::to_value(denial.body()).unwrap(),
            json!({
                "error": "insufficient_scope",
                "error_description": "the token lacks the required scope",
                "required": "payouts:read",
                "actual": "wallets:read",
            })
        );
    }

    #[test]
    fn unavailable_is_a_503_without_a_challenge() {
        assert_eq!(Denial::Unavailable.status(), 503);
        assert_eq!(Denial::Unavailable.challenge(Some("x")), None);
        assert_eq!(
            Denial::Unavailable.body().unwrap().error,
            "temporarily_unavailable"
        );
    }

    #[test]
    fn rate_limited_is_a_429_with_keywards_headers() {
        let headers = vec![("retry-after".to_owned(), "12".to_owned())];
        let denial = Denial::RateLimited {
            headers: headers.clone(),
        };
        assert_eq!(denial.status(), 429);
        assert_eq!(denial.challenge(Some("x")), None);
        assert_eq!(denial.headers(), headers.as_slice());
        assert_eq!(denial.body().unwrap().error, "rate_limited");
    }
}
