//! The `DPoP` header of a token request (RFC 9449 §4) and the errors of
//! its proof (§5, §8).

use actix_web::HttpRequest;

use crate::error::{OAuthError, OAuthErrorCode};
use crate::services::dpop::{DpopProofs, DpopRefusal, UnverifiedProof};

const DPOP: &str = "DPoP";

/// The request's proof, checked but for its signature and not yet
/// recorded as used; `None` without a `DPoP` header.
pub fn checked_proof<'a>(
    req: &'a HttpRequest,
    proofs: &DpopProofs,
    now: i64,
) -> Result<Option<UnverifiedProof<'a>>, OAuthError> {
    let mut headers = req.headers().get_all(DPOP);
    let Some(first) = headers.next() else {
        return Ok(None);
    };
    if headers.next().is_some() {
        return Err(refused(DpopRefusal::Several, proofs, now));
    }
    let text = first.to_str().unwrap_or_default();
    proofs
        .check(text, now)
        .map(Some)
        .map_err(|refusal| refused(refusal, proofs, now))
}

/// The error for a refused proof, with a fresh nonce when nonces are
/// required, so the client can sign again at once.
pub fn refused(refusal: DpopRefusal, proofs: &DpopProofs, now: i64) -> OAuthError {
    let code = match refusal {
        DpopRefusal::NonceRequired => OAuthErrorCode::UseDpopNonce,
        _ => OAuthErrorCode::InvalidDpopProof,
    };
    let mut error = OAuthError::new(code, refusal.to_string());
    error.dpop_nonce = proofs.nonce(now);
    error
}
