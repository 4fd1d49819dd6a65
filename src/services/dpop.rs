//! DPoP proofs (RFC 9449 §4) at the token endpoint: a JWS of type
//! `dpop+jwt` that the client signs with the key in its `jwk` header, for
//! this request (`htm`, `htu`), recently (`iat`), once (`jti`) and, when
//! the server asks for them, with a nonce we handed out. An accepted proof
//! binds the token to the key's RFC 7638 thumbprint (`cnf.jkt`).

use std::sync::Arc;

use serde::Deserialize;

use super::one_time_values::OneTimeValues;
use crate::crypto::dpop_nonce::DpopNonces;
use crate::crypto::foreign_jws::{numeric_date, ForeignJws, JwsError};
use crate::domain::PublicJwk;
use crate::storage::StorageError;

pub const PROOF_TYPE: &str = "dpop+jwt";
/// How long after its `iat` a proof is accepted.
pub const MAX_AGE_SECONDS: i64 = 300;
/// How far ahead of our clock a proof's `iat` may be.
pub const LEEWAY_SECONDS: i64 = 60;
const MAX_JTI_LEN: usize = 256;

#[derive(Debug, Deserialize)]
struct ProofClaims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    #[serde(default, deserialize_with = "numeric_date")]
    iat: Option<i64>,
    nonce: Option<String>,
}

/// Why a proof is refused; the text is the error description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopRefusal {
    #[error("the DPoP proof is refused: {0}")]
    Malformed(JwsError),
    #[error("the DPoP proof's typ must be {PROOF_TYPE}")]
    WrongType,
    #[error("the DPoP proof needs the public key it is signed with in its jwk header: {0}")]
    BadKey(String),
    #[error("the DPoP proof's signature does not verify with its jwk")]
    BadSignature,
    #[error("the DPoP proof needs jti (1 to {MAX_JTI_LEN} characters), htm, htu and iat")]
    MissingClaim,
    #[error("the DPoP proof's htm must be POST")]
    WrongMethod,
    #[error("the DPoP proof's htu must be {0}")]
    WrongUrl(String),
    #[error(
        "the DPoP proof's iat must be within the last {MAX_AGE_SECONDS} s \
         (and at most {LEEWAY_SECONDS} s ahead)"
    )]
    OutOfWindow,
    #[error("a DPoP nonce is required: sign the proof again with the DPoP-Nonce header's value")]
    NonceRequired,
    #[error("the DPoP proof was used before: each jti is good once")]
    Replayed,
    #[error("only one DPoP header is allowed")]
    Several,
    #[error("this client must send a DPoP proof (it is registered with dpop_bound_access_tokens)")]
    Required,
}

/// A proof whose form, key, request, time and nonce checked out; its
/// signature is checked by `verify` once the client has authenticated, so
/// a stranger's proof costs no signature check, and a proof refused for
/// its nonce leaves the client's assertion unused for the retry.
#[derive(Debug)]
pub struct UnverifiedProof<'a> {
    jws: ForeignJws<'a>,
    key: PublicJwk,
    checked: CheckedProof,
}

impl UnverifiedProof<'_> {
    pub fn verify(self) -> Result<CheckedProof, DpopRefusal> {
        match self.jws.verify(&self.key) {
            true => Ok(self.checked),
            false => Err(DpopRefusal::BadSignature),
        }
    }
}

/// A proof that checked out, not yet recorded as used.
#[derive(Debug)]
pub struct CheckedProof {
    /// The thumbprint of the key that signed it: the token's `cnf.jkt`.
    pub jkt: String,
    jti: String,
    remember_until: i64,
}

pub struct DpopProofs {
    token_endpoint: url::Url,
    nonces: Option<DpopNonces>,
    one_time: Arc<OneTimeValues>,
}

impl DpopProofs {
    /// Proofs for `{issuer}/oauth/token`; with `nonces`, each must carry
    /// a nonce of ours.
    pub fn new(issuer: &str, nonces: Option<DpopNonces>, one_time: Arc<OneTimeValues>) -> Self {
        let token_endpoint =
            url::Url::parse(&format!("{issuer}/oauth/token")).expect("the issuer is a URL");
        Self {
            token_endpoint,
            nonces,
            one_time,
        }
    }

    /// The nonce to send in `DPoP-Nonce`, when nonces are required.
    pub fn nonce(&self, now: i64) -> Option<String> {
        self.nonces.as_ref().map(|n| n.current(now))
    }

    /// Everything about a proof that needs neither its signature nor a
    /// record: its form, key, request, time and nonce.
    pub fn check<'a>(&self, proof: &'a str, now: i64) -> Result<UnverifiedProof<'a>, DpopRefusal> {
        let jws = ForeignJws::parse(proof).map_err(DpopRefusal::Malformed)?;
        let typed = jws.header.typ.as_deref();
        if !typed.is_some_and(|typ| typ.eq_ignore_ascii_case(PROOF_TYPE)) {
            return Err(DpopRefusal::WrongType);
        }
        let jwk = jws
            .header
            .jwk
            .as_ref()
            .ok_or_else(|| DpopRefusal::BadKey("there is none".into()))?;
        let key = PublicJwk::from_json(jwk).map_err(|e| DpopRefusal::BadKey(e.to_string()))?;
        if !key.accepts(jws.alg) {
            return Err(DpopRefusal::BadSignature);
        }
        let claims: ProofClaims = jws.claims().map_err(DpopRefusal::Malformed)?;
        let (Some(jti), Some(htm), Some(htu), Some(iat)) =
            (claims.jti, claims.htm, claims.htu, claims.iat)
        else {
            return Err(DpopRefusal::MissingClaim);
        };
        if !(1..=MAX_JTI_LEN).contains(&jti.len()) {
            return Err(DpopRefusal::MissingClaim);
        }
        if htm != "POST" {
            return Err(DpopRefusal::WrongMethod);
        }
        if !self.is_token_endpoint(&htu) {
            return Err(DpopRefusal::WrongUrl(self.token_endpoint.to_string()));
        }
        if iat < now - MAX_AGE_SECONDS || iat > now + LEEWAY_SECONDS {
            return Err(DpopRefusal::OutOfWindow);
        }
        if let Some(nonces) = &self.nonces {
            if !claims.nonce.is_some_and(|n| nonces.accepts(&n, now)) {
                return Err(DpopRefusal::NonceRequired);
            }
        }
        let checked = CheckedProof {
            jkt: key.thumbprint().to_owned(),
            jti,
            remember_until: iat + MAX_AGE_SECONDS + 1,
        };
        Ok(UnverifiedProof { jws, key, checked })
    }

    /// Records the proof's `jti` for its key, on every replica: whether
    /// this is its first use anywhere.
    pub async fn first_use(&self, proof: &CheckedProof) -> Result<bool, StorageError> {
        let scope = format!("dpop:{}", proof.jkt);
        self.one_time
            .first_use(&scope, &proof.jti, proof.remember_until)
            .await
    }

    /// `htu` without its query and fragment (RFC 9449 §4.3), compared as
    /// parsed URLs, so `HTTPS://Host:443/oauth/token` matches too.
    fn is_token_endpoint(&self, htu: &str) -> bool {
        htu == self.token_endpoint.as_str()
            || url::Url::parse(htu).is_ok_and(|mut url| {
                url.set_query(None);
                url.set_fragment(None);
                url == self.token_endpoint
            })
    }
}
