//! Why a request is refused, and its RFC 6750 §3 answer: the status, the
//! `WWW-Authenticate` challenge and a JSON body. The web adapters only copy
//! these out. No answer echoes the credential. Refusals of a request made
//! under the DPoP scheme challenge under it (RFC 9449 §7.1).

use serde::Serialize;

use crate::dpop_proof::PROOF_ALGS;

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
    /// The DPoP proof is missing or does not hold.
    #[error("{0}")]
    InvalidDpopProof(&'static str),
    /// A refusal of a request made under the DPoP scheme.
    #[error(transparent)]
    UnderDpop(Box<Denial>),
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
    /// `denial`, answered under the DPoP scheme.
    pub fn under_dpop(denial: Denial) -> Self {
        match denial {
            Self::UnderDpop(_) => denial,
            other => Self::UnderDpop(Box::new(other)),
        }
    }

    /// The refusal itself, whichever scheme it is answered under.
    fn reason(&self) -> &Self {
        match self {
            Self::UnderDpop(inner) => inner,
            other => other,
        }
    }

    pub fn status(&self) -> u16 {
        match self.reason() {
            Self::MissingCredential | Self::InvalidToken(_) | Self::InvalidDpopProof(_) => 401,
            Self::InsufficientScope { .. } => 403,
            Self::RateLimited { .. } => 429,
            Self::Unavailable | Self::UnderDpop(_) => 503,
        }
    }

    /// The RFC 6750 error code, if the answer carries one.
    pub fn error_code(&self) -> Option<&'static str> {
        match self.reason() {
            // RFC 6750 §3.1: no error code when the request carried no credential.
            Self::MissingCredential => None,
            Self::InvalidToken(_) => Some("invalid_token"),
            Self::InsufficientScope { .. } => Some("insufficient_scope"),
            Self::RateLimited { .. } => Some("rate_limited"),
            Self::InvalidDpopProof(_) => Some("invalid_dpop_proof"),
            Self::Unavailable | Self::UnderDpop(_) => Some("temporarily_unavailable"),
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
        if let Some(error) = self.error_code() {
            params.push(format!(r#"error="{error}""#));
        }
        match self.reason() {
            Self::InvalidToken(description) | Self::InvalidDpopProof(description) => {
                params.push(format!(r#"error_description="{description}""#));
            }
            Self::InsufficientScope { required, .. } => {
                params.push(format!(r#"scope="{required}""#))
            }
            Self::RateLimited { .. } | Self::Unavailable | Self::UnderDpop(_) => return None,
            Self::MissingCredential => {}
        }
        let scheme = match self {
            Self::UnderDpop(_) | Self::InvalidDpopProof(_) => {
                params.push(format!(r#"algs="{PROOF_ALGS}""#));
                "DPoP"
            }
            _ => "Bearer",
        };
        Some(match params.is_empty() {
            true => scheme.to_owned(),
            false => format!("{scheme} {}", params.join(", ")),
        })
    }

    /// The JSON body; a request without a credential gets an empty one.
    pub fn body(&self) -> Option<DenialBody> {
        let error = self.error_code()?;
        let (required, actual) = match self.reason() {
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
    fn refusals_under_dpop_challenge_with_its_scheme_and_algs() {
        let token = Denial::under_dpop(Denial::InvalidToken("the token has expired"));
        assert_eq!(token.status(), 401);
        assert_eq!(
            token.challenge(Some("api")).unwrap(),
            r#"DPoP realm="api", error="invalid_token", error_description="the token has expired", algs="ES256 EdDSA RS256 PS256""#
        );
        assert_eq!(
            serde_json::to_value(token.body()).unwrap(),
            json!({"error": "invalid_token", "error_description": "the token has expired"})
        );
        let proof = Denial::under_dpop(Denial::InvalidDpopProof("the DPoP proof was used before"));
        assert_eq!(proof.status(), 401);
        assert_eq!(
            proof.challenge(None).unwrap(),
            r#"DPoP error="invalid_dpop_proof", error_description="the DPoP proof was used before", algs="ES256 EdDSA RS256 PS256""#
        );
        let scope = Denial::under_dpop(Denial::InsufficientScope {
            required: "payouts:read".into(),
            actual: "".into(),
        });
        assert_eq!(scope.status(), 403);
        assert!(scope
            .challenge(None)
            .unwrap()
            .starts_with(r#"DPoP error="insufficient_scope", scope="payouts:read""#));
        assert_eq!(
            Denial::under_dpop(Denial::Unavailable).challenge(None),
            None
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
