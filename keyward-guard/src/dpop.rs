//! DPoP-bound tokens at a resource server (RFC 9449 §7). A token bound to
//! a key (`cnf.jkt`) passes only as `Authorization: DPoP <token>` with a
//! `DPoP` proof that the key signed for this request; it is refused as a
//! Bearer token, and an unbound token is refused under the DPoP scheme.
//! Refusals under the DPoP scheme carry its challenge.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::dpop_proof::{Expected, ProofChecker};
use crate::{Claims, Credential, Denial};

/// What of an HTTP request a credential is checked against besides the
/// credential: a DPoP proof names the method and URL; an API key with an
/// IP allowlist needs the caller's address.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestParts<'a> {
    /// The request's method, such as `GET`.
    pub method: &'a str,
    /// The request's path as the client called it (without the query):
    /// the proof's `htu` must be the guard's public URL followed by it.
    pub path: &'a str,
    /// Every `DPoP` header value of the request; exactly one is accepted.
    pub proofs: &'a [&'a str],
    /// The caller's address, where the application knows it.
    pub client_ip: Option<IpAddr>,
}

/// The binding rule of RFC 9449 §7, with the proofs' `jti`s seen so far;
/// the guard holds one. Exposed for checks that learn a token's `cnf.jkt`
/// another way (introspection).
pub struct DpopBinding {
    public_url: String,
    proofs: ProofChecker,
}

impl DpopBinding {
    /// For an API that clients call at `public_url`, such as
    /// `https://api.example.test`.
    pub fn new(public_url: &str) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
            proofs: ProofChecker::new(100_000),
        }
    }

    /// Whether a token bound to `jkt` (`None`: unbound) may be used as
    /// `presented` in `request`: a bound one only under the DPoP scheme
    /// with its proof, an unbound one only as Bearer.
    pub fn check(
        &self,
        presented: Credential<'_>,
        jkt: Option<&str>,
        request: &RequestParts<'_>,
    ) -> Result<(), Denial> {
        match (presented, jkt) {
            (Credential::DpopToken(token), Some(jkt)) => self
                .check_proof(token, jkt, request)
                .map_err(Denial::under_dpop),
            (Credential::DpopToken(_), None) => Err(Denial::under_dpop(Denial::InvalidToken(
                "the token is not DPoP-bound: send it as a Bearer token",
            ))),
            (_, Some(_)) => Err(Denial::InvalidToken(
                "the token is DPoP-bound: send it with the DPoP scheme and a proof",
            )),
            (_, None) => Ok(()),
        }
    }

    fn check_proof(
        &self,
        token: &str,
        jkt: &str,
        request: &RequestParts<'_>,
    ) -> Result<(), Denial> {
        let [proof] = request.proofs else {
            return Err(Denial::InvalidDpopProof("send exactly one DPoP proof"));
        };
        let url = format!("{}{}", self.public_url, request.path);
        let expected = Expected {
            method: request.method,
            url: &url,
            token,
            jkt,
        };
        self.proofs
            .check(proof, &expected, unix_now())
            .map_err(Denial::InvalidDpopProof)
    }
}

/// The thumbprint of the key the token is bound to, if it is.
pub(crate) fn bound_key(claims: &Claims) -> Option<&str> {
    claims.cnf.as_ref().map(|cnf| cnf.jkt.as_str())
}

fn unix_now() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH);
    now.map_or(0, |d| d.as_secs() as i64)
}
