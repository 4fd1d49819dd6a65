//! RFC 9068 §4: the offline checks of a Keyward access token. The key named
//! by `kid` decides the algorithm; `typ`, signature, `iss`, `aud`, `exp`
//! and `nbf` (with a leeway) follow. Verified tokens are remembered until
//! they expire (see `token_cache`).

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, Validation};

use crate::jwks::{KeySet, ALGORITHMS};
use crate::token_cache::{self, Verified, VerifiedTokens};
use crate::{Claims, Denial};

pub struct Verifier {
    pub issuer: String,
    pub audience: String,
    pub leeway: Duration,
    pub keys: KeySet,
    pub verified: VerifiedTokens,
}

impl Verifier {
    pub async fn verify(&self, token: &str) -> Result<Claims, Denial> {
        let digest = token_cache::digest(token);
        // Past the keys' age, the full check below refetches them.
        if let Some(hit) = self.verified.get(&digest) {
            if self.keys.is_current(hit.generation) {
                return Ok(hit.claims.clone());
            }
        }
        let verified = self.verify_signed(token).await?;
        let claims = verified.claims.clone();
        self.verified.insert(digest, verified);
        Ok(claims)
    }

    async fn verify_signed(&self, token: &str) -> Result<Verified, Denial> {
        let header =
            decode_header(token).map_err(|_| Denial::InvalidToken("the token is malformed"))?;
        let typ = header
            .typ
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if typ != "at+jwt" && typ != "application/at+jwt" {
            return Err(Denial::InvalidToken("the token is not an access token"));
        }
        if !ALGORITHMS.contains(&header.alg) {
            return Err(Denial::InvalidToken("the token's algorithm is not allowed"));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or(Denial::InvalidToken("the token names no key"))?;
        let held = self.keys.key(kid).await?;
        let alg = held.alg;
        if header.alg != alg {
            return Err(Denial::InvalidToken(
                "the token's algorithm is not its key's",
            ));
        }
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway.as_secs();
        let data = decode::<Claims>(token, &held.key, &validation).map_err(|e| {
            Denial::InvalidToken(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidAudience => "the token is not for this audience",
                ErrorKind::InvalidIssuer => "the token has another issuer",
                _ => "the token is not valid",
            })
        })?;
        Ok(Verified {
            claims: data.claims,
            generation: held.generation,
        })
    }
}
