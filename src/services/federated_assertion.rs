//! The checks of a platform token presented as a client assertion
//! (workload identity federation), after its signature has verified with a
//! key of the trusted issuer it names: for whom, when, and once.

use serde_json::Value;

use crate::domain::TrustedIssuer;

/// How far ahead a platform token may expire: Kubernetes' default
/// projected token lives an hour.
pub const MAX_LIFETIME_SECONDS: i64 = 3600;
/// How far our clock and the platform's may disagree.
pub const LEEWAY_SECONDS: i64 = 60;

/// Why a verified platform token is refused; the text is the error
/// description, which names no binding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FederationRefusal {
    #[error(
        "client_id is required with a platform token: its sub names the workload, not the client"
    )]
    NoClientId,
    #[error("the platform token's key (kid {0}) is not among its issuer's keys")]
    UnknownKey(String),
    #[error("the platform token's signature does not verify with its issuer's keys")]
    BadSignature,
    #[error("the platform token's aud must include {0}")]
    WrongAudience(String),
    #[error("the platform token needs exp")]
    NoExpiry,
    #[error("the platform token has expired")]
    Expired,
    #[error("the platform token may expire at most {MAX_LIFETIME_SECONDS} s ahead")]
    TooLongLived,
    #[error("the platform token is not valid yet (nbf or iat in the future)")]
    NotYetValid,
    #[error("the platform token needs a sub")]
    NoSubject,
    #[error(
        "no federated subject of this client matches the platform token (issuer, sub and claims)"
    )]
    NoMatch,
    #[error("the platform token was used before: each is good for one token request")]
    Replayed,
}

/// A checked token: its subject, and what to record as used until when.
#[derive(Debug)]
pub struct CheckedPlatformToken {
    pub subject: String,
    /// Its `jti`, or without one the token itself: either way it signs in
    /// once.
    pub once: String,
    pub remember_until: i64,
}

pub struct FederationRules {
    keyward_issuer: String,
}

impl FederationRules {
    pub fn new(keyward_issuer: &str) -> Self {
        Self {
            keyward_issuer: keyward_issuer.to_owned(),
        }
    }

    /// The claim checks of `token`, whose `claims` verified as `issuer`'s.
    pub fn check(
        &self,
        issuer: &TrustedIssuer,
        token: &str,
        claims: &Value,
        now: i64,
    ) -> Result<CheckedPlatformToken, FederationRefusal> {
        let audience = issuer.audience.as_deref().unwrap_or(&self.keyward_issuer);
        let for_us = match &claims["aud"] {
            Value::String(aud) => aud == audience,
            Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !for_us {
            return Err(FederationRefusal::WrongAudience(audience.to_owned()));
        }
        let date = |name: &str| claims[name].as_f64().map(|f| f as i64);
        let expires_at = date("exp").ok_or(FederationRefusal::NoExpiry)?;
        if expires_at <= now - LEEWAY_SECONDS {
            return Err(FederationRefusal::Expired);
        }
        if expires_at > now + MAX_LIFETIME_SECONDS + LEEWAY_SECONDS {
            return Err(FederationRefusal::TooLongLived);
        }
        let future = |at: Option<i64>| at.is_some_and(|at| at > now + LEEWAY_SECONDS);
        if future(date("nbf")) || future(date("iat")) {
            return Err(FederationRefusal::NotYetValid);
        }
        let subject = claims["sub"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or(FederationRefusal::NoSubject)?;
        let once = match claims["jti"].as_str() {
            Some(jti) if (1..=256).contains(&jti.len()) => jti,
            _ => token,
        };
        Ok(CheckedPlatformToken {
            subject: subject.to_owned(),
            once: once.to_owned(),
            remember_until: expires_at + LEEWAY_SECONDS,
        })
    }
}
