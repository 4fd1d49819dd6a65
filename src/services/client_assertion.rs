//! The checks of a `private_key_jwt` client assertion (RFC 7523 §2.2 and
//! §3) after its signature has verified with one of the client's keys:
//! who issued it, for whom, when, and its `jti`.

use serde::Deserialize;

use crate::crypto::foreign_jws::numeric_date;

/// `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How far ahead an assertion may expire.
pub const MAX_LIFETIME_SECONDS: i64 = 300;
/// How far our clock and the client's may disagree.
pub const LEEWAY_SECONDS: i64 = 60;
const MAX_JTI_LEN: usize = 256;

#[derive(Debug, Deserialize)]
pub struct AssertionClaims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    #[serde(default, deserialize_with = "crate::crypto::jwt::one_or_many")]
    pub aud: Vec<String>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub exp: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub iat: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub nbf: Option<i64>,
    pub jti: Option<String>,
}

/// Why a signed assertion is refused; the text is the error description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionRefusal {
    #[error("the client assertion needs iss and sub, both the client_id")]
    IssuerNotSubject,
    #[error(
        "the client assertion's aud must be the issuer {0} or the token endpoint {0}/oauth/token"
    )]
    WrongAudience(String),
    #[error("the client assertion needs exp")]
    NoExpiry,
    #[error("the client assertion has expired")]
    Expired,
    #[error("the client assertion may expire at most {MAX_LIFETIME_SECONDS} s ahead")]
    TooLongLived,
    #[error("the client assertion is not valid yet (nbf or iat in the future)")]
    NotYetValid,
    #[error("the client assertion needs a jti of 1 to {MAX_JTI_LEN} characters")]
    NoJti,
    #[error("the client assertion was used before: each jti is good once")]
    Replayed,
}

/// What an accepted assertion leaves to remember: its `jti`, until it
/// expires.
#[derive(Debug)]
pub struct OneTimeUse {
    pub jti: String,
    pub expires_at: i64,
}

pub struct AssertionRules {
    issuer: String,
    token_endpoint: String,
}

impl AssertionRules {
    pub fn new(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            token_endpoint: format!("{issuer}/oauth/token"),
        }
    }

    /// Checks the claims of an assertion that `client_id` signed.
    pub fn check(
        &self,
        claims: AssertionClaims,
        client_id: &str,
        now: i64,
    ) -> Result<OneTimeUse, AssertionRefusal> {
        let from_client = |claim: &Option<String>| claim.as_deref() == Some(client_id);
        if !from_client(&claims.iss) || !from_client(&claims.sub) {
            return Err(AssertionRefusal::IssuerNotSubject);
        }
        let for_us = claims
            .aud
            .iter()
            .any(|aud| *aud == self.issuer || *aud == self.token_endpoint);
        if !for_us {
            return Err(AssertionRefusal::WrongAudience(self.issuer.clone()));
        }
        let expires_at = claims.exp.ok_or(AssertionRefusal::NoExpiry)?;
        if expires_at <= now - LEEWAY_SECONDS {
            return Err(AssertionRefusal::Expired);
        }
        if expires_at > now + MAX_LIFETIME_SECONDS + LEEWAY_SECONDS {
            return Err(AssertionRefusal::TooLongLived);
        }
        let future = |at: Option<i64>| at.is_some_and(|at| at > now + LEEWAY_SECONDS);
        if future(claims.nbf) || future(claims.iat) {
            return Err(AssertionRefusal::NotYetValid);
        }
        let jti = claims
            .jti
            .filter(|jti| (1..=MAX_JTI_LEN).contains(&jti.len()))
            .ok_or(AssertionRefusal::NoJti)?;
        Ok(OneTimeUse {
            jti,
            // Remembered past its expiry by the leeway it is accepted with.
            expires_at: expires_at + LEEWAY_SECONDS,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const ISSUER: &str = "https://auth.example.test";

    fn claims() -> AssertionClaims {
        AssertionClaims {
            iss: Some("cl_a".into()),
            sub: Some("cl_a".into()),
            aud: vec![format!("{ISSUER}/oauth/token")],
            exp: Some(NOW + 60),
            iat: Some(NOW),
            nbf: None,
            jti: Some("j1".into()),
        }
    }

    fn check(claims: AssertionClaims) -> Result<OneTimeUse, AssertionRefusal> {
        AssertionRules::new(ISSUER).check(claims, "cl_a", NOW)
    }

    #[test]
    fn a_good_assertion_names_its_jti_and_when_to_forget_it() {
        let used = check(claims()).unwrap();
        assert_eq!((used.jti.as_str(), used.expires_at), ("j1", NOW + 120));
        let to_issuer = AssertionClaims {
            aud: vec!["https://other.test".into(), ISSUER.into()],
            ..claims()
        };
        assert!(check(to_issuer).is_ok());
    }

    #[test]
    fn each_claim_is_checked() {
        use AssertionRefusal::*;
        let cases = [
            (
                AssertionClaims {
                    iss: Some("cl_b".into()),
                    ..claims()
                },
                IssuerNotSubject,
            ),
            (
                AssertionClaims {
                    sub: None,
                    ..claims()
                },
                IssuerNotSubject,
            ),
            (
                AssertionClaims {
                    aud: vec!["https://evil.test".into()],
                    ..claims()
                },
                WrongAudience(ISSUER.into()),
            ),
            (
                AssertionClaims {
                    aud: vec![],
                    ..claims()
                },
                WrongAudience(ISSUER.into()),
            ),
            (
                AssertionClaims {
                    exp: None,
                    ..claims()
                },
                NoExpiry,
            ),
            (
                AssertionClaims {
                    exp: Some(NOW - 61),
                    ..claims()
                },
                Expired,
            ),
            (
                AssertionClaims {
                    exp: Some(NOW + 361),
                    ..claims()
                },
                TooLongLived,
            ),
            (
                AssertionClaims {
                    nbf: Some(NOW + 61),
                    ..claims()
                },
                NotYetValid,
            ),
            (
                AssertionClaims {
                    iat: Some(NOW + 61),
                    ..claims()
                },
                NotYetValid,
            ),
            (
                AssertionClaims {
                    jti: None,
                    ..claims()
                },
                NoJti,
            ),
            (
                AssertionClaims {
                    jti: Some(String::new()),
                    ..claims()
                },
                NoJti,
            ),
            (
                AssertionClaims {
                    jti: Some("j".repeat(257)),
                    ..claims()
                },
                NoJti,
            ),
        ];
        for (claims, refusal) in cases {
            assert_eq!(check(claims).unwrap_err(), refusal);
        }
        // Within the leeway, both ways.
        assert!(check(AssertionClaims {
            exp: Some(NOW - 59),
            ..claims()
        })
        .is_ok());
        assert!(check(AssertionClaims {
            exp: Some(NOW + 359),
            iat: Some(NOW + 59),
            ..claims()
        })
        .is_ok());
    }
}
